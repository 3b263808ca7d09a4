"""What the CLI knows of a test at one moment, from the cluster or from local processes.
Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from locust_operator.api import conditions as words

from .stats import Stats


@dataclass(frozen=True)
class Snapshot:
    phase: str = ""  # "" until the operator wrote a status
    expected_workers: int = 0
    connected_workers: int | None = None
    stats: Stats | None = None  # None until the master answers
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    run_time: int | None = None  # seconds of --run-time, None: until stopped
    elapsed: float | None = None  # seconds since the load started

    @property
    def terminal(self) -> bool:
        return self.phase in words.TERMINAL_PHASES

    @property
    def workers(self) -> int | None:
        """Locust's own count once the master answers, else the pods' count."""
        if self.stats is not None and self.stats.workers is not None:
            return self.stats.workers
        return self.connected_workers

    def condition(self, kind: str) -> Mapping[str, Any]:
        return self.conditions.get(kind) or {}

    def with_stats(self, stats: Stats | None) -> Snapshot:
        return replace(self, stats=stats) if stats is not None else self


def from_status(test: Mapping[str, Any], run_time: int | None) -> Snapshot:
    """A snapshot of a LocustTest object as read from the apiserver."""
    status = test.get("status") or {}
    spec = test.get("spec") or {}
    by_type = {
        str(item.get("type")): dict(item)
        for item in status.get("conditions") or []
        if isinstance(item, dict)
    }
    expected = status.get("expectedWorkers") or (spec.get("worker") or {}).get("replicas") or 0
    connected = status.get("connectedWorkers")
    return Snapshot(
        phase=str(status.get("phase") or ""),
        expected_workers=int(expected),
        connected_workers=int(connected) if connected is not None else None,
        conditions=by_type,
        run_time=run_time,
    )


def pod_trouble(snapshot: Snapshot) -> str | None:
    """'Reason: message' of PodsHealthy when it reports a problem, else None."""
    healthy = snapshot.condition(words.PODS_HEALTHY)
    if healthy.get("status") != "False" or healthy.get("reason") == words.PODS_STARTING:
        return None
    return f"{healthy.get('reason')}: {healthy.get('message') or ''}".rstrip(": ")
