"""Pass/fail thresholds: `--threshold` expressions, and their verdict on final statistics.

Syntax: ``[ENDPOINT:]METRIC OP VALUE[UNIT]``, e.g. ``fail_ratio<=1%``, ``p95<=500ms``,
``rps>=100``, ``GET /items:p99<=1s``. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .exits import CliError
from .stats import AGGREGATED, Row, Stats

# metric -> (what it is, unit)
METRICS = {
    "fail_ratio": ("failed requests / requests", "ratio"),
    "failures": ("failed requests", "count"),
    "requests": ("requests", "count"),
    "rps": ("requests per second", "rps"),
    "avg": ("average response time", "ms"),
    "p50": ("median response time", "ms"),
    "p95": ("95th percentile response time", "ms"),
    "p99": ("99th percentile response time", "ms"),
    "max": ("maximum response time", "ms"),
}
_EXPRESSION = re.compile(
    r"^(?:(?P<endpoint>.+):)?\s*(?P<metric>[a-z0-9_]+)\s*(?P<op><=|>=)\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>%|ms|s)?$"
)
HELP = (
    "[ENDPOINT:]METRIC<=VALUE or >=VALUE, METRIC one of " + ", ".join(METRICS) + "; "
    "e.g. fail_ratio<=1%, p95<=500ms, rps>=100, 'GET /items:p99<=1s'"
)


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str  # "<=" or ">="
    value: float  # in the metric's unit: ratio, count, rps, or milliseconds
    endpoint: str | None = None  # "NAME" or "METHOD NAME"; None: the aggregate

    @property
    def where(self) -> str:
        return self.endpoint or AGGREGATED

    def describe(self) -> str:
        return f"{self.metric} {self.op} {format_value(self.metric, self.value)} ({self.where})"


def format_value(metric: str, value: float) -> str:
    unit = METRICS[metric][1]
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "rps":
        return f"{value:.1f}/s"
    return f"{value:.0f}"


def parse_threshold(text: str) -> Threshold:
    match = _EXPRESSION.match(text.strip())
    if not match:
        raise CliError(f"--threshold {text!r}: expected {HELP}")
    metric, unit = match["metric"], match["unit"]
    if metric not in METRICS:
        raise CliError(
            f"--threshold {text!r}: unknown metric {metric!r}; use one of {', '.join(METRICS)}"
        )
    value = float(match["value"])
    kind = METRICS[metric][1]
    if unit == "%":
        if kind != "ratio":
            raise CliError(f"--threshold {text!r}: % applies to fail_ratio only")
        value /= 100
    elif unit in ("ms", "s"):
        if kind != "ms":
            raise CliError(f"--threshold {text!r}: {unit} applies to response times only")
        value *= 1000 if unit == "s" else 1
    if kind == "ratio" and value > 1:
        raise CliError(f"--threshold {text!r}: fail_ratio is at most 1 (or 100%)")
    endpoint = match["endpoint"].strip() if match["endpoint"] else None
    return Threshold(metric=metric, op=match["op"], value=value, endpoint=endpoint)


def measure(row: Row, metric: str) -> float:
    return {
        "fail_ratio": row.fail_ratio,
        "failures": float(row.failures),
        "requests": float(row.requests),
        "rps": row.rps,
        "avg": row.avg_ms,
        "p50": row.p50_ms,
        "p95": row.p95_ms,
        "p99": row.p99_ms,
        "max": row.max_ms,
    }[metric]


@dataclass(frozen=True)
class Outcome:
    threshold: Threshold
    passed: bool
    measured: float | None  # None: the endpoint never appeared
    message: str


def _row(stats: Stats, endpoint: str | None) -> Row | None:
    if endpoint is None:
        return stats.total
    for row in stats.endpoints:
        if endpoint in (row.name, f"{row.method} {row.name}"):
            return row
    return None


def evaluate(thresholds: list[Threshold], stats: Stats) -> list[Outcome]:
    outcomes = []
    for threshold in thresholds:
        row = _row(stats, threshold.endpoint)
        if row is None:
            outcomes.append(
                Outcome(
                    threshold,
                    False,
                    None,
                    f"{threshold.describe()}: no such endpoint in the results",
                )
            )
            continue
        measured = measure(row, threshold.metric)
        passed = (
            measured <= threshold.value if threshold.op == "<=" else measured >= threshold.value
        )
        shown = format_value(threshold.metric, measured)
        verdict = "met" if passed else "BROKEN"
        outcomes.append(
            Outcome(
                threshold, passed, measured, f"{threshold.describe()}: measured {shown}, {verdict}"
            )
        )
    return outcomes


# Our short names -> spec.thresholds[].metric (the operator evaluates those).
SPEC_METRICS = {
    "fail_ratio": "failRatio",
    "failures": "failures",
    "requests": "requests",
    "rps": "rps",
    "avg": "avgResponseTime",
    "p50": "p50ResponseTime",
    "p95": "p95ResponseTime",
    "p99": "p99ResponseTime",
    "max": "maxResponseTime",
}
_HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def to_spec(threshold: Threshold) -> dict[str, object]:
    """The spec.thresholds entry the operator evaluates."""
    entry: dict[str, object] = {"metric": SPEC_METRICS[threshold.metric]}
    entry["max" if threshold.op == "<=" else "min"] = threshold.value
    if threshold.endpoint:
        method, _, name = threshold.endpoint.partition(" ")
        if name and method in _HTTP_METHODS:
            entry["method"] = method
            entry["endpoint"] = name
        else:
            entry["endpoint"] = threshold.endpoint
    return entry


def from_status(items: list[dict[str, object]]) -> list[Outcome]:
    """The operator's verdict (status.thresholds) in our terms."""
    by_spec = {spec: short for short, spec in SPEC_METRICS.items()}
    outcomes = []
    for item in items:
        metric = by_spec.get(str(item.get("metric")), "requests")
        upper = item.get("max")
        limit = upper if upper is not None else item.get("min")
        endpoint = item.get("endpoint")
        method = item.get("method")
        where = f"{method} {endpoint}" if method and endpoint else endpoint
        threshold = Threshold(
            metric=metric,
            op="<=" if upper is not None else ">=",
            value=float(limit) if isinstance(limit, int | float) else 0.0,
            endpoint=str(where) if where else None,
        )
        value = item.get("value")
        passed = bool(item.get("met"))
        message = str(item.get("message") or threshold.describe())
        outcomes.append(
            Outcome(
                threshold, passed, float(value) if isinstance(value, int | float) else None, message
            )
        )
    return outcomes
