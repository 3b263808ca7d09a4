"""Thresholds: validation names the field and the fix; evaluation and abortOnFail,
with properties (Hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from locust_operator.api.thresholds import METRICS, evaluate, must_abort, threshold_errors
from locust_operator.api.validation import validate

METRIC = st.sampled_from(sorted(METRICS))
VALUE = st.floats(min_value=0, max_value=1e6, allow_nan=False)


def errors(*items: Any) -> list[tuple[str, str]]:
    return list(threshold_errors({"thresholds": list(items)}))


def test_valid_thresholds_pass() -> None:
    assert (
        errors(
            {"metric": "failRatio", "max": 0.01},
            {"metric": "p95ResponseTime", "max": 500, "endpoint": "/api", "method": "GET"},
            {"metric": "rps", "min": 100, "abortOnFail": True, "abortDelaySeconds": 30},
        )
        == []
    )


def test_unknown_metric_names_the_choices() -> None:
    ((path, message),) = errors({"metric": "p90", "max": 1})
    assert path == "spec.thresholds[0].metric"
    assert "unknown metric 'p90'" in message and "p95ResponseTime" in message


def test_nonsense_limits() -> None:
    assert errors({"metric": "failRatio", "max": 5})[0][1].startswith(
        "failRatio is a fraction from 0 to 1"
    )
    assert "for 5 % write 0.05" in errors({"metric": "failRatio", "max": 5})[0][1]
    assert errors({"metric": "rps", "min": -1})[0] == (
        "spec.thresholds[0].min",
        "must be 0 or more, got -1",
    )
    assert "exactly one of max" in errors({"metric": "rps"})[0][1]
    assert "exactly one of max" in errors({"metric": "rps", "max": 1, "min": 0})[0][1]
    assert "whole number" in errors({"metric": "failures", "max": 2.5})[0][1]
    assert errors({"metric": "rps", "max": "10"})[0][1] == "must be a number, got '10'"
    assert errors({"metric": "rps", "max": 1, "method": "GET"})[0][0] == (
        "spec.thresholds[0].method"
    )


def test_webhook_validation_reports_thresholds() -> None:
    obj = {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": "t"},
        "spec": {
            "image": "locustio/locust:2.47.0",
            "master": {"command": "--locustfile /lotest/src/a.py"},
            "worker": {"command": "--locustfile /lotest/src/a.py", "replicas": 1},
            "thresholds": [{"metric": "latency", "max": 1}],
        },
    }
    assert [e.field for e in validate(obj)] == ["spec.thresholds[0].metric"]


@given(metric=METRIC, limit=VALUE, value=VALUE)
def test_max_is_met_exactly_when_value_at_most_limit(
    metric: str, limit: float, value: float
) -> None:
    key = "totalRps" if metric == "rps" else metric
    verdict = evaluate({"metric": metric, "max": limit}, {key: value})
    assert verdict.met == (value <= limit)
    assert verdict.value == value
    assert verdict.met or "above the max of" in verdict.message
    assert metric in verdict.message


@given(metric=METRIC, limit=VALUE, value=VALUE)
def test_min_and_max_are_mirror_images(metric: str, limit: float, value: float) -> None:
    key = "totalRps" if metric == "rps" else metric
    upper = evaluate({"metric": metric, "max": limit}, {key: value}).met
    lower = evaluate({"metric": metric, "min": limit}, {key: value}).met
    assert upper or lower  # every value is on one side of the limit
    assert (upper and lower) == (value == limit)


@given(metric=METRIC, limit=VALUE, endpoint=st.text(min_size=1, max_size=20))
def test_missing_endpoint_is_never_met(metric: str, limit: float, endpoint: str) -> None:
    verdict = evaluate({"metric": metric, "max": limit, "endpoint": endpoint}, {"endpoints": []})
    assert not verdict.met and verdict.value is None and "no requests" in verdict.message


@given(
    metric=st.sampled_from(["failures", "requests", "maxResponseTime"]),
    limit=VALUE,
    value=VALUE,
    running=st.floats(min_value=0, max_value=1e4),
    delay=st.integers(min_value=0, max_value=10_000),
)
def test_abort_on_monotone_max_is_immediate(
    metric: str, limit: float, value: float, running: float, delay: int
) -> None:
    threshold = {"metric": metric, "max": limit, "abortOnFail": True, "abortDelaySeconds": delay}
    aborted = must_abort(threshold, {metric: value}, running)
    assert (aborted is not None) == (value > limit)


@given(
    limit=VALUE,
    value=VALUE,
    running=st.floats(min_value=0, max_value=1e4),
    delay=st.integers(min_value=0, max_value=10_000),
)
def test_abort_on_recoverable_metric_waits_for_the_delay(
    limit: float, value: float, running: float, delay: int
) -> None:
    threshold = {
        "metric": "p95ResponseTime",
        "max": limit,
        "abortOnFail": True,
        "abortDelaySeconds": delay,
    }
    aborted = must_abort(threshold, {"p95ResponseTime": value}, running)
    assert (aborted is not None) == (value > limit and running >= delay)


@given(limit=VALUE, value=VALUE)
def test_no_abort_without_abort_on_fail(limit: float, value: float) -> None:
    assert must_abort({"metric": "failures", "max": limit}, {"failures": value}, 1e9) is None


def test_v1_views_keep_thresholds_losslessly() -> None:
    from locust_operator.api.conversion import convert_v1_to_v2, convert_v2_to_v1

    thresholds = [
        {"metric": "failRatio", "max": 0.01},
        {"metric": "p95ResponseTime", "max": 500, "endpoint": "/api", "abortOnFail": True},
    ]
    v2_obj = {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": "t", "namespace": "default"},
        "spec": {
            "image": "locustio/locust:2.47.0",
            "master": {"command": "--locustfile /lotest/src/a.py"},
            "worker": {"command": "--locustfile /lotest/src/a.py", "replicas": 2},
            "thresholds": thresholds,
        },
    }
    v1_obj = convert_v2_to_v1(v2_obj)
    assert "thresholds" not in v1_obj["spec"]
    assert "conversion.locust.io/v2-spec" in v1_obj["metadata"]["annotations"]
    assert convert_v1_to_v2(v1_obj)["spec"]["thresholds"] == thresholds
