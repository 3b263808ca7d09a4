"""compute_status: phases, conditions, timestamps, terminal phases, status_changed."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from locust_operator.api.status import CONDITION_REASON_PATTERN
from locust_operator.controller.status import (
    Observed,
    StatusResult,
    compute_status,
    format_time,
    status_changed,
)
from tests.unit.controller.builders import (
    GRACE,
    LONG_AGO,
    MASTER,
    NOW,
    condition,
    container,
    job,
    just_created,
    nothing,
    pod,
    running,
    summary,
    worker_job,
    worker_pod,
)

LATER = NOW + timedelta(minutes=5)
STAMP = "2024-05-01T12:00:00Z"
YOUNG = NOW - timedelta(seconds=10)


def compute(previous: dict[str, Any] | None, observed: Observed, now: Any = NOW) -> StatusResult:
    return compute_status(previous, observed, now, GRACE)


def status_of(
    previous: dict[str, Any] | None, observed: Observed, now: Any = NOW
) -> dict[str, Any]:
    return compute(previous, observed, now).status


def with_phase(phase: str, observed: Observed | None = None) -> dict[str, Any]:
    """A previous status in `phase`, as an earlier reconcile would have written it."""
    status = status_of(None, observed or running())
    status["phase"] = phase
    return status


def crash_looping(**kwargs: Any) -> Any:
    return worker_pod(containers=[container(waiting="CrashLoopBackOff")], **kwargs)


def image_pull_failing(**kwargs: Any) -> Any:
    return pod(phase="Pending", containers=[container(waiting="ErrImagePull")], **kwargs)


# --- the first status ----------------------------------------------------------------------


def test_initial_status_matches_the_reference() -> None:
    status = status_of(None, nothing(expected_workers=5, generation=1))
    assert status == {
        "phase": "Pending",
        "observedGeneration": 1,
        "expectedWorkers": 5,
        "connectedWorkers": 0,
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "observedGeneration": 1,
                "lastTransitionTime": STAMP,
                "reason": "ResourcesCreating",
                "message": "Creating resources",
            },
            {
                "type": "WorkersConnected",
                "status": "False",
                "observedGeneration": 1,
                "lastTransitionTime": STAMP,
                "reason": "WaitingForWorkers",
                "message": "Waiting for workers to connect",
            },
            {
                "type": "TestCompleted",
                "status": "False",
                "observedGeneration": 1,
                "lastTransitionTime": STAMP,
                "reason": "TestInProgress",
                "message": "Test has not started",
            },
            {
                "type": "PodsHealthy",
                "status": "True",
                "observedGeneration": 1,
                "lastTransitionTime": STAMP,
                "reason": "PodsStarting",
                "message": "Waiting for pods to be created",
            },
        ],
    }


def test_empty_previous_is_no_previous() -> None:
    assert compute({}, running()) == compute(None, running())


def test_children_just_created() -> None:
    status = status_of(None, just_created())
    assert status["phase"] == "Pending"
    assert condition(status, "Ready") | {"lastTransitionTime": None} == {
        "type": "Ready",
        "status": "True",
        "observedGeneration": 1,
        "lastTransitionTime": None,
        "reason": "ResourcesCreated",
        "message": "All resources created",
    }
    assert summary(status, "WorkersConnected") == ("False", "WorkersMissing")


def test_every_reason_is_a_valid_condition_reason() -> None:
    statuses = [
        status_of(None, observed)
        for observed in (
            nothing(),
            just_created(),
            running(),
            running(creation_error="boom"),
            running(recreated=["demo-worker"]),
            running(generation=2),
            running(pods=[crash_looping()]),
            running(master_job=job(conditions=("Complete",))),
        )
    ]
    for status in statuses:
        for cond in status["conditions"]:
            assert re.fullmatch(CONDITION_REASON_PATTERN, cond["reason"])
            assert cond["lastTransitionTime"].endswith("Z")


# --- phases --------------------------------------------------------------------------------

PHASE_TRANSITIONS: list[tuple[str, str | None, Observed, str]] = [
    ("nothing yet", None, nothing(), "Pending"),
    ("jobs without pods", "Pending", just_created(), "Pending"),
    ("master running", "Pending", running(), "Running"),
    (
        "master active but unschedulable, within the grace period",
        "Pending",
        running(pods=[pod(phase="Pending", unschedulable="0/1 nodes", created=YOUNG)]),
        "Pending",
    ),
    (
        "master Job reports a ready pod",
        "Pending",
        running(master_job=job(active=1, ready=1), pods=[]),
        "Running",
    ),
    (
        "only a worker runs",
        "Pending",
        running(pods=[pod(phase="Pending"), worker_pod()]),
        "Pending",
    ),
    ("master completed", "Running", running(master_job=job(conditions=("Complete",))), "Succeeded"),
    ("master failed", "Running", running(master_job=job(conditions=("Failed",))), "Failed"),
    (
        "completed before ever seen running",
        "Pending",
        running(master_job=job(conditions=("Complete",))),
        "Succeeded",
    ),
    (
        "success decided, pods still terminating",
        "Running",
        running(master_job=job(conditions=("SuccessCriteriaMet",))),
        "Succeeded",
    ),
    (
        "failure decided, pods still terminating",
        "Running",
        running(master_job=job(conditions=("FailureTarget",))),
        "Failed",
    ),
    (
        "both Complete and Failed: Complete wins",
        "Running",
        running(master_job=job(conditions=("Failed", "Complete"))),
        "Succeeded",
    ),
    ("master between exit and verdict", "Running", running(master_job=job(active=0)), "Running"),
    ("recreated while running", "Running", running(recreated=["demo-worker"]), "Pending"),
    ("recreated while pending", "Pending", running(recreated=["demo-master"]), "Pending"),
    (
        "crash loop past the grace period",
        "Running",
        running(pods=[pod(), crash_looping()]),
        "Failed",
    ),
    (
        "crash loop before ever running",
        "Pending",
        running(pods=[pod(phase="Pending"), crash_looping()]),
        "Failed",
    ),
    (
        "crash loop within the grace period",
        "Running",
        running(pods=[pod(created=YOUNG), crash_looping(created=YOUNG)]),
        "Running",
    ),
    (
        "image pull failure past the grace period",
        "Pending",
        running(pods=[image_pull_failing()]),
        "Failed",
    ),
    (
        "image pull failure within the grace period",
        "Pending",
        running(pods=[image_pull_failing(created=YOUNG)]),
        "Pending",
    ),
    (
        "missing ConfigMap past the grace period",
        "Pending",
        running(
            pods=[pod(phase="Pending", containers=[container(waiting="ContainerCreating")])],
            missing_config_maps=["scripts"],
        ),
        "Failed",
    ),
    (
        "unschedulable worker while running",
        "Running",
        running(pods=[pod(), worker_pod(phase="Pending", unschedulable="no nodes")]),
        "Failed",
    ),
    ("creation failed", None, nothing(creation_error="forbidden"), "Pending"),
]


@pytest.mark.parametrize(
    ("previous_phase", "observed", "phase"),
    [case[1:] for case in PHASE_TRANSITIONS],
    ids=[case[0] for case in PHASE_TRANSITIONS],
)
def test_phase_transitions(previous_phase: str | None, observed: Observed, phase: str) -> None:
    previous = None if previous_phase is None else with_phase(previous_phase)
    assert status_of(previous, observed)["phase"] == phase


@pytest.mark.parametrize("final", ["Succeeded", "Failed"])
@pytest.mark.parametrize(
    "observed",
    [
        running(),
        nothing(),
        running(recreated=["demo-master"]),
        running(pods=[crash_looping()]),
        running(master_job=job(conditions=("Complete",)), worker_job=worker_job(active=0)),
        running(creation_error="boom"),
    ],
    ids=["running again", "children gone", "recreated", "crash loop", "workers gone", "error"],
)
def test_terminal_phases_are_final(final: str, observed: Observed) -> None:
    verdict = ("Complete",) if final == "Succeeded" else ("Failed",)
    previous = status_of(with_phase("Running"), running(master_job=job(conditions=verdict)))
    assert previous["phase"] == final
    result = compute(previous, observed, LATER)
    assert result.status == previous
    assert result.requeue_after is None
    assert not status_changed(previous, result.status)


def test_a_terminal_status_still_shows_a_later_spec_edit() -> None:
    done = status_of(with_phase("Running"), running(master_job=job(conditions=("Complete",))))
    edited = compute(done, running(generation=2), LATER).status
    assert edited["observedGeneration"] == 2
    assert summary(edited, "SpecDrifted") == ("True", "SpecChangeIgnored")
    assert condition(edited, "SpecDrifted")["lastTransitionTime"] == format_time(LATER)
    assert [c for c in edited["conditions"] if c["type"] != "SpecDrifted"] == done["conditions"]
    assert {k: v for k, v in edited.items() if k not in ("observedGeneration", "conditions")} == {
        k: v for k, v in done.items() if k not in ("observedGeneration", "conditions")
    }


# --- timestamps ----------------------------------------------------------------------------


def test_start_time_is_set_when_running_and_kept() -> None:
    pending = status_of(None, just_created())
    assert "startTime" not in pending
    started = status_of(pending, running(), NOW + timedelta(seconds=7))
    assert started["startTime"] == "2024-05-01T12:00:07Z"
    for observed in (
        running(),
        running(recreated=["demo-worker"]),
        running(master_job=job(conditions=("Complete",))),
    ):
        assert status_of(started, observed, LATER)["startTime"] == "2024-05-01T12:00:07Z"


def test_completion_time_is_set_once() -> None:
    started = status_of(None, running())
    done = status_of(started, running(master_job=job(conditions=("Complete",))), LATER)
    assert done["completionTime"] == format_time(LATER)
    assert done["startTime"] == STAMP
    assert status_of(done, running(), LATER + timedelta(hours=1))["completionTime"] == format_time(
        LATER
    )


def test_a_test_that_failed_before_starting_has_no_start_time() -> None:
    failed = status_of(
        with_phase("Pending", just_created()), running(pods=[pod(phase="Pending"), crash_looping()])
    )
    assert failed["phase"] == "Failed"
    assert "startTime" not in failed
    assert failed["completionTime"] == STAMP


def test_times_are_rfc3339_utc_seconds() -> None:
    status = status_of(None, running(), NOW.replace(microsecond=654321))
    assert status["startTime"] == STAMP
    assert condition(status, "Ready")["lastTransitionTime"] == STAMP
    assert format_time(NOW.replace(tzinfo=None)) == STAMP


# --- conditions ----------------------------------------------------------------------------


def test_condition_order() -> None:
    status = status_of(None, running(generation=3))
    assert [c["type"] for c in status["conditions"]] == [
        "Ready",
        "WorkersConnected",
        "TestCompleted",
        "PodsHealthy",
        "SpecDrifted",
    ]


def test_conditions_carry_the_generation() -> None:
    status = status_of(None, running(generation=4, built_from_generation=4))
    assert {c["observedGeneration"] for c in status["conditions"]} == {4}
    assert status["observedGeneration"] == 4


READY_CASES: list[tuple[str, Observed, tuple[str, str, str]]] = [
    ("nothing yet", nothing(), ("False", "ResourcesCreating", "Creating resources")),
    (
        "a child missing",
        running(worker_job=None),
        ("False", "ResourcesCreating", "Creating resources"),
    ),
    ("all three exist", running(), ("True", "ResourcesCreated", "All resources created")),
    (
        "creation failed",
        nothing(creation_error="creating Job demo-master failed: forbidden"),
        ("False", "ResourcesFailed", "creating Job demo-master failed: forbidden"),
    ),
    (
        "recreated",
        running(recreated=["demo-worker"]),
        ("False", "ResourcesCreating", "Recreating externally deleted resources: demo-worker"),
    ),
    (
        "test failed",
        running(master_job=job(conditions=("Failed",))),
        ("False", "ResourcesFailed", "Test failed"),
    ),
    (
        "test succeeded",
        running(master_job=job(conditions=("Complete",))),
        ("True", "ResourcesCreated", "All resources created"),
    ),
]


@pytest.mark.parametrize(
    ("observed", "expected"), [c[1:] for c in READY_CASES], ids=[c[0] for c in READY_CASES]
)
def test_ready(observed: Observed, expected: tuple[str, str, str]) -> None:
    ready = condition(status_of(None, observed), "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == expected


WORKER_CASES: list[tuple[str, Observed, int, tuple[str, str, str]]] = [
    (
        "no worker Job",
        running(worker_job=None),
        0,
        ("False", "WaitingForWorkers", "Waiting for workers to connect"),
    ),
    (
        "some missing",
        running(worker_job=worker_job(active=2)),
        2,
        ("False", "WorkersMissing", "2/3 workers connected"),
    ),
    (
        "none yet",
        running(worker_job=worker_job(active=0)),
        0,
        ("False", "WorkersMissing", "0/3 workers connected"),
    ),
    ("all", running(), 3, ("True", "AllWorkersConnected", "3/3 workers connected")),
    (
        "more than expected",
        running(worker_job=worker_job(active=4)),
        4,
        ("True", "AllWorkersConnected", "4/3 workers connected"),
    ),
]


@pytest.mark.parametrize(
    ("observed", "connected", "expected"),
    [c[1:] for c in WORKER_CASES],
    ids=[c[0] for c in WORKER_CASES],
)
def test_workers_connected(
    observed: Observed, connected: int, expected: tuple[str, str, str]
) -> None:
    status = status_of(None, observed)
    found = condition(status, "WorkersConnected")
    assert (found["status"], found["reason"], found["message"]) == expected
    assert (status["connectedWorkers"], status["expectedWorkers"]) == (connected, 3)


TEST_COMPLETED_CASES: list[tuple[str, Observed, tuple[str, str, str]]] = [
    ("pending", just_created(), ("False", "TestInProgress", "Test has not started")),
    ("running", running(), ("False", "TestInProgress", "Test is running")),
    (
        "succeeded",
        running(master_job=job(conditions=("Complete",))),
        ("True", "TestSucceeded", "Test completed successfully"),
    ),
    (
        "master Job failed",
        running(master_job=job(conditions=("Failed",))),
        ("True", "TestFailed", "Test failed"),
    ),
    (
        "master Job failed with a reason",
        running(
            master_job=job(
                conditions=("Failed",),
                condition_reason="BackoffLimitExceeded",
                condition_message="Job has reached the specified backoff limit",
            )
        ),
        (
            "True",
            "TestFailed",
            "Test failed: master Job failed: BackoffLimitExceeded: "
            "Job has reached the specified backoff limit",
        ),
    ),
]


@pytest.mark.parametrize(
    ("observed", "expected"),
    [c[1:] for c in TEST_COMPLETED_CASES],
    ids=[c[0] for c in TEST_COMPLETED_CASES],
)
def test_test_completed(observed: Observed, expected: tuple[str, str, str]) -> None:
    found = condition(status_of(None, observed), "TestCompleted")
    assert (found["status"], found["reason"], found["message"]) == expected


def test_pod_failure_fails_the_test_with_its_message() -> None:
    status = status_of(with_phase("Running"), running(pods=[pod(), crash_looping()]))
    pods_healthy = condition(status, "PodsHealthy")
    assert (pods_healthy["status"], pods_healthy["reason"]) == ("False", "CrashLoopBackOff")
    completed = condition(status, "TestCompleted")
    assert (completed["status"], completed["reason"]) == ("True", "TestFailed")
    assert completed["message"] == "Test failed: " + pods_healthy["message"]
    assert "demo-worker-fghij" in completed["message"]
    assert summary(status, "Ready") == ("False", "ResourcesFailed")


PODS_HEALTHY_CASES: list[tuple[str, list[Any], tuple[str, str]]] = [
    ("no pods", [], ("True", "PodsStarting")),
    ("healthy", [pod()], ("True", "PodsHealthy")),
    ("image pull", [image_pull_failing()], ("False", "ImagePullError")),
    (
        "config",
        [pod(containers=[container(waiting="CreateContainerConfigError")])],
        ("False", "ConfigurationError"),
    ),
    ("scheduling", [pod(phase="Pending", unschedulable="no nodes")], ("False", "SchedulingError")),
    ("crash loop", [crash_looping()], ("False", "CrashLoopBackOff")),
    (
        "init",
        [pod(phase="Pending", init_containers=[container("setup", exit_code=2)])],
        ("False", "InitializationError"),
    ),
]


@pytest.mark.parametrize(
    ("pods", "expected"),
    [c[1:] for c in PODS_HEALTHY_CASES],
    ids=[c[0] for c in PODS_HEALTHY_CASES],
)
def test_pods_healthy_after_the_grace_period(pods: list[Any], expected: tuple[str, str]) -> None:
    result = compute(with_phase("Running"), running(pods=pods))
    assert summary(result.status, "PodsHealthy") == expected
    assert result.requeue_after is None


@pytest.mark.parametrize(
    ("pods", "expected"),
    [c[1:] for c in PODS_HEALTHY_CASES if c[1]],
    ids=[c[0] for c in PODS_HEALTHY_CASES if c[1]],
)
def test_pods_healthy_within_the_grace_period(pods: list[Any], expected: tuple[str, str]) -> None:
    young = [replace_created(p, NOW - timedelta(seconds=45)) for p in pods]
    result = compute(with_phase("Running"), running(pods=young))
    if expected == ("True", "PodsHealthy"):  # every pod up: nothing to wait for
        assert summary(result.status, "PodsHealthy") == expected
        assert result.requeue_after is None
        return
    assert summary(result.status, "PodsHealthy") == ("True", "PodsStarting")
    assert condition(result.status, "PodsHealthy")["message"] == "Pods are starting up"
    assert result.requeue_after == 75.0
    assert result.status["phase"] in ("Running", "Pending")


def replace_created(original: Any, when: Any) -> Any:
    assert original.metadata is not None
    copy = type(original).from_dict(original.to_dict())
    assert copy.metadata is not None
    copy.metadata.creationTimestamp = when
    return copy


def test_no_requeue_once_terminal_even_within_the_grace_period() -> None:
    young = [pod(created=NOW - timedelta(seconds=5))]
    result = compute(None, running(pods=young, master_job=job(conditions=("Complete",))))
    assert result.status["phase"] == "Succeeded"
    assert result.requeue_after is None


def test_last_transition_time_kept_while_status_unchanged() -> None:
    creating = [container(waiting="ContainerCreating")]
    young = [pod(created=NOW - timedelta(seconds=5), phase="Pending", containers=creating)]
    first = status_of(None, running(pods=young))
    assert summary(first, "PodsHealthy") == ("True", "PodsStarting")
    later = status_of(first, running(pods=young), LATER)
    assert summary(later, "PodsHealthy") == ("True", "PodsHealthy")  # reason moved on
    assert condition(later, "PodsHealthy")["lastTransitionTime"] == STAMP  # status did not
    assert condition(later, "Ready")["lastTransitionTime"] == STAMP


def test_last_transition_time_moves_with_the_status() -> None:
    first = status_of(None, nothing())
    second = status_of(first, running(), LATER)
    assert condition(second, "Ready")["lastTransitionTime"] == format_time(LATER)
    assert condition(second, "TestCompleted")["lastTransitionTime"] == STAMP


def test_missing_last_transition_time_is_filled_in() -> None:
    previous = status_of(None, running())
    for cond in previous["conditions"]:
        del cond["lastTransitionTime"]
    status = status_of(previous, running(), LATER)
    assert {c["lastTransitionTime"] for c in status["conditions"]} == {format_time(LATER)}


# --- spec drift ----------------------------------------------------------------------------


def test_spec_drift() -> None:
    status = status_of(None, running(generation=3, built_from_generation=1))
    drift = condition(status, "SpecDrifted")
    assert (drift["status"], drift["reason"]) == ("True", "SpecChangeIgnored")
    assert "Delete and recreate" in drift["message"]
    assert "not applied" in drift["message"]
    assert drift["observedGeneration"] == 3
    assert status["observedGeneration"] == 3


def test_no_spec_drift_without_an_edit() -> None:
    status = status_of(None, running())
    assert "SpecDrifted" not in [c["type"] for c in status["conditions"]]


def test_spec_drift_keeps_its_transition_time_over_further_edits() -> None:
    first = status_of(None, running(generation=2))
    second = status_of(first, running(generation=3), LATER)
    assert condition(second, "SpecDrifted")["lastTransitionTime"] == STAMP
    assert "generation 3" in condition(second, "SpecDrifted")["message"]


def test_spec_drift_stands_while_there_are_no_children_to_compare() -> None:
    drifted = status_of(None, running(generation=2))
    assert condition(status_of(drifted, nothing(generation=2)), "SpecDrifted") == condition(
        drifted, "SpecDrifted"
    )


def test_spec_drift_clears_when_children_match_the_spec_again() -> None:
    drifted = status_of(None, running(generation=2))
    rebuilt = status_of(drifted, running(generation=2, built_from_generation=2))
    assert "SpecDrifted" not in [c["type"] for c in rebuilt["conditions"]]


def test_foreign_conditions_are_kept() -> None:
    previous = status_of(None, running())
    previous["conditions"].append({"type": "example.com/Audited", "status": "True", "reason": "Ok"})
    status = status_of(previous, running(), LATER)
    assert status["conditions"][-1] == {
        "type": "example.com/Audited",
        "status": "True",
        "reason": "Ok",
    }


# --- writes only on change -----------------------------------------------------------------


@pytest.mark.parametrize(
    "observed",
    [
        nothing(),
        just_created(),
        running(),
        running(generation=2),
        running(pods=[image_pull_failing()]),
        running(creation_error="quota"),
    ],
    ids=["nothing", "created", "running", "drifted", "image pull", "creation error"],
)
def test_recompute_later_changes_nothing(observed: Observed) -> None:
    first = status_of(None, observed)
    again = status_of(first, observed, LATER)
    assert not status_changed(first, again)
    assert again == first


def test_status_changed_is_semantic() -> None:
    status = status_of(None, running())
    assert status_changed(None, status)
    assert status_changed({}, status)
    assert not status_changed(status, dict(status))

    reordered = dict(status, conditions=list(reversed(status["conditions"])))
    assert not status_changed(status, reordered)

    other_format = dict(status, startTime="2024-05-01T12:00:00.000000+00:00")
    assert not status_changed(status, other_format)

    with_nulls = dict(status, completionTime=None)
    assert not status_changed(status, with_nulls)

    moved = dict(status, connectedWorkers=2)
    assert status_changed(status, moved)

    conditions = [dict(c) for c in status["conditions"]]
    conditions[0]["message"] = "something else"
    assert status_changed(status, dict(status, conditions=conditions))


def test_new_status_has_no_null_fields() -> None:
    for observed in (nothing(), running(), running(master_job=job(conditions=("Complete",)))):
        status = status_of(None, observed)
        assert None not in status.values()
        assert all(None not in c.values() for c in status["conditions"])


def test_master_pods_are_found_by_owner() -> None:
    elsewhere = pod(job_name="someone-else")
    assert status_of(None, running(pods=[elsewhere]))["phase"] == "Pending"
    assert status_of(None, running(pods=[pod(job_name=MASTER)]))["phase"] == "Running"


def test_long_ago_pods_do_not_requeue() -> None:
    assert compute(None, running(pods=[pod(created=LONG_AGO)])).requeue_after is None


def test_recreated_pending_keeps_everything_else() -> None:
    before = status_of(None, running())
    after = status_of(before, running(recreated=["demo-master", "demo-worker"]), LATER)
    assert after["phase"] == "Pending"
    assert after["startTime"] == before["startTime"]
    assert condition(after, "TestCompleted")["message"] == "Test is running"
    assert condition(after, "Ready")["message"] == (
        "Recreating externally deleted resources: demo-master, demo-worker"
    )
    back = status_of(after, running(), LATER + timedelta(seconds=1))
    assert back["phase"] == "Running"
    assert summary(back, "Ready") == ("True", "ResourcesCreated")


def test_observed_is_not_mutated() -> None:
    observed = running()
    snapshot = replace(observed)
    status_of(None, observed)
    assert observed == snapshot


@pytest.mark.parametrize("verdict", ["Complete", "Failed"])
def test_a_finished_test_keeps_the_workers_it_ran_with(verdict: str) -> None:
    # The workers quit with the master, so the worker Job has none active when it ends.
    ran = status_of(with_phase("Running"), running(workers=3))
    assert ran["connectedWorkers"] == 3
    done = status_of(
        ran, running(master_job=job(conditions=(verdict,)), worker_job=worker_job(active=0))
    )
    assert done["phase"] in ("Succeeded", "Failed")
    assert done["connectedWorkers"] == 3
    assert summary(done, "WorkersConnected") == ("True", "AllWorkersConnected")
    assert condition(done, "WorkersConnected") == condition(ran, "WorkersConnected")


def test_a_running_test_counts_the_workers_it_has_now() -> None:
    ran = status_of(with_phase("Running"), running(workers=3))
    fewer = status_of(ran, running(workers=3, worker_job=worker_job(active=1)))
    assert fewer["phase"] == "Running"
    assert fewer["connectedWorkers"] == 1
    assert summary(fewer, "WorkersConnected") == ("False", "WorkersMissing")


def test_workers_quitting_with_the_master_keep_the_count() -> None:
    # Between the master's exit and its Job's verdict the test is still Running.
    ran = status_of(with_phase("Running"), running(workers=3))
    quitting = status_of(ran, running(master_job=job(active=0), worker_job=worker_job(active=0)))
    assert quitting["connectedWorkers"] == 3
    assert condition(quitting, "WorkersConnected") == condition(ran, "WorkersConnected")
    done = status_of(
        quitting,
        running(master_job=job(conditions=("Complete",)), worker_job=worker_job(active=0)),
    )
    assert done["phase"] == "Succeeded"
    assert done["connectedWorkers"] == 3


def test_workers_that_exited_zero_count_as_having_run() -> None:
    # Workers exit 0 when their master tells them to quit, before the master pod ends.
    ran = status_of(with_phase("Running"), running(workers=3))
    finishing = job("demo-worker", active=0)
    assert finishing.status is not None
    finishing.status.succeeded = 3
    quit = status_of(ran, running(worker_job=finishing))
    assert quit["phase"] == "Running"
    assert quit["connectedWorkers"] == 3
    assert summary(quit, "WorkersConnected") == ("True", "AllWorkersConnected")
