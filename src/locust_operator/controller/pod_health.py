"""Diagnose a test's pods for the PodsHealthy condition: pure, deterministic, no I/O.

Failures are reported only once the startup grace period, counted from the oldest pod's
creation, has passed: image pulls, scheduling and volume mounts legitimately take time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lightkube.models.core_v1 import ContainerStatus
from lightkube.resources.core_v1 import Pod

from locust_operator.api.conditions import (
    CONFIGURATION_ERROR,
    CRASH_LOOP_BACK_OFF,
    FAILURE_PRIORITY,
    IMAGE_PULL_ERROR,
    INITIALIZATION_ERROR,
    PODS_HEALTHY_REASON,
    PODS_STARTING,
    SCHEDULING_ERROR,
)
from locust_operator.api.status import ConditionStatus
from locust_operator.controller.source_status import source_failure

DEFAULT_GRACE_PERIOD = timedelta(minutes=2)

MSG_NO_PODS = "Waiting for pods to be created"
MSG_STARTING = "Pods are starting up"
MSG_HEALTHY = "All pods are healthy"

# Pod names listed in one message; 500 workers would otherwise make it huge.
MAX_LISTED_PODS = 10

# Kubelet waiting reasons (string contracts of the Pod API, not constants of a client).
_CONFIG_ERROR_WAITING = "CreateContainerConfigError"
_CRASH_LOOP_WAITING = "CrashLoopBackOff"
_IMAGE_PULL_WAITING = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
# Waiting reasons of an init container that are just progress, not trouble.
_BENIGN_INIT_WAITING = frozenset({"PodInitializing", "ContainerCreating"})
# `configmap "x" not found`, `secret "y" not found`, `couldn't find key k in ConfigMap ns/x`.
_MISSING_REFERENCE = re.compile(r'\b(configmap|secret)s?\s+"([^"]+)"', re.IGNORECASE)


@dataclass(frozen=True)
class PodHealth:
    status: ConditionStatus
    reason: str
    message: str
    failing: bool  # a failure seen after the grace period
    requeue_after: float | None  # seconds left in the grace period, when in it


@dataclass(frozen=True)
class PodFailure:
    pod: str
    reason: str
    detail: str


def analyze_pods(
    pods: Sequence[Pod],
    missing_config_maps: Sequence[str],
    now: datetime,
    grace_period: timedelta = DEFAULT_GRACE_PERIOD,
) -> PodHealth:
    now = as_utc(now)
    live = [pod for pod in pods if not (pod.metadata and pod.metadata.deletionTimestamp)]
    if not live:
        return PodHealth("True", PODS_STARTING, MSG_NO_PODS, failing=False, requeue_after=None)

    remaining = grace_period - (now - oldest_creation(live, now))
    if remaining > timedelta(0) and all(is_up(pod) for pod in live):
        # Every pod runs (or ran) to completion: nothing left to wait for.
        return PodHealth(
            "True", PODS_HEALTHY_REASON, MSG_HEALTHY, failing=False, requeue_after=None
        )
    if remaining > timedelta(0):
        return PodHealth(
            "True",
            PODS_STARTING,
            MSG_STARTING,
            failing=False,
            requeue_after=remaining.total_seconds(),
        )

    failures = [
        failure
        for pod in sorted(live, key=_pod_name)
        if (failure := pod_failure(pod, missing_config_maps)) is not None
    ]
    if not failures:
        return PodHealth(
            "True", PODS_HEALTHY_REASON, MSG_HEALTHY, failing=False, requeue_after=None
        )
    reason, message = summarize(failures, missing_config_maps)
    return PodHealth("False", reason, message, failing=True, requeue_after=None)


def is_up(pod: Pod) -> bool:
    """The pod has started for good: it succeeded, or it runs with every container ready or
    exited 0 (a problem it has later is judged again when it shows)."""
    status = pod.status
    if status is None:
        return False
    if status.phase == "Succeeded":
        return True
    containers = status.containerStatuses or []
    return status.phase == "Running" and bool(containers) and all(map(_up, containers))


def _up(container: ContainerStatus) -> bool:
    """Ready, or done: a master's Locust exits 0 before its exporter sidecar stops, and the
    test must not go back to PodsStarting for that."""
    terminated = container.state.terminated if container.state else None
    return bool(container.ready) or (terminated is not None and terminated.exitCode == 0)


def pod_failure(pod: Pod, missing_config_maps: Sequence[str] = ()) -> PodFailure | None:
    """The first problem found in one pod, or None when it looks fine."""
    status = pod.status
    if status is None or status.phase == "Succeeded":
        return None
    name = _pod_name(pod)

    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            detail = condition.message or condition.reason or "the pod cannot be scheduled"
            return PodFailure(name, SCHEDULING_ERROR, detail)

    # Native sidecars (init containers with restartPolicy Always) are SIGTERMed when the
    # main containers exit; that exit code says nothing about the test.
    sidecars = {
        container.name
        for container in (pod.spec.initContainers or [] if pod.spec else [])
        if container.restartPolicy == "Always"
    }
    for container in status.initContainerStatuses or []:
        if fetch := source_failure(
            container
        ):  # the fetcher's own reason (controller/source_status)
            return PodFailure(name, *fetch)
        sidecar = container.name in sidecars
        if found := _container_failure(name, container, in_init=not sidecar, sidecar=sidecar):
            return found
    for container in status.containerStatuses or []:
        if found := _container_failure(name, container, in_init=False, sidecar=False):
            return found

    # A missing ConfigMap volume leaves the pod in ContainerCreating with no waiting
    # reason that says so; the reconciler looked the references up for us.
    if missing_config_maps and not_started(pod):
        return PodFailure(name, CONFIGURATION_ERROR, _not_found(missing_config_maps))
    return None


def not_started(pod: Pod) -> bool:
    """Still pending, or a container is waiting: what a missing ConfigMap looks like."""
    status = pod.status
    if status is None or status.phase in (None, "Pending"):
        return True
    containers = [*(status.initContainerStatuses or []), *(status.containerStatuses or [])]
    return any(c.state and c.state.waiting for c in containers)


def summarize(
    failures: Sequence[PodFailure], missing_config_maps: Sequence[str] = ()
) -> tuple[str, str]:
    """The condition reason and message for several failing pods."""
    primary = next(r for r in FAILURE_PRIORITY if any(f.reason == r for f in failures))
    affected = sorted((f for f in failures if f.reason == primary), key=lambda f: f.pod)
    message = (
        f"{primary}: {len(affected)} pod(s) affected [{_list_pods(f.pod for f in affected)}]: "
        f"{affected[0].detail}"
    )
    if primary == CONFIGURATION_ERROR:
        message += ". " + _configuration_hint(affected, missing_config_maps)
    return primary, message


def _container_failure(
    pod: str, container: ContainerStatus, *, in_init: bool, sidecar: bool
) -> PodFailure | None:
    state = container.state
    waiting = state.waiting if state else None
    if waiting is not None and waiting.reason:
        reason = waiting.reason
        detail = f"container {container.name}: {reason}" + (
            f" ({waiting.message})" if waiting.message else ""
        )
        if reason == _CONFIG_ERROR_WAITING:
            return PodFailure(pod, CONFIGURATION_ERROR, detail)
        if reason in _IMAGE_PULL_WAITING or "ImagePull" in reason:
            return PodFailure(pod, IMAGE_PULL_ERROR, detail)
        if reason == _CRASH_LOOP_WAITING:
            return PodFailure(pod, INITIALIZATION_ERROR if in_init else CRASH_LOOP_BACK_OFF, detail)
        # A sidecar that cannot start holds the whole pod in initialization.
        if (in_init or sidecar) and reason not in _BENIGN_INIT_WAITING:
            return PodFailure(pod, INITIALIZATION_ERROR, detail)

    terminated = state.terminated if state else None
    if terminated is not None and terminated.exitCode != 0 and not sidecar:
        detail = f"container {container.name} exited with code {terminated.exitCode}" + (
            f": {terminated.reason}" if terminated.reason else ""
        )
        return PodFailure(pod, INITIALIZATION_ERROR if in_init else CRASH_LOOP_BACK_OFF, detail)
    return None


def _configuration_hint(failures: Iterable[PodFailure], missing_config_maps: Sequence[str]) -> str:
    references = dict.fromkeys(f'ConfigMap "{name}"' for name in sorted(missing_config_maps))
    for failure in failures:
        for kind, name in _MISSING_REFERENCE.findall(failure.detail):
            label = "ConfigMap" if kind.lower() == "configmap" else "Secret"
            references[f'{label} "{name}"'] = None
    missing = ", ".join(sorted(references)) or "the missing ConfigMap or Secret"
    return f"Create {missing} and the pods will restart automatically."


def _not_found(config_maps: Sequence[str]) -> str:
    names = ", ".join(f'"{name}"' for name in sorted(config_maps))
    noun = "ConfigMap" if len(config_maps) == 1 else "ConfigMaps"
    return f"{noun} {names} not found"


def _list_pods(names: Iterable[str]) -> str:
    listed = list(names)
    shown = ", ".join(listed[:MAX_LISTED_PODS])
    hidden = len(listed) - MAX_LISTED_PODS
    return f"{shown}, +{hidden} more" if hidden > 0 else shown


def oldest_creation(pods: Sequence[Pod], now: datetime) -> datetime:
    # A pod without a creation time (never from the API server) counts as brand new.
    return min(
        as_utc(pod.metadata.creationTimestamp)
        if pod.metadata and pod.metadata.creationTimestamp
        else now
        for pod in pods
    )


def _pod_name(pod: Pod) -> str:
    return (pod.metadata.name or "") if pod.metadata else ""


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, so that they compare with the API's timestamps."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
