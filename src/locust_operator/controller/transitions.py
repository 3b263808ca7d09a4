"""Which Kubernetes Events a status change deserves: pure, emitted on transitions only.

Reasons and messages follow the reference operator where it has them (TestStarted,
TestCompleted, TestFailed, PodFailure, ResourceDeleted, Created). An unchanged status
yields no event, so periodic re-checks stay quiet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from locust_operator.api.conditions import (
    FAILED,
    PODS_HEALTHY,
    READY,
    RUNNING,
    SPEC_DRIFTED,
    SUCCEEDED,
)
from locust_operator.controller.status import conditions_by_type
from locust_operator.kube.events import EventType  # the one Event type literal


@dataclass(frozen=True)
class EventIntent:
    type: EventType
    reason: str
    message: str


def transition_events(
    previous: Mapping[str, Any] | None, new: Mapping[str, Any], recreated: Sequence[str] = ()
) -> list[EventIntent]:
    """Events for what changed between two statuses, in the order it happened.

    `recreated` names children the reconciler just recreated: that is an action, not a
    status transition, so each gets its event even if the status already said Pending.
    """
    previous = previous or {}
    intents = [
        _intent("Warning", "ResourceDeleted", f"{name} was deleted externally and was recreated")
        for name in recreated
    ]
    old, now = conditions_by_type(previous), conditions_by_type(new)

    if _became_true(old.get(READY), now.get(READY)):
        intents.append(_intent("Normal", "Created", "All resources created"))

    phase = new.get("phase")
    if phase != previous.get("phase") and phase == RUNNING:
        intents.append(_intent("Normal", "TestStarted", "Load test execution started"))

    if _new_pod_failure(old.get(PODS_HEALTHY), now.get(PODS_HEALTHY)):
        message = str(now[PODS_HEALTHY].get("message") or "Pods are failing")
        intents.append(_intent("Warning", "PodFailure", message))

    if phase != previous.get("phase"):
        if phase == SUCCEEDED:
            intents.append(_intent("Normal", "TestCompleted", "Load test completed successfully"))
        elif phase == FAILED:
            intents.append(_intent("Warning", "TestFailed", "Load test execution failed"))

    if _became_true(old.get(SPEC_DRIFTED), now.get(SPEC_DRIFTED)):
        message = str(now[SPEC_DRIFTED].get("message") or "Spec changes are ignored")
        intents.append(_intent("Warning", "SpecDrifted", message))
    return intents


def _intent(type_: EventType, reason: str, message: str) -> EventIntent:
    # Long messages (500 failing pods) are cut to the Events API's limit by the recorder.
    return EventIntent(type_, reason, message)


def _became_true(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    return new is not None and new.get("status") == "True" and (old or {}).get("status") != "True"


def _new_pod_failure(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    """PodsHealthy turned False, or changed which failure it reports."""
    if new is None or new.get("status") != "False":
        return False
    if old is None or old.get("status") != "False":
        return True
    return (old.get("reason"), old.get("message")) != (new.get("reason"), new.get("message"))
