"""Results of a LocustTest, pure: Locust's /stats/requests payload -> ``status.results``,
and what the results mean for the status the reconciler computes (thresholds, the verdict
of a run the operator ended, the ThresholdsMet and ResultsAvailable conditions).

The payload is untrusted input (anything answering on the master's port): every field is
type-checked and bounded; what does not parse is left out, never raised.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from locust_operator.api.conditions import (
    ALL_WORKERS_CONNECTED,
    FAILED,
    MASTER_UNREACHABLE,
    RESULTS_AVAILABLE,
    RESULTS_READ,
    RUNNING,
    SUCCEEDED,
    TERMINAL_PHASES,
    TEST_COMPLETED,
    TEST_FAILED,
    TEST_SUCCEEDED,
    THRESHOLDS_FAILED,
    THRESHOLDS_MET,
    THRESHOLDS_NOT_EVALUATED,
    THRESHOLDS_PASSED,
    WORKERS_CONNECTED,
    WORKERS_MISSING,
)
from locust_operator.api.results import MAX_ENDPOINT_ROWS, MAX_NAME_LENGTH
from locust_operator.api.thresholds import Verdict, evaluate_all

if TYPE_CHECKING:
    from locust_operator.controller.status import StatusResult

StatusResultT = TypeVar("StatusResultT", bound="StatusResult")

AGGREGATED = "Aggregated"
MAX_STATE_LENGTH = 32
MAX_COUNT = 2**62
MAX_FIGURE = 1e12
# The status keys the results poller writes; the reconciler keeps them as they are.
POLLER_KEYS = ("results", "report")
# Ended by the operator, not by Locust's own --autoquit.
ENDED_BY_OPERATOR = "Operator"
ENDED_BY_ABORT = "AbortOnFail"


class NotStats(ValueError):
    """The payload is not Locust's /stats/requests JSON."""


# --- parsing -------------------------------------------------------------------------------


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return int(min(value, MAX_COUNT))


def _figure(value: Any, digits: int) -> float | None:
    """A non-negative finite number, rounded so that noise does not make a status change."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return round(min(float(value), MAX_FIGURE), digits)


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _ratio(failures: int | None, requests: int | None) -> float | None:
    if failures is None or not requests:
        return 0.0 if requests == 0 else None
    return round(min(failures / requests, 1.0), 4)


def _row(stats: Mapping[str, Any]) -> dict[str, Any]:
    """A row of Locust's stats (an endpoint, or the Aggregated total) as status fields."""
    requests, failures = _count(stats.get("num_requests")), _count(stats.get("num_failures"))
    row = {
        "requests": requests,
        "failures": failures,
        "failRatio": _ratio(failures, requests),
        "totalRps": _figure(stats.get("total_rps"), 1),
        "avgResponseTime": _figure(stats.get("avg_response_time"), 1),
        "p50ResponseTime": _figure(stats.get("median_response_time"), 1),
        "p95ResponseTime": _figure(stats.get("response_time_percentile_0.95"), 1),
        "p99ResponseTime": _figure(stats.get("response_time_percentile_0.99"), 1),
        "maxResponseTime": _figure(stats.get("max_response_time"), 1),
    }
    return {key: value for key, value in row.items() if value is not None}


@dataclass(frozen=True)
class Snapshot:
    """One reading of the master: ``results`` is the status.results body (without the
    bookkeeping fields), ``state`` Locust's runner state."""

    state: str
    results: dict[str, Any]


def parse_stats(payload: Any) -> Snapshot:
    """Locust's /stats/requests JSON (already decoded) -> Snapshot. Raises NotStats when
    it is not that payload at all (another server answering on the port)."""
    if not isinstance(payload, Mapping):
        raise NotStats("not a JSON object")
    state = _text(payload.get("state"), MAX_STATE_LENGTH)
    stats = payload.get("stats")
    if state is None or not isinstance(stats, list):
        raise NotStats("no 'state' and 'stats' fields")
    rows = [row for row in stats if isinstance(row, Mapping)]
    total = next(
        (r for r in reversed(rows) if r.get("name") == AGGREGATED and not r.get("method")), None
    )
    endpoints = [r for r in rows if r is not total and isinstance(r.get("name"), str)]
    results: dict[str, Any] = {"state": state}
    users, workers = _count(payload.get("user_count")), _count(payload.get("worker_count"))
    if users is not None:
        results["users"] = users
    if workers is not None:
        results["workers"] = workers
    results.update(_row(total or {}))
    fail_ratio = _figure(payload.get("fail_ratio"), 4)
    if fail_ratio is not None:
        results["failRatio"] = min(fail_ratio, 1.0)
    current_rps = _figure(payload.get("current_rps"), 1)
    if current_rps is not None:
        results["currentRps"] = current_rps
    # Locust's own percentiles are integers already; keep the key order stable.
    ranked = sorted(endpoints, key=lambda r: -(_count(r.get("num_requests")) or 0))
    table = []
    for row in ranked[:MAX_ENDPOINT_ROWS]:
        entry: dict[str, Any] = {"name": str(row["name"])[:MAX_NAME_LENGTH]}
        method = _text(row.get("method"), 32)
        if method:
            entry["method"] = method
        figures = _row(row)
        entry.update({"requests": 0, "failures": 0, **figures})
        table.append(entry)
    results["endpoints"] = table
    if len(ranked) > MAX_ENDPOINT_ROWS:
        results["endpointsOmitted"] = len(ranked) - MAX_ENDPOINT_ROWS
    return Snapshot(state=state, results=results)


def live_results(snapshot: Snapshot) -> dict[str, Any]:
    """While the run goes on: the aggregate only (the table is kept for the final)."""
    return {k: v for k, v in snapshot.results.items() if k not in ("endpoints", "endpointsOmitted")}


def final_results(snapshot: Snapshot, ended_by: str | None = None) -> dict[str, Any]:
    """The run ended: its figures with the endpoint table, frozen. The current rate is
    stale once a run stopped (Locust keeps its last value), so it is left out."""
    results = {k: v for k, v in snapshot.results.items() if k != "currentRps"}
    results["final"] = True
    if ended_by:
        results["endedBy"] = ended_by
    return results


def same_results(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Equal but for when they were read: a write is due only when this is False."""

    def strip(results: Mapping[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (results or {}).items() if k != "lastUpdateTime"}

    return strip(old) == strip(new)


# --- what the results mean for the status ---------------------------------------------------


def _condition(
    kind: str,
    status: str,
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
        "message": message[:32768],
    }


def _set_condition(status: dict[str, Any], condition: dict[str, Any]) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != condition["type"]]
    conditions.append(condition)
    status["conditions"] = conditions


def _get_condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


def _locust_workers(
    previous: Mapping[str, Any],
    out: dict[str, Any],
    results: Mapping[str, Any],
    generation: int,
    stamp: str,
) -> None:
    """While the master answers, connected workers are Locust's own count (before that,
    and when it does not answer, the worker Job's active pods, as computed)."""
    workers = results.get("workers")
    if out.get("phase") != RUNNING or results.get("error") or results.get("final"):
        return
    if not isinstance(workers, int) or isinstance(workers, bool):
        return
    expected = int(out.get("expectedWorkers") or 0)
    out["connectedWorkers"] = workers
    message = f"{workers}/{expected} workers connected (as the Locust master counts them)"
    value = (
        ("True", ALL_WORKERS_CONNECTED, message)
        if workers >= expected
        else ("False", WORKERS_MISSING, message)
    )
    old = _get_condition(previous, WORKERS_CONNECTED)
    _set_condition(out, _condition(WORKERS_CONNECTED, *value, generation, old, stamp))


def failed_verdicts(verdicts: Sequence[Verdict]) -> str:
    failed = [v.message for v in verdicts if not v.met]
    return "; ".join(failed)


def apply_results(
    previous: Mapping[str, Any],
    status: dict[str, Any],
    thresholds: Sequence[Mapping[str, Any]],
    generation: int,
    stamp: str,
) -> dict[str, Any]:
    """The reconciler's status with the results folded in (a new dict):

    * the poller's keys (results, report) are kept as they are;
    * a run the operator ended (results.endedBy) ends the test: Failed if any request
      failed (Locust's own exit code rule) or a threshold failed, else Succeeded;
    * when the test ends, thresholds are evaluated on the final results: a violation
      fails the test (ThresholdsMet=False naming metric, limit and value); without final
      results ThresholdsMet is Unknown and the master Job's verdict stands;
    * ResultsAvailable says whether the master's figures could be read.

    A test that was already terminal is left as the reconciler froze it.
    """
    out = dict(status)
    for key in POLLER_KEYS:
        if previous.get(key) is not None:
            out[key] = previous[key]
    if previous.get("phase") in TERMINAL_PHASES:
        return out
    results = previous.get("results") or {}
    if results:
        error = results.get("error")
        value = (
            ("False", MASTER_UNREACHABLE, str(error))
            if error
            else ("True", RESULTS_READ, "Reading the Locust master's statistics")
        )
        _set_condition(
            out,
            _condition(
                RESULTS_AVAILABLE,
                *value,
                generation,
                _get_condition(previous, RESULTS_AVAILABLE),
                stamp,
            ),
        )
    final = bool(results.get("final"))
    _locust_workers(previous, out, results, generation, stamp)
    ended_by = results.get("endedBy") if final else None
    if ended_by and out.get("phase") not in TERMINAL_PHASES:
        failures = int(results.get("failures") or 0)
        out["phase"] = FAILED if failures else SUCCEEDED
        out["completionTime"] = out.get("completionTime") or stamp
        out.setdefault("startTime", stamp)
        reason = TEST_FAILED if failures else TEST_SUCCEEDED
        aborted = results.get("aborted")
        why = (
            f"aborted by abortOnFail: {aborted}"
            if aborted
            else "the master stayed stopped; the operator ended the run"
        )
        message = f"Test {'failed' if failures else 'completed successfully'}: {why}"
        if failures:
            message += f" ({failures} requests failed)"
        _set_condition(
            out,
            _condition(
                TEST_COMPLETED,
                "True",
                reason,
                message,
                generation,
                _get_condition(previous, TEST_COMPLETED),
                stamp,
            ),
        )
    if not thresholds:
        return out
    old = _get_condition(previous, THRESHOLDS_MET)
    if out.get("phase") not in TERMINAL_PHASES:
        value = ("Unknown", THRESHOLDS_NOT_EVALUATED, "Evaluated on the final results")
        _set_condition(out, _condition(THRESHOLDS_MET, *value, generation, old, stamp))
        return out
    if not final:
        message = (
            "Not evaluated: the final results were not captured (the master quit before the "
            "operator read them, or its web API did not answer); the master Job's verdict stands"
        )
        value = ("Unknown", THRESHOLDS_NOT_EVALUATED, message)
        _set_condition(out, _condition(THRESHOLDS_MET, *value, generation, old, stamp))
        return out
    verdicts = evaluate_all(thresholds, results)
    out["thresholds"] = [v.as_status() for v in verdicts]
    failed = failed_verdicts(verdicts)
    if not failed:
        message = f"All {len(verdicts)} thresholds met"
        _set_condition(
            out,
            _condition(THRESHOLDS_MET, "True", THRESHOLDS_PASSED, message, generation, old, stamp),
        )
        return out
    _set_condition(
        out, _condition(THRESHOLDS_MET, "False", THRESHOLDS_FAILED, failed, generation, old, stamp)
    )
    out["phase"] = FAILED
    _set_condition(
        out,
        _condition(
            TEST_COMPLETED,
            "True",
            TEST_FAILED,
            f"Test failed: thresholds not met: {failed}",
            generation,
            _get_condition(previous, TEST_COMPLETED),
            stamp,
        ),
    )
    return out


def format_time(moment: datetime) -> str:
    from locust_operator.controller.status import format_time as metav1_time

    return metav1_time(moment)


def with_results(
    result: StatusResultT, previous: Mapping[str, Any], spec: Mapping[str, Any], now: datetime
) -> StatusResultT:
    """The reconciler's hook: its computed StatusResult with the results folded in."""
    thresholds = spec.get("thresholds") if isinstance(spec, Mapping) else None
    items = [t for t in thresholds or [] if isinstance(t, Mapping)]
    generation = int(result.status.get("observedGeneration") or 0)
    status = apply_results(previous, result.status, items, generation, format_time(now))
    return dataclasses.replace(result, status=status)
