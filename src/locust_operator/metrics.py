"""Prometheus metrics of the operator process (served on --metrics-bind-address).

Not imported on the way to ready: the first scrape, the first reconcile or the
background import that starts once the caches are synced (controller.py) loads it. What
is counted before then, the Kubernetes API requests, is counted without
prometheus_client (``kube/request_counter.py``) and exported from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import metrics as _prometheus_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from locust_operator.api.conditions import PENDING, PHASES
from locust_operator.kube.request_counter import REQUESTS, MethodCount, RequestCounter


class KubeRequests(Collector):
    """``locust_operator_kube_requests_total{method}`` (and ``_created``, as a
    prometheus_client Counter has them) from kube/request_counter.py's counts."""

    name = "locust_operator_kube_requests"
    documentation = "Requests the operator sent to the Kubernetes API, by HTTP method."

    def __init__(self, counter: RequestCounter) -> None:
        self._counter = counter

    def labels(self, method: str) -> MethodCount:
        """The count of ``method``, to ``inc()`` like a labelled Counter's child."""
        return self._counter.labels(method)

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.documentation, labels=["method"])

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=["method"])
        with_created = getattr(_prometheus_metrics, "_use_created", True)
        for method, value, created in self._counter.samples():
            family.add_metric([method], value, created=created if with_created else None)
        yield family


KUBE_REQUESTS = KubeRequests(REQUESTS)
REGISTRY.register(KUBE_REQUESTS)
KUBE_REQUEST_SECONDS = Histogram(
    "locust_operator_kube_request_duration_seconds",
    "Time from sending a Kubernetes API request to its response headers, by HTTP method.",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHILDREN_CREATED_SECONDS = Histogram(
    "locust_operator_children_created_seconds",
    "Time from the operator first seeing a new LocustTest to its Service and Jobs created.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RECONCILES = Counter(
    "locust_operator_reconcile",
    "LocustTest reconciles, by result (success, requeue, conflict, error).",
    ["result"],
)
RECONCILE_ERRORS = Counter(
    "locust_operator_reconcile_errors",
    "LocustTest reconciles that failed with an error (retried with backoff).",
)
RECONCILE_SECONDS = Histogram(
    "locust_operator_reconcile_duration_seconds",
    "Time one LocustTest reconcile took.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

WORKQUEUE_DEPTH = Gauge(
    "locust_operator_workqueue_depth",
    "LocustTest keys waiting in the work queue for a reconcile worker.",
)
WORKQUEUE_WAIT_SECONDS = Histogram(
    "locust_operator_workqueue_queue_duration_seconds",
    "Time a LocustTest key waited in the work queue before a worker took it.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
LEADER = Gauge(
    "locust_operator_leader",
    "1 while this replica runs the reconcilers (holds the leader Lease, or runs without "
    "leader election), else 0.",
)


class LocustTestsByPhase(Collector):
    """``locust_operator_locusttests{phase}``: counted from the informer cache when scraped,
    so it is never stale and costs nothing between scrapes."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[Mapping[str, object]]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "locust_operator_locusttests",
            "LocustTests in the operator's cache, by status phase (Pending until first "
            "reconciled).",
            labels=["phase"],
        )
        if self.source is None:
            return  # no controller in this process (webhooks only)
        # Every phase is exported, so a phase with no tests reads 0.
        counts = dict.fromkeys(PHASES, 0)
        for test in self.source():
            status = test.get("status")
            phase = status.get("phase") if isinstance(status, Mapping) else None
            key = str(phase or PENDING)
            counts[key] = counts.get(key, 0) + 1
        for phase, count in counts.items():
            family.add_metric([phase], count)
        yield family


LOCUSTTESTS_BY_PHASE = LocustTestsByPhase()
REGISTRY.register(LOCUSTTESTS_BY_PHASE)

# The HTTP methods of KUBE_REQUESTS that write: what `make bench` counts per test lifecycle.
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def exposition() -> tuple[str, bytes]:
    """The content type and body of a /metrics answer: every registered metric."""
    return CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
