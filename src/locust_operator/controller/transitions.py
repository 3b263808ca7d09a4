"""Which Kubernetes Events a status change or a child's creation deserves: pure.

Reasons and messages follow the reference operator where it has them (Created per child,
TestStarted, TestCompleted, TestFailed, PodFailure, ResourceDeleted, Deleting); ours add
a Created summary, SpecDrifted and the messages of PodFailure. An unchanged status yields
no event, so periodic re-checks stay quiet.
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
    THRESHOLDS_MET,
)
from locust_operator.controller.status import conditions_by_type
from locust_operator.kube.events import EventType  # the one Event type literal

# Event reasons (the reference operator's, but SpecDrifted).
CREATED = "Created"
RESOURCE_DELETED = "ResourceDeleted"
TEST_STARTED = "TestStarted"
TEST_COMPLETED = "TestCompleted"
TEST_FAILED = "TestFailed"
POD_FAILURE = "PodFailure"
SPEC_DRIFTED_EVENT = "SpecDrifted"
DELETING = "Deleting"
THRESHOLDS_FAILED_EVENT = "ThresholdsFailed"  # ours: spec.thresholds not met

DELETING_MESSAGE = "LocustTest and owned resources being cleaned up"


@dataclass(frozen=True)
class EventIntent:
    type: EventType
    reason: str
    message: str


@dataclass(frozen=True)
class ChildRef:
    """A child as the reference operator's events name it."""

    kind: str  # Service or Job
    name: str
    role: str  # master or worker

    @property
    def described(self) -> str:
        """`Master Service x-master`, `Worker Job x-worker`: the reference's deletion wording."""
        return f"{self.role.capitalize()} {self.kind} {self.name}"


def creation_events(created: Sequence[ChildRef]) -> list[EventIntent]:
    """One `Created` event per child the reconciler created (adopted ones are not)."""
    return [_intent("Normal", CREATED, f"Created {c.kind} {c.name}") for c in created]


def transition_events(
    previous: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    recreated: Sequence[ChildRef] = (),
) -> list[EventIntent]:
    """Events for what changed between two statuses, in the order it happened.

    `recreated` names children the reconciler found deleted and recreated: that is an
    action, not a status transition, so each gets its event even if the status already
    said Pending.
    """
    previous = previous or {}
    intents = [
        _intent(
            "Warning",
            RESOURCE_DELETED,
            f"{child.described} was deleted externally, will attempt recreation",
        )
        for child in recreated
    ]
    old, now = conditions_by_type(previous), conditions_by_type(new)
    phase, previous_phase = new.get("phase"), previous.get("phase")
    resumed = previous_phase == FAILED and phase == RUNNING

    if _became_true(old.get(READY), now.get(READY)) and not resumed:
        intents.append(_intent("Normal", CREATED, "All resources created"))

    if phase != previous_phase and phase == RUNNING:
        message = (
            "Load test resumed: its pods started after the failure was reported"
            if resumed
            else "Load test execution started"
        )
        intents.append(_intent("Normal", TEST_STARTED, message))

    if _new_pod_failure(old.get(PODS_HEALTHY), now.get(PODS_HEALTHY)):
        message = str(now[PODS_HEALTHY].get("message") or "Pods are failing")
        intents.append(_intent("Warning", POD_FAILURE, message))

    thresholds = now.get(THRESHOLDS_MET) or {}
    if (
        thresholds.get("status") == "False"
        and (old.get(THRESHOLDS_MET) or {}).get("status") != "False"
    ):
        message = f"Thresholds not met: {thresholds.get('message') or ''}".rstrip(": ")
        intents.append(_intent("Warning", THRESHOLDS_FAILED_EVENT, message))

    if phase != previous_phase:
        if phase == SUCCEEDED:
            intents.append(_intent("Normal", TEST_COMPLETED, "Load test completed successfully"))
        elif phase == FAILED:
            intents.append(_intent("Warning", TEST_FAILED, "Load test execution failed"))

    if _became_true(old.get(SPEC_DRIFTED), now.get(SPEC_DRIFTED)):
        message = str(now[SPEC_DRIFTED].get("message") or "Spec changes are ignored")
        intents.append(_intent("Warning", SPEC_DRIFTED_EVENT, message))
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
