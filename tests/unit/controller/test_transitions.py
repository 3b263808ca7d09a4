"""Event intents: one per transition, none when nothing changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from locust_operator.controller.status import Observed, compute_status
from locust_operator.controller.transitions import (
    ChildRef,
    EventIntent,
    creation_events,
    transition_events,
)
from tests.unit.controller.builders import (
    GRACE,
    NOW,
    container,
    job,
    just_created,
    nothing,
    pod,
    running,
    worker_pod,
)


def step(previous: dict[str, Any] | None, observed: Observed, seconds: int = 0) -> dict[str, Any]:
    return compute_status(previous, observed, NOW + timedelta(seconds=seconds), GRACE).status


def reasons(intents: list[EventIntent]) -> list[str]:
    return [intent.reason for intent in intents]


def crash_looping(name: str = "demo-worker-1", message: str = "back-off 10s") -> Any:
    return worker_pod(name, containers=[container(waiting="CrashLoopBackOff", message=message)])


def test_a_whole_successful_run() -> None:
    observations = [
        nothing(),
        just_created(),
        running(),
        running(),
        running(master_job=job(conditions=("Complete",))),
        running(master_job=job(conditions=("Complete",))),
    ]
    emitted: list[EventIntent] = []
    previous: dict[str, Any] | None = None
    for seconds, observed in enumerate(observations):
        status = step(previous, observed, seconds)
        emitted += transition_events(previous, status, observed.recreated)
        previous = status
    assert emitted == [
        EventIntent("Normal", "Created", "All resources created"),
        EventIntent("Normal", "TestStarted", "Load test execution started"),
        EventIntent("Normal", "TestCompleted", "Load test completed successfully"),
    ]


TRANSITIONS: list[tuple[str, Observed, Observed, list[tuple[str, str]]]] = [
    ("nothing happened yet", nothing(), nothing(), []),
    ("children created", nothing(), just_created(), [("Normal", "Created")]),
    (
        "created and running at once",
        nothing(),
        running(),
        [("Normal", "Created"), ("Normal", "TestStarted")],
    ),
    ("started", just_created(), running(), [("Normal", "TestStarted")]),
    (
        "succeeded",
        running(),
        running(master_job=job(conditions=("Complete",))),
        [("Normal", "TestCompleted")],
    ),
    (
        "failed",
        running(),
        running(master_job=job(conditions=("Failed",))),
        [("Warning", "TestFailed")],
    ),
    (
        "pods failed the test",
        running(),
        running(pods=[pod(), crash_looping()]),
        [("Warning", "PodFailure"), ("Warning", "TestFailed")],
    ),
    (
        "pods cannot pull their image",
        just_created(),
        running(pods=[pod(phase="Pending", containers=[container(waiting="ErrImagePull")])]),
        [("Warning", "PodFailure"), ("Warning", "TestFailed")],
    ),
    ("spec edited", running(), running(generation=2), [("Warning", "SpecDrifted")]),
    ("spec edited again", running(generation=2), running(generation=3), []),
    ("steady", running(), running(), []),
]


@pytest.mark.parametrize(
    ("before", "after", "expected"), [c[1:] for c in TRANSITIONS], ids=[c[0] for c in TRANSITIONS]
)
def test_transitions(before: Observed, after: Observed, expected: list[tuple[str, str]]) -> None:
    previous = step(None, before)
    status = step(previous, after, 30)
    assert [(i.type, i.reason) for i in transition_events(previous, status, ())] == expected


def test_unchanged_status_emits_nothing() -> None:
    for observed in (nothing(), just_created(), running(), running(generation=2)):
        status = step(None, observed)
        assert transition_events(status, status, ()) == []
        assert transition_events(status, step(status, observed, 600), ()) == []


def test_pod_failure_once_per_new_failure() -> None:
    stuck = pod(phase="Pending", containers=[container(waiting="ErrImagePull", message="a")])
    first = step(step(None, just_created()), running(pods=[stuck]))
    assert reasons(transition_events(None, first, ())).count("PodFailure") == 1
    same = step(first, running(pods=[stuck]), 60)
    assert transition_events(first, same, ()) == []

    other = pod(phase="Pending", containers=[container(waiting="ImagePullBackOff", message="b")])
    changed = step(same, running(pods=[other]), 90)
    (intent,) = transition_events(same, changed, ())
    assert (intent.type, intent.reason) == ("Warning", "PodFailure")
    assert intent.message.startswith("ImagePullError: 1 pod(s) affected [demo-master-abcde]")

    recovered = step(changed, running(), 120)
    assert "PodFailure" not in reasons(transition_events(changed, recovered, ()))


def test_pod_failure_message_is_the_condition_message() -> None:
    status = step(step(None, running()), running(pods=[pod(), crash_looping(message="100%s")]))
    (failure,) = [i for i in transition_events(None, status, ()) if i.reason == "PodFailure"]
    pods_healthy = next(c for c in status["conditions"] if c["type"] == "PodsHealthy")
    assert failure.message == pods_healthy["message"]
    assert "100%s" in failure.message


def test_recreated_children_get_one_event_each_in_the_references_words() -> None:
    before = step(None, running())
    after = step(before, running(recreated=["Service demo-master", "Job demo-worker"]))
    recreated = [
        ChildRef("Service", "demo-master", "master"),
        ChildRef("Job", "demo-worker", "worker"),
    ]
    intents = transition_events(before, after, recreated)
    assert intents == [
        EventIntent(
            "Warning",
            "ResourceDeleted",
            "Master Service demo-master was deleted externally, will attempt recreation",
        ),
        EventIntent(
            "Warning",
            "ResourceDeleted",
            "Worker Job demo-worker was deleted externally, will attempt recreation",
        ),
    ]
    back = step(after, running(), 5)
    assert reasons(transition_events(after, back, ())) == ["Created", "TestStarted"]


def test_spec_drift_event_carries_the_condition_message() -> None:
    before = step(None, running())
    after = step(before, running(generation=2))
    (intent,) = transition_events(before, after, ())
    assert intent.type == "Warning" and intent.reason == "SpecDrifted"
    assert "Delete and recreate" in intent.message


def test_empty_previous_is_no_previous() -> None:
    status = step(None, running())
    assert transition_events({}, status, ()) == transition_events(None, status, ())


def test_one_created_event_per_child_as_the_reference_writes_them() -> None:
    created = [
        ChildRef("Service", "demo-master", "master"),
        ChildRef("Job", "demo-master", "master"),
        ChildRef("Job", "demo-worker", "worker"),
    ]
    assert creation_events(created) == [
        EventIntent("Normal", "Created", "Created Service demo-master"),
        EventIntent("Normal", "Created", "Created Job demo-master"),
        EventIntent("Normal", "Created", "Created Job demo-worker"),
    ]
    assert creation_events([]) == []


def test_a_test_failed_by_waiting_pods_that_resumes_says_so() -> None:
    stuck = pod(phase="Pending", containers=[container(waiting="ErrImagePull")])
    failed = step(step(None, just_created()), running(pods=[stuck]))
    assert failed["phase"] == "Failed"
    resumed = step(failed, running(), 60)
    assert resumed["phase"] == "Running"
    assert transition_events(failed, resumed, ()) == [
        EventIntent(
            "Normal",
            "TestStarted",
            "Load test resumed: its pods started after the failure was reported",
        )
    ]
    done = step(resumed, running(master_job=job(conditions=("Complete",))), 90)
    assert reasons(transition_events(resumed, done, ())) == ["TestCompleted"]
