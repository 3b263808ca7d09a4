"""Following a test until it ends, whatever runs it (the cluster or local processes): poll,
show, and give up with a reason when it never starts. The clock and the sleep are
injected, so the loop is tested without waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from locust_operator.api import conditions as words

from .durations import human
from .snapshot import Snapshot, pod_trouble


class Watcher(Protocol):
    def poll(self) -> Snapshot: ...


class Display(Protocol):
    def update(self, snapshot: Snapshot) -> None: ...


@dataclass(frozen=True)
class Timeouts:
    operator: float = 60.0  # no status at all: the operator is not running
    pending: float = 600.0  # created but never running


_LOAD_STATES = frozenset({"spawning", "running"})


def follow(
    watcher: Watcher,
    display: Display,
    poll_interval: float,
    timeouts: Timeouts,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Snapshot, str | None]:
    """(the last snapshot, why we gave up or None when the test ended)."""
    start = monotonic()
    load_started: float | None = None
    load_stopped: float | None = None
    while True:
        snapshot = watcher.poll()
        now = monotonic()
        stats = snapshot.stats
        loading = (stats is not None and stats.state in _LOAD_STATES) or (
            stats is None and snapshot.phase == words.RUNNING
        )
        if loading and load_started is None:
            load_started = now
        elif stats is not None and not loading and not stats.finished and load_stopped is None:
            load_started = None  # the master answers, not started yet: the clock waits
        if (
            stats is not None
            and stats.finished
            and load_started is not None
            and load_stopped is None
        ):
            load_stopped = now
        if load_started is not None:
            elapsed = (load_stopped or now) - load_started
            if snapshot.run_time and stats is not None and stats.finished:
                elapsed = max(elapsed, float(snapshot.run_time))
            snapshot = replace(snapshot, elapsed=elapsed)
        display.update(snapshot)
        if snapshot.terminal:
            return snapshot, None
        waited = now - start
        if not snapshot.phase and waited >= timeouts.operator:
            return snapshot, (
                f"the test has no status after {human(waited)}: the operator is not running "
                "(start it: locust-operator run, or install the Helm chart) or does not "
                "watch this namespace"
            )
        if snapshot.phase in ("", words.PENDING) and waited >= timeouts.pending:
            trouble = pod_trouble(snapshot)
            why = f"PodsHealthy {trouble}" if trouble else "no pod problem reported"
            return snapshot, f"the test is still Pending after {human(waited)}: {why}"
        sleep(poll_interval)
