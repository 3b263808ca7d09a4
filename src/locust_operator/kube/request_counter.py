"""Requests sent to the Kubernetes API, counted by HTTP method.

Kept apart from the Prometheus registry (``metrics.py``, which exports these counts as
``locust_operator_kube_requests_total``): the counting starts with the process's first
LIST, and loading prometheus_client is no part of what the operator waits for before it
is ready. Counted on the event loop's thread; read when /metrics is scraped.
"""

from __future__ import annotations

import time


class MethodCount:
    """One method's count, like a labelled prometheus_client Counter's child."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self.value += amount


class RequestCounter:
    """Counts by method; ``labels(method).inc()`` as with a prometheus_client Counter."""

    def __init__(self) -> None:
        self._by_method: dict[str, MethodCount] = {}

    def labels(self, method: str) -> MethodCount:
        count = self._by_method.get(method)
        if count is None:
            count = self._by_method.setdefault(method, MethodCount())
        return count

    def samples(self) -> list[tuple[str, float, float]]:
        """(method, count, when the method was first counted) in the order first counted."""
        return [(method, c.value, c.created) for method, c in list(self._by_method.items())]


REQUESTS = RequestCounter()
