"""Pass/fail thresholds of a LocustTest (``spec.thresholds``, v2 only): the API type, its
validation, and the pure evaluation against the results the operator read from Locust.

A threshold bounds one metric of the final results, on the aggregate (Locust's
``Aggregated`` row) or on one endpoint (a row of Locust's statistics, by ``name`` and
optionally ``method``), from above (``max``) or from below (``min``)::

    thresholds:
      - metric: failRatio          # at most 1 % of requests failed
        max: 0.01
      - metric: p95ResponseTime    # milliseconds
        max: 500
        endpoint: /api/items
      - metric: rps                # requests per second over the whole run
        min: 100

Thresholds are evaluated on the final results. With ``abortOnFail`` the operator also
checks them on the live results and stops the run (the master's ``/stop``) as soon as
the threshold can no longer be met:

* a ``max`` on a metric that only grows during a run (``failures``, ``requests``,
  ``maxResponseTime``): the moment the live value exceeds the limit;
* any other threshold: when the live value violates it once the run has been running
  for ``abortDelaySeconds`` (default 0), like k6's ``abortOnFail`` with ``delayAbortEval``
  (ratios, percentiles and rates can still move, so the delay lets them settle).
"""

# prop() returns dataclasses.field(...), which ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .schema import Rule, object_rules, prop

ThresholdMetric = Literal[
    "failRatio",
    "failures",
    "requests",
    "rps",
    "avgResponseTime",
    "p50ResponseTime",
    "p95ResponseTime",
    "p99ResponseTime",
    "maxResponseTime",
]
MAX_THRESHOLDS = 32
MAX_ENDPOINT_LENGTH = 1024
MAX_METHOD_LENGTH = 32


@dataclass(frozen=True)
class Metric:
    name: str
    meaning: str
    unit: str  # appended to values in messages ("" for counts and ratios)
    monotone: bool  # only grows during a run: a max exceeded live can never be met again
    ratio: bool = False  # a fraction from 0 to 1
    count: bool = False  # a whole number


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("failRatio", "failed requests / requests, 0 to 1 (0.01 is 1 %)", "", False, True),
        Metric("failures", "number of failed requests", "", True, count=True),
        Metric("requests", "number of requests", "", True, count=True),
        Metric("rps", "requests per second over the whole run", " req/s", False),
        Metric("avgResponseTime", "average response time (ms)", " ms", False),
        Metric("p50ResponseTime", "median response time (ms)", " ms", False),
        Metric("p95ResponseTime", "95th percentile response time (ms)", " ms", False),
        Metric("p99ResponseTime", "99th percentile response time (ms)", " ms", False),
        Metric("maxResponseTime", "maximum response time (ms)", " ms", True),
    )
}
METRIC_NAMES = tuple(METRICS)

_ONE_BOUND = Rule(
    rule="has(self.max) != has(self.min)",
    message="set exactly one of max (an upper limit) or min (a lower limit) for each threshold",
    field_path=".max",
    reason="FieldValueInvalid",
)
_RATIO = Rule(
    rule="self.metric != 'failRatio' || (has(self.max) ? self.max <= 1.0 : self.min <= 1.0)",
    message=("failRatio is a fraction from 0 to 1 (0.01 is 1 %); set a limit between 0 and 1"),
    field_path=".metric",
    reason="FieldValueInvalid",
)
_METHOD_NEEDS_ENDPOINT = Rule(
    rule="!has(self.method) || has(self.endpoint)",
    message="method narrows an endpoint: set endpoint too, or remove method",
    field_path=".method",
    reason="FieldValueInvalid",
)


@object_rules(_ONE_BOUND, _RATIO, _METHOD_NEEDS_ENDPOINT)
@dataclass(kw_only=True)
class Threshold:
    """A pass/fail limit on one metric of the test's final results."""

    metric: ThresholdMetric = prop(
        "The metric: failRatio (0 to 1), failures, requests, rps (requests per second over "
        "the run), avgResponseTime, p50ResponseTime, p95ResponseTime, p99ResponseTime or "
        "maxResponseTime (milliseconds).",
        required=True,
    )
    max: float | None = prop("Upper limit: the metric must be at most this.", minimum=0)
    min: float | None = prop("Lower limit: the metric must be at least this.", minimum=0)
    endpoint: str | None = prop(
        "Locust's request name of one endpoint (e.g. /api/items); absent: the aggregate of "
        "all requests.",
        min_length=1,
        max_length=MAX_ENDPOINT_LENGTH,
    )
    method: str | None = prop(
        "With endpoint: only the requests of this method (e.g. GET), for a name Locust "
        "records under several methods.",
        min_length=1,
        max_length=MAX_METHOD_LENGTH,
    )
    abort_on_fail: bool = prop(
        "Stop the run early (the master's /stop) once this threshold can no longer be met; "
        "see the API reference for exactly when.",
        default=False,
    )
    abort_delay_seconds: int = prop(
        "With abortOnFail, for thresholds that can still recover (all but a max on "
        "failures, requests or maxResponseTime): seconds the run must have been running "
        "before a live violation stops it.",
        default=0,
        minimum=0,
        format="int32",
    )


def thresholds_prop() -> Any:
    return prop(
        "Pass/fail thresholds evaluated on the final results; a test that violates one ends "
        "Failed (condition ThresholdsMet=False naming the metric, limit and value).",
        max_items=MAX_THRESHOLDS,
    )


# --- validation (the admission webhook; the CRD's schema and CEL say the same) -------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def threshold_errors(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, message naming the fix) for every invalid threshold."""
    thresholds = spec.get("thresholds")
    if thresholds is None:
        return
    if not isinstance(thresholds, list):
        yield "spec.thresholds", "must be a list of thresholds (metric and max or min)"
        return
    if len(thresholds) > MAX_THRESHOLDS:
        yield "spec.thresholds", f"at most {MAX_THRESHOLDS} thresholds, got {len(thresholds)}"
    for index, item in enumerate(thresholds):
        yield from _item_errors(f"spec.thresholds[{index}]", item)


def _item_errors(path: str, item: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(item, Mapping):
        yield path, "must be an object with a metric and max or min"
        return
    metric_name = item.get("metric")
    metric = METRICS.get(metric_name) if isinstance(metric_name, str) else None
    if metric is None:
        yield (
            f"{path}.metric",
            f"unknown metric {metric_name!r}; use one of {', '.join(METRIC_NAMES)}",
        )
    bounds = [key for key in ("max", "min") if item.get(key) is not None]
    if len(bounds) != 1:
        yield (
            f"{path}.max",
            "set exactly one of max (an upper limit) or min (a lower limit), "
            f"got {' and '.join(bounds) or 'neither'}",
        )
    for key in bounds:
        value = item[key]
        if not _number(value):
            yield f"{path}.{key}", f"must be a number, got {value!r}"
        elif value < 0:
            yield f"{path}.{key}", f"must be 0 or more, got {value}"
        elif metric is not None and metric.ratio and value > 1:
            yield (
                f"{path}.{key}",
                f"failRatio is a fraction from 0 to 1 (0.01 is 1 %), got {value}; "
                f"for {value} % write {value / 100:g}",
            )
        elif metric is not None and metric.count and value != int(value):
            yield f"{path}.{key}", f"{metric.name} counts requests: use a whole number, got {value}"
    endpoint, method = item.get("endpoint"), item.get("method")
    if endpoint is not None and (not isinstance(endpoint, str) or not endpoint):
        yield f"{path}.endpoint", "must be Locust's (non-empty) request name, e.g. /api/items"
    if method is not None and endpoint is None:
        yield f"{path}.method", "method narrows an endpoint: set endpoint too, or remove method"
    delay = item.get("abortDelaySeconds")
    if delay is not None and (not isinstance(delay, int) or isinstance(delay, bool) or delay < 0):
        yield f"{path}.abortDelaySeconds", f"must be a whole number of seconds >= 0, got {delay!r}"


# --- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One threshold against one set of results."""

    threshold: Mapping[str, Any]  # the spec item (camelCase JSON)
    value: float | None  # the measured value; None: not measurable (no such endpoint)
    met: bool
    message: str

    def as_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.threshold["metric"]}
        for key in ("endpoint", "method", "max", "min"):
            if self.threshold.get(key) is not None:
                out[key] = self.threshold[key]
        if self.value is not None:
            out["value"] = self.value
        out["met"] = self.met
        out["message"] = self.message
        return out


def _bound(threshold: Mapping[str, Any]) -> tuple[str, float]:
    if threshold.get("max") is not None:
        return "max", float(threshold["max"])
    return "min", float(threshold["min"])


def subject(threshold: Mapping[str, Any]) -> str:
    """What the threshold measures, for messages: 'p95ResponseTime of GET /api'."""
    endpoint = threshold.get("endpoint")
    if endpoint is None:
        return str(threshold["metric"])
    method = threshold.get("method")
    return f"{threshold['metric']} of {f'{method} ' if method else ''}{endpoint}"


def _format(value: float, metric: Metric) -> str:
    if metric.count:
        return f"{value:.0f}"
    if metric.ratio:
        return f"{value:.4g} ({value * 100:.3g} %)"
    return f"{value:.4g}{metric.unit}"


def _rows(results: Mapping[str, Any], threshold: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    endpoint, method = threshold.get("endpoint"), threshold.get("method")
    rows = [row for row in results.get("endpoints") or [] if isinstance(row, Mapping)]
    return [
        row
        for row in rows
        if row.get("name") == endpoint and (method is None or row.get("method") == method)
    ]


def measure(threshold: Mapping[str, Any], results: Mapping[str, Any]) -> tuple[float | None, str]:
    """The metric's value in the results (aggregate or endpoint row), or None and why."""
    metric = str(threshold["metric"])
    key = "totalRps" if metric == "rps" else metric
    if threshold.get("endpoint") is None:
        source: Mapping[str, Any] = results
    else:
        rows = _rows(results, threshold)
        if not rows:
            omitted = int(results.get("endpointsOmitted") or 0)
            hint = (
                f" (the results keep the busiest endpoints only; {omitted} were left out)"
                if omitted
                else ""
            )
            return None, f"{subject(threshold)}: no requests to this endpoint were recorded{hint}"
        if len(rows) > 1:
            methods = ", ".join(sorted(str(row.get("method")) for row in rows))
            return None, (
                f"{subject(threshold)}: the name is recorded under several methods ({methods}); "
                "set method on the threshold"
            )
        source = rows[0]
    value = source.get(key)
    if not isinstance(value, int | float) or not _number(value):
        return None, f"{subject(threshold)}: not in the results"
    return float(value), ""


def evaluate(threshold: Mapping[str, Any], results: Mapping[str, Any]) -> Verdict:
    metric = METRICS[str(threshold["metric"])]
    bound, limit = _bound(threshold)
    value, why = measure(threshold, results)
    if value is None:
        return Verdict(threshold, None, False, why)
    met = value <= limit if bound == "max" else value >= limit
    relation = (
        ("at most" if bound == "max" else "at least")
        if met
        else ("above the max of" if bound == "max" else "below the min of")
    )
    shown = (
        f"{subject(threshold)} was {_format(value, metric)}, {relation} {_format(limit, metric)}"
    )
    return Verdict(threshold, value, met, shown)


def evaluate_all(
    thresholds: Sequence[Mapping[str, Any]], results: Mapping[str, Any]
) -> list[Verdict]:
    return [evaluate(threshold, results) for threshold in thresholds]


def must_abort(
    threshold: Mapping[str, Any], live: Mapping[str, Any], running_seconds: float
) -> Verdict | None:
    """The violation that stops the run now (abortOnFail), else None. See the module doc."""
    if not threshold.get("abortOnFail"):
        return None
    verdict = evaluate(threshold, live)
    if verdict.met or verdict.value is None:
        return None  # an endpoint not hit yet may still be
    metric = METRICS[str(threshold["metric"])]
    bound, _ = _bound(threshold)
    if bound == "max" and metric.monotone:
        return verdict
    delay = int(threshold.get("abortDelaySeconds") or 0)
    return verdict if running_seconds >= delay else None
