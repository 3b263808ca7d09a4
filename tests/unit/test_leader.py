"""Leader election against an in-memory Lease: acquire, hold, lose, release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from locust_operator.kube.leader import (
    LeaderElectionConfig,
    LeaderElector,
    LeaseConflict,
    LeaseRecord,
    default_identity,
    default_namespace,
)


class FakeLeaseStore:
    """One Lease with resourceVersion checks like the apiserver's; ``failing`` makes
    every request fail as if the apiserver were unreachable."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.failing = False
        self.read = asyncio.Event()  # set on every get
        self._subscribers: list[asyncio.Event] = []

    def _check(self) -> None:
        if self.failing:
            raise ConnectionError("apiserver unreachable")

    async def get(self) -> LeaseRecord | None:
        self._check()
        self.read.set()
        await asyncio.sleep(0)  # lets racing candidates read before either writes
        return self.record

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        if self.record is not None:
            raise LeaseConflict("exists")
        return self.put(record)

    async def update(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        if self.record is None or record.resource_version != self.record.resource_version:
            raise LeaseConflict("stale resourceVersion")
        return self.put(record)

    def put(self, record: LeaseRecord) -> LeaseRecord:
        self.version += 1
        self.record = replace(record, resource_version=str(self.version))
        for changed in self._subscribers:
            changed.set()
        return self.record

    async def changes(self) -> AsyncIterator[None]:
        changed = asyncio.Event()
        self._subscribers.append(changed)
        try:
            while True:
                await changed.wait()
                changed.clear()
                yield
        finally:
            self._subscribers.remove(changed)


class Clock:
    """Local monotonic time that moves only when told."""

    def __init__(self) -> None:
        self.time = 0.0

    def __call__(self) -> float:
        return self.time


def elector(
    store: FakeLeaseStore,
    identity: str,
    clock: Clock | None = None,
    wall_clock_offset: timedelta = timedelta(),
    **timing: float,
) -> LeaderElector:
    config = LeaderElectionConfig(identity=identity, **timing)
    kwargs = {"monotonic": clock} if clock is not None else {}
    return LeaderElector(
        store,
        config,
        wall_clock=lambda: datetime.now(UTC) + wall_clock_offset,
        **kwargs,  # type: ignore[arg-type]
    )


# Short enough for loops that really run; the ratios of the defaults (15 / 10 / 2).
FAST = {"lease_duration": 0.75, "renew_deadline": 0.5, "retry_period": 0.1}


async def test_a_missing_lease_is_created_and_held() -> None:
    store = FakeLeaseStore()
    a = elector(store, "a")
    assert await a.try_acquire_or_renew()
    assert a.is_leader
    assert store.record is not None
    assert store.record.holder == "a"
    assert store.record.lease_duration_seconds == 15
    assert store.record.transitions == 0
    assert store.record.acquire_time is not None


async def test_a_held_fresh_lease_is_not_taken() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock.time = 14.9
    assert not await b.try_acquire_or_renew()
    assert not b.is_leader
    assert store.record is not None and store.record.holder == "a"


async def test_a_lease_unchanged_for_its_duration_is_taken() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()  # b sees a's record at t=0
    clock.time = 15.0
    assert await b.try_acquire_or_renew()
    assert store.record is not None
    assert store.record.holder == "b"
    assert store.record.transitions == 1


async def test_expiry_is_judged_by_local_observation_not_by_renew_time() -> None:
    # a's clock is an hour behind: its renewTime looks long expired to b's wall clock.
    store, clock = FakeLeaseStore(), Clock()
    a = elector(store, "a", clock, wall_clock_offset=timedelta(hours=-1))
    b = elector(store, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock.time = 10.0
    assert not await b.try_acquire_or_renew()


async def test_renewals_keep_the_lease_and_keep_candidates_waiting() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    assert await a.try_acquire_or_renew()
    assert store.record is not None
    acquired = store.record.acquire_time
    assert not await b.try_acquire_or_renew()
    clock.time = 10.0
    assert await a.try_acquire_or_renew()
    renewed = store.record
    assert renewed.holder == "a"
    assert renewed.acquire_time == acquired
    assert renewed.transitions == 0
    assert not await b.try_acquire_or_renew()  # b sees the renewal at t=10
    clock.time = 24.9
    assert not await b.try_acquire_or_renew()
    clock.time = 25.0
    assert await b.try_acquire_or_renew()


async def test_of_two_racing_candidates_exactly_one_wins() -> None:
    store = FakeLeaseStore()
    a, b = elector(store, "a"), elector(store, "b")
    results = await asyncio.gather(a.try_acquire_or_renew(), b.try_acquire_or_renew())
    assert sorted(results) == [False, True]
    assert store.record is not None
    assert store.record.holder == ("a" if results[0] else "b")


async def test_hold_keeps_renewing_while_requests_succeed() -> None:
    store = FakeLeaseStore()
    a = elector(store, "a", **FAST)
    await a.acquire()
    version = store.version
    holding = asyncio.create_task(a.hold())
    await asyncio.sleep(1.0)  # several renew deadlines
    assert not holding.done()
    assert store.version > version + 2
    holding.cancel()


async def test_leadership_is_lost_when_renewals_fail_past_the_deadline() -> None:
    store = FakeLeaseStore()
    a = elector(store, "a", **FAST)
    await a.acquire()
    holding = asyncio.create_task(a.hold())
    store.failing = True
    await asyncio.wait_for(holding, 10)
    assert not a.is_leader


async def test_a_short_outage_within_the_deadline_is_survived() -> None:
    store = FakeLeaseStore()
    a = elector(store, "a", lease_duration=3.0, renew_deadline=2.0, retry_period=0.1)
    await a.acquire()
    holding = asyncio.create_task(a.hold())
    store.failing = True
    await asyncio.sleep(0.3)  # a few failed renewals, well inside the 2 s deadline
    store.failing = False
    await asyncio.sleep(2.5)
    assert not holding.done()
    assert a.is_leader
    holding.cancel()


async def test_leadership_is_lost_when_another_replica_holds_the_lease() -> None:
    store = FakeLeaseStore()
    a = elector(store, "a", **FAST)
    await a.acquire()
    holding = asyncio.create_task(a.hold())
    assert store.record is not None
    store.put(replace(store.record, holder="intruder"))  # e.g. after a network partition
    await asyncio.wait_for(holding, 10)
    assert not a.is_leader


async def test_release_lets_a_candidate_take_over_at_once() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert await a.release()
    assert store.record is not None
    assert store.record.holder == ""
    assert store.record.lease_duration_seconds == 1
    assert await b.try_acquire_or_renew()  # no time has passed
    assert store.record.holder == "b"
    assert store.record.transitions == 1


async def test_release_after_a_stale_renewal_reads_the_lease_again() -> None:
    store = FakeLeaseStore()
    a = elector(store, "a")
    assert await a.try_acquire_or_renew()
    assert store.record is not None
    store.put(store.record)  # a renewal a's cache missed (sent, then cancelled)
    assert await a.release()
    assert store.record.holder == ""


async def test_release_without_leading_writes_nothing() -> None:
    store = FakeLeaseStore()
    a, b = elector(store, "a"), elector(store, "b")
    assert await a.try_acquire_or_renew()
    version = store.version
    assert not await b.release()
    assert store.version == version


async def test_a_candidate_notices_a_release_before_its_next_poll() -> None:
    store = FakeLeaseStore()
    timing = {"lease_duration": 60.0, "renew_deadline": 40.0, "retry_period": 20.0}
    a, b = elector(store, "a", **timing), elector(store, "b", **timing)
    await a.acquire()
    store.read.clear()
    waiting = asyncio.create_task(b.acquire())
    await store.read.wait()  # b has looked once; its next poll is 20 s away
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert await a.release()
    await asyncio.wait_for(waiting, 5)
    assert b.is_leader


async def test_acquire_keeps_trying_through_errors() -> None:
    store = FakeLeaseStore()
    store.failing = True
    a = elector(store, "a", **FAST)
    acquiring = asyncio.create_task(a.acquire())
    await asyncio.sleep(0.3)
    assert not acquiring.done()
    store.failing = False
    await asyncio.wait_for(acquiring, 5)
    assert a.is_leader


@pytest.mark.parametrize(
    ("timing", "problem"),
    [
        ({"lease_duration": 10.0, "renew_deadline": 10.0}, "lease duration"),
        ({"renew_deadline": 2.0, "retry_period": 2.0}, "renew deadline"),
        ({"retry_period": 0.0}, "retry period"),
    ],
)
def test_inconsistent_timing_is_rejected(timing: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LeaderElectionConfig(identity="a", **timing)


def test_namespace_defaults(tmp_path: Path) -> None:
    service_account = tmp_path / "namespace"
    assert default_namespace({"POD_NAMESPACE": "ops"}, service_account) == "ops"
    assert default_namespace({}, service_account) == "default"
    service_account.write_text("operators\n")
    assert default_namespace({}, service_account) == "operators"


def test_identities_name_the_pod_and_are_unique() -> None:
    first = default_identity({"POD_NAME": "operator-7d9f"})
    second = default_identity({"POD_NAME": "operator-7d9f"})
    assert first.startswith("operator-7d9f_")
    assert first != second
    assert default_identity({}).count("_") >= 1
