"""The results part of a LocustTest's status: what the operator read from the Locust
master's web API (``status.results``), how the thresholds fared (``status.thresholds``)
and where the kept report is (``status.report``).

The shape is declared here; ``controller/results.py`` fills it from Locust's payloads.
"""

# prop() returns dataclasses.field(...), which ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass

from .schema import prop

# Rows of the per-endpoint table kept in status.results.endpoints (the busiest first). The
# full table is in the report ConfigMap's CSV.
MAX_ENDPOINT_ROWS = 20
MAX_NAME_LENGTH = 1024


@dataclass(kw_only=True)
class EndpointResults:
    """One row of Locust's statistics (one request name and method)."""

    method: str | None = prop("HTTP method (or request type) as Locust records it.")
    name: str = prop("Locust's request name.", required=True, max_length=MAX_NAME_LENGTH)
    requests: int = prop("Requests made.", required=True, format="int64")
    failures: int = prop("Requests that failed.", required=True, format="int64")
    fail_ratio: float | None = prop("failures / requests, 0 to 1.")
    total_rps: float | None = prop("Requests per second over the whole run.")
    avg_response_time: float | None = prop("Average response time (ms).")
    p50_response_time: float | None = prop("Median response time (ms).")
    p95_response_time: float | None = prop("95th percentile response time (ms).")
    p99_response_time: float | None = prop("99th percentile response time (ms).")
    max_response_time: float | None = prop("Maximum response time (ms).")


@dataclass(kw_only=True)
class Results:
    """Statistics read from the Locust master's web API (/stats/requests): live while the
    test runs (every RESULTS_INTERVAL_SECONDS, written only when they changed), final and
    frozen once it ended."""

    state: str | None = prop(
        "Locust's runner state: ready, spawning, running, stopping, stopped, ..."
    )
    final: bool | None = prop(
        "True once the run ended and these are its final figures (frozen from then on)."
    )
    ended_by: str | None = prop(
        "Who ended the run when it was not Locust's own --autoquit: Operator (the master "
        "stayed stopped for RESULTS_STOPPED_TIMEOUT_SECONDS, e.g. a test stopped in the web "
        "UI) or AbortOnFail (a threshold could no longer be met)."
    )
    aborted: str | None = prop("Why abortOnFail stopped the run (the violated threshold).")
    last_update_time: str | None = prop(
        "When these figures were read (updated only when they changed).", format="date-time"
    )
    users: int | None = prop("Simulated users running.", format="int32")
    workers: int | None = prop("Workers connected to the master, as Locust counts them.")
    requests: int | None = prop("Requests made.", format="int64")
    failures: int | None = prop("Requests that failed.", format="int64")
    fail_ratio: float | None = prop("failures / requests, 0 to 1.")
    current_rps: float | None = prop(
        "Requests per second now (the last seconds); absent once the run ended."
    )
    total_rps: float | None = prop("Requests per second over the whole run.")
    avg_response_time: float | None = prop("Average response time (ms).")
    p50_response_time: float | None = prop("Median response time (ms).")
    p95_response_time: float | None = prop("95th percentile response time (ms).")
    p99_response_time: float | None = prop("99th percentile response time (ms).")
    max_response_time: float | None = prop("Maximum response time (ms).")
    endpoints: list[EndpointResults] | None = prop(
        f"Per-endpoint figures of the final results, the {MAX_ENDPOINT_ROWS} busiest "
        "endpoints (the report's CSV has them all).",
        max_items=MAX_ENDPOINT_ROWS,
    )
    endpoints_omitted: int | None = prop(
        "Endpoints left out of endpoints (beyond the cap).", format="int32"
    )
    error: str | None = prop(
        "Why the master's web API could not be read (then the test's phase follows the "
        "master Job alone, as without results)."
    )


@dataclass(kw_only=True)
class ThresholdResult:
    """How one of spec.thresholds fared on the final results."""

    metric: str = prop("The threshold's metric.", required=True)
    endpoint: str | None = prop("The threshold's endpoint (absent: aggregate).")
    method: str | None = prop("The threshold's method.")
    max: float | None = prop("The threshold's upper limit.")
    min: float | None = prop("The threshold's lower limit.")
    value: float | None = prop("The measured value (absent when it could not be measured).")
    met: bool = prop("Whether the threshold was met.", required=True)
    message: str | None = prop("The metric, its value and the limit, in words.")


@dataclass(kw_only=True)
class ReportRef:
    """The kept Locust report: a ConfigMap owned by the test (deleted with it)."""

    config_map: str = prop("Name of the ConfigMap (<test>-report).", required=True)
    keys: list[str] | None = prop(
        "Its binaryData keys: report.html.gz (Locust's HTML report) and requests.csv.gz."
    )
    message: str | None = prop("What could not be kept, and why (e.g. over the size limit).")
