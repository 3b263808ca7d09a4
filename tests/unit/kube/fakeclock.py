"""A clock that moves only when told, for the work queue and its rate limiters."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FakeTimer:
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeClock:
    time: float = 0.0
    _timers: list[tuple[float, int, FakeTimer, Callable[[], None]]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def now(self) -> float:
        return self.time

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer()
        heapq.heappush(self._timers, (self.time + delay, next(self._order), timer, callback))
        return timer

    def advance(self, seconds: float) -> None:
        """Moves time forward, firing due timers in deadline order."""
        until = self.time + seconds
        while self._timers and self._timers[0][0] <= until:
            deadline, _, timer, callback = heapq.heappop(self._timers)
            self.time = deadline
            if not timer.cancelled:
                callback()
        self.time = until

    @property
    def pending(self) -> int:
        return sum(1 for *_, timer, _ in self._timers if not timer.cancelled)
