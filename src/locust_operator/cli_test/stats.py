"""Locust's statistics as the CLI shows them: parsed from the master's `/stats/requests`
JSON (what the operator's status results are made of too). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

AGGREGATED = "Aggregated"


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _int(value: Any) -> int:
    return int(_float(value))


@dataclass(frozen=True)
class Row:
    """One endpoint (or the Aggregated total) of Locust's statistics table."""

    name: str
    method: str = ""
    requests: int = 0
    failures: int = 0
    avg_ms: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    rps: float = 0.0

    @property
    def fail_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @classmethod
    def from_locust(cls, row: Mapping[str, Any]) -> Row:
        return cls(
            name=str(row.get("name") or ""),
            method=str(row.get("method") or ""),
            requests=_int(row.get("num_requests")),
            failures=_int(row.get("num_failures")),
            avg_ms=_float(row.get("avg_response_time")),
            p50_ms=_float(row.get("median_response_time")),
            p95_ms=_float(row.get("response_time_percentile_0.95")),
            p99_ms=_float(row.get("response_time_percentile_0.99")),
            max_ms=_float(row.get("max_response_time")),
            rps=_float(row.get("total_rps")),
        )


@dataclass(frozen=True)
class Stats:
    """A moment of a running (or finished) Locust master."""

    state: str = ""  # Locust's runner state: ready, spawning, running, stopped, ...
    users: int = 0
    workers: int | None = None  # as Locust counts them
    current_rps: float = 0.0
    current_p95_ms: float | None = None
    total: Row = field(default_factory=lambda: Row(AGGREGATED))
    endpoints: tuple[Row, ...] = ()

    @property
    def finished(self) -> bool:
        return self.state == "stopped"

    @classmethod
    def from_locust(cls, payload: Mapping[str, Any]) -> Stats:
        rows = [Row.from_locust(row) for row in payload.get("stats") or [] if isinstance(row, dict)]
        total = next((row for row in rows if row.name == AGGREGATED), Row(AGGREGATED))
        percentiles = payload.get("current_response_time_percentiles") or {}
        current_p95 = percentiles.get("response_time_percentile_0.95")
        workers = payload.get("worker_count")
        return cls(
            state=str(payload.get("state") or ""),
            users=_int(payload.get("user_count")),
            workers=_int(workers) if workers is not None else None,
            current_rps=_float(payload.get("current_rps", payload.get("total_rps"))),
            current_p95_ms=_float(current_p95) if current_p95 is not None else None,
            total=total,
            endpoints=tuple(row for row in rows if row.name != AGGREGATED),
        )


def _row_from_results(name: str, method: str, data: Mapping[str, Any]) -> Row:
    return Row(
        name=name,
        method=method,
        requests=_int(data.get("requests")),
        failures=_int(data.get("failures")),
        avg_ms=_float(data.get("avgResponseTime")),
        p50_ms=_float(data.get("p50ResponseTime")),
        p95_ms=_float(data.get("p95ResponseTime")),
        p99_ms=_float(data.get("p99ResponseTime")),
        max_ms=_float(data.get("maxResponseTime")),
        rps=_float(data.get("totalRps")),
    )


def from_status_results(results: Mapping[str, Any]) -> Stats:
    """The operator's status.results (live, or final once the run ended)."""
    workers = results.get("workers")
    endpoints = tuple(
        _row_from_results(str(row.get("name") or ""), str(row.get("method") or ""), row)
        for row in results.get("endpoints") or []
        if isinstance(row, dict)
    )
    state = str(results.get("state") or "")
    if results.get("final"):
        state = "stopped"
    current = results.get("currentRps")
    return Stats(
        state=state,
        users=_int(results.get("users")),
        workers=_int(workers) if workers is not None else None,
        current_rps=_float(current if current is not None else results.get("totalRps")),
        current_p95_ms=None,
        total=_row_from_results(AGGREGATED, "", results),
        endpoints=endpoints,
    )
