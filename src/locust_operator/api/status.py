"""LocustTest status: the same schema on every served version (the status subresource).

This declares the shape (what the CRD publishes); the words in it are in
:mod:`.conditions`, and ``controller/status.py`` computes the values.
"""

# prop() returns dataclasses.field(...), which ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .results import ReportRef, Results, ThresholdResult
from .schema import prop
from .sources import SourceStatus, source_status_prop

Phase = Literal["Pending", "Running", "Succeeded", "Failed"]
ConditionStatus = Literal["True", "False", "Unknown"]

# Patterns and limits of metav1.Condition.
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


@dataclass(kw_only=True)
class Condition:
    """Condition contains details for one aspect of the current state of the LocustTest."""

    type: str = prop(
        "Type of condition in CamelCase, e.g. Ready, PodsHealthy, SpecDrifted.",
        required=True,
        max_length=316,
        pattern=CONDITION_TYPE_PATTERN,
    )
    status: ConditionStatus = prop(
        "Status of the condition, one of True, False, Unknown.", required=True
    )
    observed_generation: int | None = prop(
        "The .metadata.generation that the condition was set based upon.",
        minimum=0,
        format="int64",
    )
    last_transition_time: str | None = prop(
        "Last time the condition transitioned from one status to another.", format="date-time"
    )
    reason: str | None = prop(
        "A programmatic identifier (CamelCase) for the reason of the condition's last transition.",
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON_PATTERN,
    )
    message: str | None = prop(
        "A human readable message indicating details about the transition.", max_length=32768
    )


@dataclass(kw_only=True)
class LocustTestStatus:
    """LocustTestStatus is the observed state of a LocustTest, maintained by the operator."""

    phase: Phase | None = prop(
        "Current lifecycle phase of the test: Pending, Running, Succeeded or Failed."
    )
    observed_generation: int | None = prop(
        "The most recent metadata.generation observed by the operator.", format="int64"
    )
    expected_workers: int | None = prop(
        "Number of workers expected to connect (spec.worker.replicas).", format="int32"
    )
    connected_workers: int | None = prop(
        "Approximate number of connected workers, derived from the worker Job's active pod "
        "count; it may lag behind the actual Locust worker connections.",
        format="int32",
    )
    start_time: str | None = prop("When the test started.", format="date-time")
    completion_time: str | None = prop("When the test completed.", format="date-time")
    applied_spec_digest: str | None = prop(
        "SHA-256 of the spec the test's children were built from (sha256:<hex>). A deleted "
        "child is rebuilt only from a spec with this digest, never from what its siblings' "
        "annotations claim.",
        max_length=71,
        pattern=r"^sha256:[0-9a-f]{64}$",
    )
    conditions: list[Condition] | None = prop(
        "Latest available observations of the test's state (Ready, PodsHealthy, SpecDrifted, "
        "...), one entry per condition type.",
        list_map_keys=("type",),
    )
    results: Results | None = prop(
        "Statistics read from the Locust master: live while the test runs, final after."
    )
    thresholds: list[ThresholdResult] | None = prop(
        "How each of spec.thresholds fared on the final results, in spec order."
    )
    report: ReportRef | None = prop("Where the test's Locust report (HTML and CSV) is kept.")
    source: SourceStatus | None = source_status_prop()
