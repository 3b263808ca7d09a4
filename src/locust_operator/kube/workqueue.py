"""A rate-limited work queue of object keys with client-go's semantics, on asyncio.

A key is queued at most once however often it is added, and is never handed to two
workers at once: adding a key that is being processed marks it dirty, and ``done``
queues it again. Workers loop on ``get`` / reconcile / ``done``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class ShutDown(Exception):
    """Raised by ``WorkQueue.get`` once the queue is shut down."""


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time for the rate limiters and delayed adds; tests inject a fake one."""

    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class LoopClock:
    """Monotonic time; timers on the running event loop."""

    def now(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)


class RateLimiter(Protocol[K_contra]):
    def when(self, key: K_contra) -> float:
        """Seconds to wait before the key's next retry; counts one more failure."""
        ...

    def forget(self, key: K_contra) -> None: ...

    def num_requeues(self, key: K_contra) -> int: ...


class ExponentialFailureRateLimiter(Generic[K]):
    """Per key: base, 2*base, 4*base, ... capped at ``cap`` seconds."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if failures >= 64:  # 2**64 * base is past any sane cap; avoids float overflow
            return self.cap
        return min(self.base * 2.0**failures, self.cap)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)


class TokenBucketRateLimiter(Generic[K]):
    """Overall limit across keys: ``qps`` tokens a second, up to ``burst`` saved up.

    Every call reserves a token, possibly one not yet refilled (the balance goes
    negative), and returns how long until that token exists.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        self.qps = qps
        self.burst = burst
        self._clock = clock or LoopClock()
        self._tokens = float(burst)
        self._last = self._clock.now()

    def when(self, key: K) -> float:
        now = self._clock.now()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, key: K) -> None:
        pass

    def num_requeues(self, key: K) -> int:
        return 0


class MaxOfRateLimiter(Generic[K]):
    """The longest wait any of the limiters asks for."""

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        self.limiters = limiters

    def when(self, key: K) -> float:
        return max(limiter.when(key) for limiter in self.limiters)

    def forget(self, key: K) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter[K]:
    """client-go's DefaultControllerRateLimiter: per-key 5 ms doubling to 1000 s, and
    10 qps with a burst of 100 overall."""
    return MaxOfRateLimiter(
        ExponentialFailureRateLimiter(0.005, 1000.0),
        TokenBucketRateLimiter(10.0, 100, clock),
    )


class WorkQueue(Generic[K]):
    """De-duplicating queue of keys with delayed and rate-limited adds.

    After ``shutdown()``, ``get`` raises ``ShutDown`` at once, even if keys are still
    queued: reconciles are level-based, so the next operator process re-lists and
    re-queues everything, and draining would only delay the exit. Adds are ignored.
    """

    def __init__(self, rate_limiter: RateLimiter[K] | None = None, clock: Clock | None = None):
        self._clock = clock or LoopClock()
        self._rate_limiter: RateLimiter[K] = rate_limiter or default_rate_limiter(self._clock)
        self._queue: deque[K] = deque()
        # Served before _queue: work a user is waiting on (a new or edited test, a deleted
        # child) must not queue behind hundreds of routine pod-status refreshes.
        self._urgent: deque[K] = deque()
        self._urgent_keys: set[K] = set()
        self._dirty: set[K] = set()  # keys that need processing: queued or to re-queue
        self._processing: set[K] = set()
        self._not_empty = asyncio.Event()
        self._shutting_down = False
        self._waiting: dict[K, tuple[float, Timer]] = {}  # delayed adds: deadline, timer

    def __len__(self) -> int:
        return len(self._queue) + len(self._urgent)

    def has_urgent(self) -> bool:
        """Urgent keys wait for a worker (e.g. new tests for their children)."""
        return bool(self._urgent)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: K, *, urgent: bool = False) -> None:
        if self._shutting_down:
            return
        if key in self._dirty:
            if urgent and key not in self._urgent_keys:
                self._urgent_keys.add(key)
                if key not in self._processing:
                    self._queue.remove(key)  # promote; O(n), and rare
                    self._urgent.append(key)
            return
        self._dirty.add(key)
        if urgent:
            self._urgent_keys.add(key)
        if key in self._processing:
            return  # done() re-queues it
        self._enqueue(key)

    def _enqueue(self, key: K) -> None:
        (self._urgent if key in self._urgent_keys else self._queue).append(key)
        self._not_empty.set()

    async def get(self) -> K:
        # Always give the event loop a turn first: reconciles that write nothing never
        # suspend, and without it one worker would run a whole resync's keys in a row while
        # the informers could not read the watch event of a new test.
        await asyncio.sleep(0)
        while True:
            if self._shutting_down:
                raise ShutDown
            if self._urgent or self._queue:
                key = self._urgent.popleft() if self._urgent else self._queue.popleft()
                self._dirty.discard(key)
                self._urgent_keys.discard(key)
                self._processing.add(key)
                return key
            self._not_empty.clear()
            await self._not_empty.wait()

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._shutting_down:
            self._enqueue(key)

    def add_after(self, key: K, delay: float) -> None:
        """Adds the key after ``delay`` seconds; an earlier pending deadline wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        deadline = self._clock.now() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= deadline:
                return
            pending[1].cancel()
        timer = self._clock.call_later(delay, lambda: self._fire(key))
        self._waiting[key] = (deadline, timer)

    def _fire(self, key: K) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: K) -> None:
        self.add_after(key, self._rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Stops tracking the key's failures (call after a successful reconcile)."""
        self._rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self._rate_limiter.num_requeues(key)

    def shutdown(self) -> None:
        self._shutting_down = True
        for _, timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()
        self._not_empty.set()
