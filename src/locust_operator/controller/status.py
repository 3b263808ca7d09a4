"""Compute a LocustTest's .status from what the reconciler observed: pure and deterministic.

Phases: Pending -> Running (the master Job has a running pod) -> Succeeded / Failed (the
master Job's verdict, or a pod problem that outlasted the startup grace period). The
master Job's verdict is final. A test failed by pods that never started (missing
ConfigMap, image pull, scheduling) is final too unless they start after all: when its
master runs and no pod has a problem, it resumes as Running (see ``resumable``).
Conditions use the reference's types and reasons, and keep their lastTransitionTime while
their status stays the same.

The schema of .status is declared in ``api/status.py``, its words in ``api/conditions.py``;
this module only decides the values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from lightkube.models.batch_v1 import JobCondition
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod, Service

from locust_operator.api.conditions import (
    ALL_WORKERS_CONNECTED,
    CONDITION_ORDER,
    FAILED,
    PENDING,
    PODS_HEALTHY,
    READY,
    RESOURCES_CREATED,
    RESOURCES_CREATING,
    RESOURCES_FAILED,
    RUNNING,
    SPEC_CHANGE_IGNORED,
    SPEC_DRIFTED,
    SUCCEEDED,
    TERMINAL_PHASES,
    TEST_COMPLETED,
    TEST_FAILED,
    TEST_IN_PROGRESS,
    TEST_SUCCEEDED,
    WAITING_FAILURES,
    WAITING_FOR_WORKERS,
    WORKERS_CONNECTED,
    WORKERS_MISSING,
)
from locust_operator.api.status import ConditionStatus
from locust_operator.controller.pod_health import (
    DEFAULT_GRACE_PERIOD,
    PodHealth,
    analyze_pods,
    as_utc,
)
from locust_operator.controller.source_status import source_status
from locust_operator.kube.owners import controller_name

TIME_KEYS = ("startTime", "completionTime")

Outcome = Literal["Succeeded", "Failed"]


@dataclass(frozen=True)
class Observed:
    generation: int  # metadata.generation of the LocustTest now
    built_from_generation: int | None  # generation the children were built from; None: none yet
    expected_workers: int  # spec.worker.replicas the children were built from
    service: Service | None
    master_job: Job | None
    worker_job: Job | None
    pods: Sequence[Pod]  # the test's pods (master and workers)
    missing_config_maps: Sequence[str] = ()  # referenced ConfigMaps found missing
    creation_error: str | None = None  # creating children failed this round
    # ... for good: the apiserver refuses a child as invalid (or the spec is unreadable).
    creation_refused: bool = False
    recreated: Sequence[str] = ()  # children just recreated after going missing


@dataclass(frozen=True)
class StatusResult:
    status: dict[str, Any]  # the whole new .status, camelCase JSON
    requeue_after: float | None  # seconds until a timer (the pod grace period) needs a look


def compute_status(
    previous: Mapping[str, Any] | None,
    observed: Observed,
    now: datetime,
    grace_period: timedelta = DEFAULT_GRACE_PERIOD,
) -> StatusResult:
    previous = previous or {}
    stamp = format_time(now)
    if is_final(previous, observed.master_job):
        return StatusResult(_final_status(previous, observed, stamp), requeue_after=None)

    outcome = job_outcome(observed.master_job)
    # The grace period is for pods that are starting; a finished test's pods are judged
    # as they are (a quick test must not end on "Pods are starting up").
    grace = grace_period if outcome is None else timedelta(0)
    health = analyze_pods(observed.pods, observed.missing_config_maps, now, grace)
    phase = _phase(previous.get("phase"), observed, outcome, health)
    connected = _workers_ran(observed)

    status: dict[str, Any] = {
        "phase": phase,
        "observedGeneration": observed.generation,
        "expectedWorkers": observed.expected_workers,
        "connectedWorkers": connected,
    }
    start = previous.get("startTime") or (stamp if _master_started(phase, outcome) else None)
    if start:
        status["startTime"] = start
    if phase in TERMINAL_PHASES:
        status["completionTime"] = previous.get("completionTime") or stamp

    old = conditions_by_type(previous)
    workers_connected = _workers_connected(observed, connected)
    last_count = old.get(WORKERS_CONNECTED)
    ran_or_ended = previous.get("phase") == RUNNING or previous.get("phase") in TERMINAL_PHASES
    master_quit = phase == RUNNING and _active(observed.master_job) == 0
    if (phase in TERMINAL_PHASES or master_quit) and ran_or_ended and last_count:
        # The workers quit with the master: once the master has quit, and when the test is
        # finished, it keeps the count it ran with, not the 0 of its exited worker pods.
        connected = int(previous.get("connectedWorkers") or 0)
        status["connectedWorkers"] = connected
        workers_connected = (last_count["status"], last_count["reason"], last_count["message"])
    fresh = {
        READY: _ready(phase, observed),
        WORKERS_CONNECTED: workers_connected,
        TEST_COMPLETED: _test_completed(
            phase, outcome, observed.master_job, health, bool(start), old.get(TEST_COMPLETED)
        ),
        PODS_HEALTHY: (health.status, health.reason, health.message),
    }
    if observed.creation_refused:
        fresh[TEST_COMPLETED] = ("True", TEST_FAILED, f"Test failed: {observed.creation_error}")
    conditions = {
        kind: _condition(kind, *value, observed.generation, old.get(kind), stamp)
        for kind, value in fresh.items()
    }
    conditions.update(_spec_drifted(observed, old.get(SPEC_DRIFTED), stamp))
    status["conditions"] = _ordered(conditions, old)
    if source := source_status(observed.pods, previous.get("source")):
        status["source"] = source  # the commit or digest a git or archive source ran

    requeue_after = None if phase in TERMINAL_PHASES else health.requeue_after
    return StatusResult(status, requeue_after)


def status_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether writing `new` over `old` would change anything that means something."""
    return _normalized(old or {}) != _normalized(new)


def job_outcome(job: Job | None) -> Outcome | None:
    """How a Job ended, if it did. The interim conditions (Kubernetes 1.31+) already tell."""
    true_types = {c.type for c in _job_conditions(job) if c.status == "True"}
    if true_types & {"Complete", "SuccessCriteriaMet"}:
        return SUCCEEDED
    if true_types & {"Failed", "FailureTarget"}:
        return FAILED
    return None


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with seconds precision, as metav1.Time serializes."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions_by_type(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        condition["type"]: condition
        for condition in status.get("conditions") or []
        if isinstance(condition, Mapping) and condition.get("type")
    }


# --- phase -------------------------------------------------------------------------------


def is_final(previous: Mapping[str, Any], master_job: Job | None) -> bool:
    """Whether the previous status can no longer change (but for SpecDrifted)."""
    phase = previous.get("phase")
    if phase == SUCCEEDED:
        return True
    return phase == FAILED and not resumable(previous, master_job)


def resumable(previous: Mapping[str, Any], master_job: Job | None) -> bool:
    """A Failed test may still resume when it was failed by pods that never started
    (PodsHealthy reports a waiting failure) and its master Job is still there and has not
    failed: its pods start by themselves once the cause is fixed outside the test, and a
    success of the master Job since then is taken. The master Job's failure, containers
    that ran and failed, and a master Job gone (TTL) are final."""
    if previous.get("phase") != FAILED or master_job is None:
        return False
    if job_outcome(master_job) == FAILED:
        return False
    pods_healthy = conditions_by_type(previous).get(PODS_HEALTHY) or {}
    return pods_healthy.get("status") == "False" and pods_healthy.get("reason") in (
        WAITING_FAILURES
    )


def _phase(
    previous_phase: str | None, observed: Observed, outcome: Outcome | None, health: PodHealth
) -> str:
    if observed.creation_refused:
        return FAILED  # the test cannot start as written: it never will
    if observed.recreated:
        return PENDING
    if outcome is not None:
        return outcome
    # Past the grace period every pod problem fails the test: a CI job waiting for an
    # outcome gets one instead of hanging.
    if health.failing:
        return FAILED
    if _master_running(observed):
        return RUNNING  # also a resumed test: its pods started after all
    if previous_phase == FAILED:
        return FAILED  # the cause may be gone, but nothing runs yet
    # Between the master pod exiting and the Job recording how it ended, or while a lost
    # master pod is replaced, a started test is still running, not pending again.
    if previous_phase == RUNNING and observed.master_job is not None:
        return RUNNING
    return PENDING


def _master_running(observed: Observed) -> bool:
    """The master Job has an active pod that runs: the Job counts unscheduled and
    still-pulling pods as active too, and those are the FAQ's "Pending"."""
    job = observed.master_job
    if job is None or _active(job) == 0:
        return False
    if job.status and (job.status.ready or 0) > 0:
        return True
    name = job.metadata.name if job.metadata else None
    return any(
        pod.status is not None
        and pod.status.phase == "Running"
        and controller_name(pod, "Job") == name
        for pod in observed.pods
    )


def _master_started(phase: str, outcome: Outcome | None) -> bool:
    return phase == RUNNING or outcome is not None


def _workers_ran(observed: Observed) -> int:
    """Active worker pods, plus those that exited 0: a Locust worker only exits 0 when its
    master tells it to quit, so it was connected until the end of the run."""
    job = observed.worker_job
    succeeded = (job.status.succeeded or 0) if job and job.status else 0
    return min(_active(job) + succeeded, max(observed.expected_workers, _active(job)))


def _active(job: Job | None) -> int:
    return (job.status.active or 0) if job and job.status else 0


def _job_conditions(job: Job | None) -> list[JobCondition]:
    return (job.status.conditions or []) if job and job.status else []


# --- conditions --------------------------------------------------------------------------

ConditionValue = tuple[ConditionStatus, str, str]


def _ready(phase: str, observed: Observed) -> ConditionValue:
    if observed.creation_refused and observed.creation_error:
        return "False", RESOURCES_FAILED, observed.creation_error
    if phase == FAILED:
        return "False", RESOURCES_FAILED, "Test failed"
    if observed.creation_error:
        return "False", RESOURCES_FAILED, observed.creation_error
    if observed.recreated:
        names = ", ".join(observed.recreated)
        return "False", RESOURCES_CREATING, f"Recreating externally deleted resources: {names}"
    if observed.service and observed.master_job and observed.worker_job:
        return "True", RESOURCES_CREATED, "All resources created"
    return "False", RESOURCES_CREATING, "Creating resources"


def _workers_connected(observed: Observed, connected: int) -> ConditionValue:
    if observed.worker_job is None:
        return "False", WAITING_FOR_WORKERS, "Waiting for workers to connect"
    message = f"{connected}/{observed.expected_workers} workers connected"
    if connected >= observed.expected_workers:
        return "True", ALL_WORKERS_CONNECTED, message
    return "False", WORKERS_MISSING, message


def _test_completed(
    phase: str,
    outcome: Outcome | None,
    master_job: Job | None,
    health: PodHealth,
    started: bool,
    previous: Mapping[str, Any] | None,
) -> ConditionValue:
    if outcome == SUCCEEDED:
        return "True", TEST_SUCCEEDED, "Test completed successfully"
    if outcome == FAILED:
        return "True", TEST_FAILED, _job_failure_message(master_job)
    if phase == FAILED:  # a pod problem; the master Job itself has no verdict
        if health.failing:
            return "True", TEST_FAILED, f"Test failed: {health.message}"
        # Failed earlier and the problem is gone, but nothing runs yet: the failure stands.
        kept = previous.get("message") if previous else None
        return "True", TEST_FAILED, str(kept or "Test failed")
    if started:  # also while Pending again, for children recreated mid-test
        return "False", TEST_IN_PROGRESS, "Test is running"
    return "False", TEST_IN_PROGRESS, "Test has not started"


def _job_failure_message(job: Job | None) -> str:
    for condition in _job_conditions(job):
        if condition.type in ("Failed", "FailureTarget") and condition.status == "True":
            detail = ": ".join(part for part in (condition.reason, condition.message) if part)
            if detail:
                return f"Test failed: master Job failed: {detail}"
    return "Test failed"


def _spec_drifted(
    observed: Observed, previous: Mapping[str, Any] | None, stamp: str
) -> dict[str, dict[str, Any]]:
    """SpecDrifted is True while the children run an older generation of the spec.

    Without children there is nothing to compare, so the previous condition stands.
    """
    built = observed.built_from_generation
    if built is None:
        return {SPEC_DRIFTED: dict(previous)} if previous else {}
    if built == observed.generation:
        return {}
    message = (
        f"Spec changes after creation are not applied (generation {observed.generation}; "
        f"the test runs generation {built}). Tests are immutable. "
        "Delete and recreate the LocustTest to apply them."
    )
    value: ConditionValue = ("True", SPEC_CHANGE_IGNORED, message)
    return {SPEC_DRIFTED: _condition(SPEC_DRIFTED, *value, observed.generation, previous, stamp)}


def _condition(
    kind: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int,
    previous: Mapping[str, Any] | None,
    stamp: str,
) -> dict[str, Any]:
    unchanged = previous is not None and previous.get("status") == status
    since = previous.get("lastTransitionTime") if unchanged and previous else None
    return {
        "type": kind,
        "status": status,
        "observedGeneration": generation,
        "lastTransitionTime": since or stamp,
        "reason": reason,
        "message": message,
    }


def _ordered(
    conditions: Mapping[str, Mapping[str, Any]], previous: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Ours in a fixed order, then any other writer's conditions, untouched."""
    ours = [dict(conditions[kind]) for kind in CONDITION_ORDER if kind in conditions]
    theirs = [dict(c) for kind, c in previous.items() if kind not in CONDITION_ORDER]
    return ours + theirs


# --- terminal ----------------------------------------------------------------------------


def _final_status(previous: Mapping[str, Any], observed: Observed, stamp: str) -> dict[str, Any]:
    """A finished test's status is frozen, but a later spec edit still shows as drift."""
    status = {
        key: previous[key]
        for key in ("phase", "expectedWorkers", "connectedWorkers", *TIME_KEYS, "source")
        if previous.get(key) is not None
    }
    status["observedGeneration"] = observed.generation
    old = conditions_by_type(previous)
    conditions = {kind: c for kind, c in old.items() if kind != SPEC_DRIFTED}
    conditions.update(_spec_drifted(observed, old.get(SPEC_DRIFTED), stamp))
    status["conditions"] = _ordered(conditions, old)
    return {key: status[key] for key in _STATUS_KEY_ORDER if key in status}


_STATUS_KEY_ORDER = (
    "phase",
    "observedGeneration",
    "expectedWorkers",
    "connectedWorkers",
    *TIME_KEYS,
    "conditions",
    "source",
)


# --- comparison --------------------------------------------------------------------------


def _normalized(status: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in status.items():
        if value is None:
            continue
        if key == "conditions":
            result[key] = {
                kind: _normalized(condition)
                for kind, condition in conditions_by_type(status).items()
            }
        elif key in (*TIME_KEYS, "lastTransitionTime"):
            result[key] = _parse_time(value)
        else:
            result[key] = value
    return result


def _parse_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return as_utc(moment).replace(microsecond=0).astimezone(UTC)
