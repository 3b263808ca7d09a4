"""Finished tests' final results as Prometheus metrics on the operator's /metrics.

Read from the informer cache when scraped (nothing kept between scrapes), labelled by
``namespace`` and ``test``. Cardinality is bounded: only tests with final results, and
of those the ``MAX_TESTS`` most recently completed; a deleted test's series go with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MAX_TESTS = 200
PREFIX = "locust_operator_test_"
_SIMPLE = (
    ("requests", "requests", "Requests the finished test made."),
    ("failures", "failures", "Requests of the finished test that failed."),
    ("failRatio", "fail_ratio", "failures / requests of the finished test (0 to 1)."),
    ("totalRps", "rps", "Requests per second over the finished test's run."),
)
_TIMES = (
    ("avgResponseTime", "avg"),
    ("p50ResponseTime", "p50"),
    ("p95ResponseTime", "p95"),
    ("p99ResponseTime", "p99"),
    ("maxResponseTime", "max"),
)


def finished(tests: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(namespace, name, status) of the tests with final results, newest MAX_TESTS."""
    rows = []
    for test in tests:
        status = test.get("status")
        if not isinstance(status, Mapping):
            continue
        results = status.get("results")
        if not isinstance(results, Mapping) or not results.get("final"):
            continue
        meta = test.get("metadata") or {}
        rows.append((str(status.get("completionTime") or ""), meta, status))
    rows.sort(key=lambda row: row[0], reverse=True)
    return [
        (str(meta.get("namespace", "")), str(meta.get("name", "")), status)
        for _, meta, status in rows[:MAX_TESTS]
    ]


class TestResults(Collector):
    def __init__(self) -> None:
        self.source: Callable[[], Iterable[Mapping[str, Any]]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.source is None:
            return
        rows = finished(self.source())
        labels = ["namespace", "test"]
        simple = {
            key: GaugeMetricFamily(PREFIX + name, help_text, labels=labels)
            for key, name, help_text in _SIMPLE
        }
        times = GaugeMetricFamily(
            PREFIX + "response_time_milliseconds",
            "Response times of the finished test (stat: avg, p50, p95, p99, max).",
            labels=[*labels, "stat"],
        )
        met = GaugeMetricFamily(
            PREFIX + "thresholds_met",
            "1 when the finished test met all its thresholds, 0 when not (tests with "
            "thresholds only).",
            labels=labels,
        )
        for namespace, name, status in rows:
            results = status["results"]
            for key, family in simple.items():
                value = results.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    family.add_metric([namespace, name], float(value))
            for key, stat in _TIMES:
                value = results.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    times.add_metric([namespace, name, stat], float(value))
            verdicts = status.get("thresholds")
            if isinstance(verdicts, list) and verdicts:
                ok = all(isinstance(v, Mapping) and v.get("met") for v in verdicts)
                met.add_metric([namespace, name], 1.0 if ok else 0.0)
        yield from simple.values()
        yield times
        yield met


TEST_RESULTS = TestResults()
REGISTRY.register(TEST_RESULTS)
