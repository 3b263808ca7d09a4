from __future__ import annotations

import asyncio
import random

import pytest

from locust_operator.kube.workqueue import (
    ExponentialFailureRateLimiter,
    ShutDown,
    TokenBucketRateLimiter,
    WorkQueue,
    default_rate_limiter,
)
from tests.unit.kube.fakeclock import FakeClock

Key = tuple[str, str]
A, B, C = ("ns", "a"), ("ns", "b"), ("ns", "c")


def new_queue(clock: FakeClock | None = None) -> WorkQueue[Key]:
    return WorkQueue(clock=clock or FakeClock())


async def drain(queue: WorkQueue[Key]) -> list[Key]:
    """Processes everything queued right now, in order."""
    keys = []
    while len(queue):
        key = await queue.get()
        keys.append(key)
        queue.done(key)
    return keys


# -- de-duplication and processing --------------------------------------------------------


async def test_a_key_added_many_times_is_queued_once() -> None:
    queue = new_queue()
    for key in (A, B, A, A, B, C):
        queue.add(key)
    assert len(queue) == 3
    assert await drain(queue) == [A, B, C]


async def test_a_key_added_while_processing_is_requeued_once_when_done() -> None:
    queue = new_queue()
    queue.add(A)
    key = await queue.get()
    queue.add(A)
    queue.add(A)
    assert len(queue) == 0  # not handed to a second worker meanwhile
    queue.done(key)
    assert await drain(queue) == [A]


async def test_urgent_keys_are_served_first_in_their_own_order() -> None:
    queue = new_queue()
    queue.add(A)
    queue.add(B, urgent=True)
    queue.add(C, urgent=True)
    assert await drain(queue) == [B, C, A]


async def test_an_urgent_add_promotes_a_queued_key_once() -> None:
    queue = new_queue()
    for key in (A, B, C):
        queue.add(key)
    queue.add(C, urgent=True)
    queue.add(C, urgent=True)
    assert len(queue) == 3
    assert await drain(queue) == [C, A, B]


async def test_an_urgent_add_while_processing_requeues_urgently() -> None:
    queue = new_queue()
    queue.add(A)
    queue.add(B)
    key = await queue.get()  # A
    queue.add(A, urgent=True)
    queue.done(key)
    assert await drain(queue) == [A, B]


async def test_done_without_new_adds_does_not_requeue() -> None:
    queue = new_queue()
    queue.add(A)
    queue.done(await queue.get())
    assert len(queue) == 0


async def test_get_waits_for_an_add() -> None:
    queue = new_queue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.add(B)
    assert await getter == B


async def test_workers_never_process_one_key_concurrently() -> None:
    queue = new_queue()
    keys = [("ns", f"k{i}") for i in range(3)]
    active: set[Key] = set()
    overlaps: list[Key] = []
    processed: list[Key] = []
    rng = random.Random(7)

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            if key in active:
                overlaps.append(key)
            active.add(key)
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
            active.discard(key)
            processed.append(key)
            queue.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(8)]
    for _ in range(200):
        queue.add(rng.choice(keys))
        await asyncio.sleep(0)
    marker = len(processed)
    for key in keys:  # added after everything above: each must be processed once more
        queue.add(key)

    async def settled() -> bool:
        await asyncio.sleep(0)
        return not len(queue) and not active

    while not await settled():
        pass
    queue.shutdown()
    await asyncio.gather(*workers)
    assert overlaps == []
    assert set(processed[marker:]) >= set(keys)


# -- delayed adds ----------------------------------------------------------------------------


async def test_add_after_queues_keys_in_deadline_order() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add_after(A, 5)
    queue.add_after(B, 1)
    queue.add_after(C, 3)
    assert len(queue) == 0
    clock.advance(1)
    assert await drain(queue) == [B]
    clock.advance(10)
    assert await drain(queue) == [C, A]


async def test_add_after_keeps_the_earliest_deadline_per_key() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add_after(A, 5)
    queue.add_after(A, 2)  # earlier: replaces the 5 s one
    queue.add_after(A, 4)  # later than the pending 2 s: ignored
    clock.advance(2)
    assert await drain(queue) == [A]
    clock.advance(10)
    assert await drain(queue) == []  # the 4 s and 5 s adds were dropped
    assert clock.pending == 0


async def test_add_after_without_delay_adds_now() -> None:
    queue = new_queue()
    queue.add_after(A, 0)
    assert await drain(queue) == [A]


async def test_a_delayed_key_is_deduplicated_with_a_queued_one() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(A)
    queue.add_after(A, 1)
    clock.advance(1)
    assert await drain(queue) == [A]


# -- rate limiting --------------------------------------------------------------------------


def test_per_key_backoff_doubles_from_5ms_to_a_1000s_cap() -> None:
    limiter: ExponentialFailureRateLimiter[Key] = ExponentialFailureRateLimiter()
    delays = [limiter.when(A) for _ in range(30)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[17] == pytest.approx(0.005 * 2**17)  # 655 s: still under the cap
    assert delays[18:] == [1000.0] * 12
    assert limiter.num_requeues(A) == 30
    assert limiter.when(B) == 0.005  # per key
    limiter.forget(A)
    assert limiter.num_requeues(A) == 0
    assert limiter.when(A) == 0.005


def test_per_key_backoff_survives_huge_failure_counts() -> None:
    limiter: ExponentialFailureRateLimiter[Key] = ExponentialFailureRateLimiter()
    assert [limiter.when(A) for _ in range(2000)][-1] == 1000.0


def test_token_bucket_allows_a_burst_then_10_per_second() -> None:
    clock = FakeClock()
    bucket: TokenBucketRateLimiter[Key] = TokenBucketRateLimiter(10, 100, clock)
    assert [bucket.when(A) for _ in range(100)] == [0.0] * 100
    assert bucket.when(A) == pytest.approx(0.1)
    assert bucket.when(B) == pytest.approx(0.2)  # one bucket for all keys
    clock.advance(1.0)  # ten tokens back: the two borrowed, then eight
    assert [bucket.when(A) for _ in range(8)] == [0.0] * 8
    assert bucket.when(A) == pytest.approx(0.1)


def test_default_rate_limiter_takes_the_longer_of_both() -> None:
    clock = FakeClock()
    limiter = default_rate_limiter(clock)
    # 100 distinct keys: the burst covers them, the per-key backoff says 5 ms.
    assert {limiter.when(("ns", str(i))) for i in range(100)} == {0.005}
    # The 101st: the bucket is empty, 100 ms beats 5 ms.
    assert limiter.when(("ns", "late")) == pytest.approx(0.1)
    clock.advance(60)
    # A key failing often: its own backoff dominates.
    delays = [limiter.when(A) for _ in range(12)]
    assert delays[-1] == pytest.approx(0.005 * 2**11)
    assert limiter.num_requeues(A) == 12
    limiter.forget(A)
    assert limiter.num_requeues(A) == 0


async def test_add_rate_limited_delays_by_the_backoff_and_forget_resets_it() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add_rate_limited(A)
    queue.add_rate_limited(A)  # 10 ms, later than the pending 5 ms: ignored
    assert queue.num_requeues(A) == 2
    assert len(queue) == 0
    clock.advance(0.004)
    assert len(queue) == 0
    clock.advance(0.001)
    assert await drain(queue) == [A]
    queue.add_rate_limited(A)
    clock.advance(0.019)
    assert len(queue) == 0  # the third failure waits 20 ms
    clock.advance(0.001)
    assert await drain(queue) == [A]
    queue.forget(A)
    assert queue.num_requeues(A) == 0


# -- shutdown -------------------------------------------------------------------------------


async def test_shutdown_wakes_waiting_workers() -> None:
    queue = new_queue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await asyncio.sleep(0)
    queue.shutdown()
    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_after_shutdown_get_raises_at_once_and_adds_are_ignored() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(A)
    queue.add_after(B, 1)
    processing = await queue.get()
    queue.add(C)
    queue.shutdown()
    assert queue.shutting_down
    with pytest.raises(ShutDown):
        await queue.get()  # C is still queued: no draining
    queue.add(A)
    queue.add_after(A, 1)
    queue.add_rate_limited(A)
    queue.done(processing)
    clock.advance(10)
    assert clock.pending == 0  # timers cancelled
    with pytest.raises(ShutDown):
        await queue.get()


async def test_a_worker_gives_the_loop_a_turn_between_keys() -> None:
    """A resync queues every running test and their reconciles write nothing: the worker
    must still let the informers read a new test's watch event between two of them."""
    queue = new_queue()
    keys = [("ns", f"t{i}") for i in range(100)]
    for key in keys:
        queue.add(key)
    processed: list[Key] = []

    async def worker() -> None:
        while len(processed) < len(keys):
            key = await queue.get()
            processed.append(key)  # a reconcile that never suspends
            queue.done(key)

    seen_by_other: list[int] = []

    async def informer() -> None:
        seen_by_other.append(len(processed))

    working = asyncio.create_task(worker())
    other = asyncio.create_task(informer())
    await asyncio.gather(working, other)
    assert seen_by_other[0] < len(keys)
