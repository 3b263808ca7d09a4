"""Prometheus metrics of the operator process (served on --metrics-bind-address)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

KUBE_REQUESTS = Counter(
    "locust_operator_kube_requests",
    "Requests the operator sent to the Kubernetes API, by HTTP method.",
    ["method"],
)
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
RECONCILE_SECONDS = Histogram(
    "locust_operator_reconcile_duration_seconds",
    "Time one LocustTest reconcile took.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def kube_writes() -> int:
    """Write requests sent so far (what `make bench` reports per test lifecycle)."""
    total = 0.0
    for metric in KUBE_REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("method") in WRITE_METHODS:
                total += sample.value
    return int(total)
