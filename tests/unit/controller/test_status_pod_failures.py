"""A pod problem past the grace period fails the test; which such failures may resume.

The rule (docs/how-it-works.md, Status): every PodsHealthy failure fails the test. The
master Job's verdict, and containers that ran and failed, are final. A test failed by pods
that never started (a missing ConfigMap or Secret, an image pull error, an unschedulable
pod) resumes as Running when its master pod runs and no pod has a problem any more.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from locust_operator.controller.status import Observed, compute_status, is_final
from locust_operator.controller.transitions import transition_events
from tests.unit.controller.builders import (
    GRACE,
    NOW,
    condition,
    container,
    job,
    just_created,
    pod,
    running,
    summary,
    worker_pod,
)


def step(previous: dict[str, Any] | None, observed: Observed, seconds: int = 0) -> dict[str, Any]:
    return compute_status(previous, observed, NOW + timedelta(seconds=seconds), GRACE).status


WAITING = "Pending"
FAILURES: list[tuple[str, Observed]] = [
    (
        "ConfigurationError",
        running(pods=[pod(containers=[container(waiting="CreateContainerConfigError")])]),
    ),
    (
        "ConfigurationError",  # a missing ConfigMap volume: ContainerCreating, looked up
        running(
            pods=[pod(phase=WAITING, containers=[container(waiting="ContainerCreating")])],
            missing_config_maps=["scripts"],
        ),
    ),
    (
        "ImagePullError",
        running(pods=[pod(phase=WAITING, containers=[container(waiting="ErrImagePull")])]),
    ),
    ("SchedulingError", running(pods=[pod(phase=WAITING, unschedulable="0/3 nodes")])),
    ("CrashLoopBackOff", running(pods=[pod(), worker_pod(containers=[container(exit_code=1)])])),
    (
        "InitializationError",
        running(pods=[pod(phase=WAITING, init_containers=[container("setup", exit_code=2)])]),
    ),
]
RESUMABLE = {"ConfigurationError", "ImagePullError", "SchedulingError"}


def failed_by(observed: Observed) -> dict[str, Any]:
    status = step(step(None, just_created()), observed, 1)
    assert status["phase"] == "Failed", status
    return status


@pytest.mark.parametrize(("reason", "observed"), FAILURES, ids=[f[0] for f in FAILURES])
def test_every_pod_problem_past_the_grace_period_fails_the_test(
    reason: str, observed: Observed
) -> None:
    pending = step(None, just_created())
    status = step(pending, observed, 1)
    assert status["phase"] == "Failed"
    assert summary(status, "PodsHealthy") == ("False", reason)
    assert summary(status, "TestCompleted") == ("True", "TestFailed")
    assert condition(status, "TestCompleted")["message"].startswith(f"Test failed: {reason}: ")
    assert summary(status, "Ready") == ("False", "ResourcesFailed")
    assert status["completionTime"] == "2024-05-01T12:00:01Z"
    assert "TestFailed" in [i.reason for i in transition_events(pending, status, ())]


@pytest.mark.parametrize(("reason", "observed"), FAILURES, ids=[f[0] for f in FAILURES])
def test_within_the_grace_period_no_pod_problem_fails_the_test(
    reason: str, observed: Observed
) -> None:
    young = replace(observed, pods=[_young(p) for p in observed.pods])
    status = step(step(None, just_created()), young, 1)
    assert status["phase"] in ("Pending", "Running")
    assert summary(status, "PodsHealthy") == ("True", "PodsStarting")


@pytest.mark.parametrize(("reason", "observed"), FAILURES, ids=[f[0] for f in FAILURES])
def test_only_pods_that_never_started_may_resume(reason: str, observed: Observed) -> None:
    failed = failed_by(observed)
    later = step(failed, running(), 60)  # the master runs, no pod has a problem
    if reason in RESUMABLE:
        assert later["phase"] == "Running"
        assert "completionTime" not in later
        assert summary(later, "TestCompleted") == ("False", "TestInProgress")
        assert summary(later, "Ready") == ("True", "ResourcesCreated")
        assert summary(later, "PodsHealthy") == ("True", "PodsHealthy")
    else:
        assert later == failed
        assert is_final(failed, running().master_job)


def test_a_resumed_test_ends_with_the_master_jobs_verdict() -> None:
    failed = failed_by(FAILURES[1][1])  # the ConfigMap is missing
    resumed = step(failed, running(), 60)  # ... then created: the pods start
    assert resumed["phase"] == "Running"
    assert resumed["startTime"] == "2024-05-01T12:01:00Z"
    done = step(resumed, running(master_job=job(conditions=("Complete",))), 90)
    assert done["phase"] == "Succeeded"
    assert done["completionTime"] == "2024-05-01T12:01:30Z"
    assert summary(done, "TestCompleted") == ("True", "TestSucceeded")


def test_a_verdict_reached_while_failed_by_waiting_pods_is_taken() -> None:
    failed = failed_by(FAILURES[2][1])
    done = step(failed, running(master_job=job(conditions=("Complete",))), 60)
    assert done["phase"] == "Succeeded"


def test_failed_stays_failed_until_the_master_actually_runs() -> None:
    failed = failed_by(FAILURES[1][1])
    message = condition(failed, "TestCompleted")["message"]
    # The ConfigMap exists now; the pod is still being set up.
    setting_up = running(
        pods=[pod(phase=WAITING, containers=[container(waiting="ContainerCreating")])]
    )
    status = step(failed, setting_up, 30)
    assert status["phase"] == "Failed"
    assert summary(status, "TestCompleted") == ("True", "TestFailed")
    assert condition(status, "TestCompleted")["message"] == message
    assert status["completionTime"] == failed["completionTime"]


def test_a_failure_that_turns_into_a_crash_is_final() -> None:
    failed = failed_by(FAILURES[2][1])  # image pull
    crashed = step(failed, FAILURES[4][1], 30)
    assert summary(crashed, "PodsHealthy") == ("False", "CrashLoopBackOff")
    assert is_final(crashed, running().master_job)
    assert step(crashed, running(), 60) == crashed


def test_the_master_jobs_failure_is_final_whatever_the_pods_say() -> None:
    unschedulable_worker = worker_pod(phase=WAITING, unschedulable="0/3 nodes")
    observed = running(master_job=job(conditions=("Failed",)), pods=[pod(), unschedulable_worker])
    failed = step(step(None, running()), observed, 1)
    assert failed["phase"] == "Failed"
    assert summary(failed, "PodsHealthy") == ("False", "SchedulingError")
    assert is_final(failed, observed.master_job)
    healthy_now = running(master_job=job(conditions=("Failed",)))
    assert step(failed, healthy_now, 60) == failed


def test_a_failed_test_whose_master_job_is_gone_is_final() -> None:
    failed = failed_by(FAILURES[2][1])
    assert is_final(failed, None)
    assert step(failed, running(master_job=None), 60) == failed


def test_a_finished_test_does_not_say_its_pods_are_starting() -> None:
    """A test that ends within the grace period reports its pods as they are."""
    young = NOW - timedelta(seconds=20)
    quick = running(
        created=young,
        master_job=job(conditions=("Complete",)),
        pods=[pod(phase="Succeeded", created=young, containers=[container(exit_code=0)])],
    )
    done = step(step(None, running(created=young)), quick, 1)
    assert done["phase"] == "Succeeded"
    assert summary(done, "PodsHealthy") == ("True", "PodsHealthy")
    assert condition(done, "PodsHealthy")["message"] == "All pods are healthy"


def _young(original: Any) -> Any:
    copy = type(original).from_dict(original.to_dict())
    copy.metadata.creationTimestamp = NOW - timedelta(seconds=10)
    return copy
