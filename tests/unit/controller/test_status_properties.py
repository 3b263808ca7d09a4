"""Properties of compute_status over arbitrary observations."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from locust_operator.api.status import CONDITION_REASON_PATTERN
from locust_operator.controller.status import Observed, compute_status, status_changed
from locust_operator.controller.transitions import transition_events
from tests.unit.controller.builders import (
    GRACE,
    NOW,
    container,
    job,
    pod,
    service,
    worker_job,
    worker_pod,
)

_AGES = st.sampled_from([timedelta(seconds=s) for s in (0, 5, 60, 119, 120, 600)])
_CONTAINERS = st.sampled_from(
    [
        None,
        [container()],
        [container(waiting="ErrImagePull")],
        [container(waiting="CrashLoopBackOff")],
        [container(waiting="CreateContainerConfigError", message='configmap "a" not found')],
        [container(waiting="ContainerCreating")],
        [container(exit_code=1)],
        [container(exit_code=0)],
    ]
)
_PHASES = st.sampled_from(["Pending", "Running", "Succeeded", "Failed"])
_MASTER_JOBS = st.sampled_from(
    [
        None,
        job(),
        job(active=1),
        job(active=1, ready=1),
        job(conditions=("Complete",)),
        job(conditions=("Failed",)),
        job(conditions=("SuccessCriteriaMet",)),
    ]
)


@st.composite
def pods(draw: st.DrawFn) -> Any:
    role = draw(st.sampled_from([pod, worker_pod]))
    index = draw(st.integers(0, 3))
    name = f"demo-{'master' if role is pod else 'worker'}-{index}"
    return role(
        name,
        created=NOW - draw(_AGES),
        phase=draw(_PHASES),
        containers=draw(_CONTAINERS),
        unschedulable=draw(st.sampled_from([None, "0/1 nodes are available"])),
        deleting=draw(st.booleans()),
    )


@st.composite
def observations(draw: st.DrawFn) -> Observed:
    generation = draw(st.integers(1, 4))
    has_children = draw(st.booleans())
    workers = draw(st.integers(1, 4))
    return Observed(
        generation=generation,
        built_from_generation=draw(st.integers(1, generation)) if has_children else None,
        expected_workers=workers,
        service=service() if has_children and draw(st.booleans()) else None,
        master_job=draw(_MASTER_JOBS) if has_children else None,
        worker_job=worker_job(draw(st.integers(0, workers + 1))) if has_children else None,
        pods=draw(st.lists(pods(), max_size=4)) if has_children else [],
        missing_config_maps=draw(st.sampled_from([(), ("a",), ("a", "b")])),
        creation_error=draw(st.sampled_from([None, "creating Job demo-master failed: quota"])),
        recreated=draw(st.sampled_from([(), ("demo-worker",)])),
    )


@st.composite
def previous_statuses(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    status = compute_status(None, draw(observations()), NOW - timedelta(minutes=30), GRACE).status
    status["phase"] = draw(_PHASES)
    return status


@settings(max_examples=300, deadline=None)
@given(previous_statuses(), observations())
def test_recomputing_from_its_own_output_is_a_fixed_point(
    previous: dict[str, Any] | None, observed: Observed
) -> None:
    first = compute_status(previous, observed, NOW, GRACE).status
    again = compute_status(first, observed, NOW, GRACE).status
    assert again == first
    assert not status_changed(first, again)
    assert transition_events(first, again, ()) == []


@settings(max_examples=200, deadline=None)
@given(previous_statuses(), observations())
def test_past_the_grace_period_time_alone_changes_nothing(
    previous: dict[str, Any] | None, observed: Observed
) -> None:
    first = compute_status(previous, observed, NOW + timedelta(hours=1), GRACE)
    later = compute_status(first.status, observed, NOW + timedelta(hours=2), GRACE)
    assert not status_changed(first.status, later.status)
    assert first.requeue_after is None


@settings(max_examples=200, deadline=None)
@given(previous_statuses(), observations())
def test_status_is_well_formed(previous: dict[str, Any] | None, observed: Observed) -> None:
    result = compute_status(previous, observed, NOW, GRACE)
    status = result.status
    assert status["phase"] in ("Pending", "Running", "Succeeded", "Failed")
    assert status["observedGeneration"] == observed.generation
    types = [c["type"] for c in status["conditions"]]
    assert len(types) == len(set(types))
    for condition in status["conditions"]:
        assert condition["status"] in ("True", "False", "Unknown")
        assert re.fullmatch(CONDITION_REASON_PATTERN, condition["reason"])
    if result.requeue_after is not None:
        assert 0 < result.requeue_after <= GRACE.total_seconds()
    if previous and previous.get("phase") in ("Succeeded", "Failed"):
        assert status["phase"] == previous["phase"]
