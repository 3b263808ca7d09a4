"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

Every replica is a candidate. One holds the Lease (``holderIdentity``) and renews it
every retry period; the others poll it and take it once it has not changed for a lease
duration. Expiry is judged by *local* time since this replica last saw the Lease change,
never by comparing ``renewTime`` with the local clock, so clock skew between nodes does
not matter. Every write is a PUT carrying the resourceVersion that was read: of two
candidates racing for a free Lease, one gets 409 Conflict and stays a candidate.

A leader that cannot renew within the renew deadline (shorter than the lease duration,
so it steps down before anyone else may take over) has lost leadership. On shutdown
the leader releases the Lease (empty holder, 1 s duration, like client-go's
ReleaseOnCancel) so a candidate takes over at once instead of after expiry; candidates
watch the Lease as well as poll it, so they notice a release within moments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from locust_operator.kube.leader_config import (
    DEFAULT_LEASE_NAME,
    RETRY_JITTER,
    SERVICE_ACCOUNT_NAMESPACE,
    LeaderElectionConfig,
    default_identity,
    default_namespace,
)
from locust_operator.kube.reachability import reachability

log = logging.getLogger(__name__)

# The settings are defined in leader_config.py (the command line reads them at every
# start, without loading this module) and re-exported here.
__all__ = [
    "DEFAULT_LEASE_NAME",
    "RETRY_JITTER",
    "SERVICE_ACCOUNT_NAMESPACE",
    "KubeLeaseStore",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeaseConflict",
    "LeaseRecord",
    "LeaseStore",
    "default_identity",
    "default_namespace",
]


@dataclass(frozen=True)
class LeaseRecord:
    """The Lease's spec, and the resourceVersion it was read at ("" for a new Lease)."""

    holder: str  # "" when nobody holds it
    lease_duration_seconds: int
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    transitions: int = 0
    resource_version: str = ""


class LeaseConflict(Exception):
    """The Lease changed since it was read (409), or exists already on create."""


class LeaseStore(Protocol):
    async def get(self) -> LeaseRecord | None: ...

    async def create(self, record: LeaseRecord) -> LeaseRecord: ...

    async def update(self, record: LeaseRecord) -> LeaseRecord:
        """Writes the record if the Lease is still at ``record.resource_version``."""
        ...

    def changes(self) -> AsyncIterator[None]:
        """Yields whenever the Lease may have changed; runs until cancelled."""
        ...


class KubeLeaseStore:
    """The Lease ``namespace/name`` on the apiserver."""

    WATCH_SERVER_TIMEOUT = 60  # s; the watch is re-opened, so a dead connection is noticed
    WATCH_RETRY_SECONDS = 2.0

    def __init__(self, client: AsyncClient, namespace: str, name: str) -> None:
        self._client = client
        self.namespace = namespace
        self.name = name

    async def get(self) -> LeaseRecord | None:
        try:
            lease = await self._client.get(Lease, self.name, namespace=self.namespace)
        except ApiError as error:
            if error.status.code == 404:
                return None
            raise
        return self._record(lease)

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        try:
            return self._record(await self._client.create(self._lease(record)))
        except ApiError as error:
            if error.status.code == 409:
                raise LeaseConflict(error.status.message) from error
            raise

    async def update(self, record: LeaseRecord) -> LeaseRecord:
        try:
            return self._record(await self._client.replace(self._lease(record)))
        except ApiError as error:
            if error.status.code == 409:
                raise LeaseConflict(error.status.message) from error
            raise

    async def changes(self) -> AsyncIterator[None]:
        while True:
            try:
                async for _ in self._client.watch(
                    Lease,
                    namespace=self.namespace,
                    fields={"metadata.name": self.name},
                    server_timeout=self.WATCH_SERVER_TIMEOUT,
                ):
                    yield
            except Exception as error:  # polling continues meanwhile; only slower
                log.debug("watching lease %s/%s failed: %r", self.namespace, self.name, error)
            await asyncio.sleep(self.WATCH_RETRY_SECONDS)

    def _lease(self, record: LeaseRecord) -> Lease:
        return Lease(
            metadata=ObjectMeta(
                name=self.name,
                namespace=self.namespace,
                resourceVersion=record.resource_version or None,
            ),
            spec=LeaseSpec(
                holderIdentity=record.holder or None,
                leaseDurationSeconds=record.lease_duration_seconds,
                acquireTime=record.acquire_time,
                renewTime=record.renew_time,
                leaseTransitions=record.transitions,
            ),
        )

    @staticmethod
    def _record(lease: Lease) -> LeaseRecord:
        spec = lease.spec or LeaseSpec()
        return LeaseRecord(
            holder=spec.holderIdentity or "",
            lease_duration_seconds=spec.leaseDurationSeconds or 0,
            acquire_time=spec.acquireTime,
            renew_time=spec.renewTime,
            transitions=spec.leaseTransitions or 0,
            resource_version=(lease.metadata.resourceVersion if lease.metadata else None) or "",
        )


class LeaderElector:
    """``acquire()`` returns once this replica leads; ``hold()`` renews until it cannot and
    returns when leadership is lost; ``release()`` hands the Lease over on shutdown."""

    def __init__(
        self,
        store: LeaseStore,
        config: LeaderElectionConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        # A lost apiserver is one line from the tracker, not one per attempt of a standby.
        self._apiserver = reachability(getattr(store, "_client", None))
        self.config = config
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0  # local monotonic time the Lease was last seen to change
        self.is_leader = False

    @property
    def identity(self) -> str:
        return self.config.identity

    @property
    def lease(self) -> str:
        return f"{self.config.namespace}/{self.config.lease_name}"

    # --- one attempt ---------------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the Lease; True if this replica holds it now."""
        if self.is_leader and self._observed is not None:
            # Fast path: the leader's last write is normally still the current version.
            with contextlib.suppress(LeaseConflict):
                return self._written(await self._store.update(self._claim(self._observed)))
        current = await self._store.get()
        if current is None:
            fresh = LeaseRecord(holder="", lease_duration_seconds=0)
            try:
                return self._written(await self._store.create(self._claim(fresh)))
            except LeaseConflict:
                return False
        self._observe(current)
        if current.holder and current.holder != self.identity and not self._expired():
            self.is_leader = False
            return False
        try:
            return self._written(await self._store.update(self._claim(current)))
        except LeaseConflict:
            return False

    def _claim(self, current: LeaseRecord) -> LeaseRecord:
        now = self._wall_clock()
        renewing = current.holder == self.identity
        return replace(
            current,
            holder=self.identity,
            lease_duration_seconds=max(1, round(self.config.lease_duration)),
            acquire_time=current.acquire_time if renewing else now,
            renew_time=now,
            # Like client-go: every acquisition but the Lease's creation is a transition.
            transitions=current.transitions
            + (0 if renewing or not current.resource_version else 1),
        )

    def _written(self, record: LeaseRecord) -> bool:
        self._observe(record)
        self.is_leader = True
        return True

    def _observe(self, record: LeaseRecord) -> None:
        observed = self._observed
        if observed is None or observed.resource_version != record.resource_version:
            self._observed = record
            self._observed_at = self._monotonic()

    def _expired(self) -> bool:
        assert self._observed is not None
        duration = self._observed.lease_duration_seconds or self.config.lease_duration
        return self._observed_at + duration <= self._monotonic()

    # --- the loops -----------------------------------------------------------------------

    async def acquire(self) -> None:
        """Returns once this replica holds the Lease. Between attempts it waits a retry
        period, or less when the Lease changes (a leader releasing it)."""
        changed = asyncio.Event()

        async def watch() -> None:
            async for _ in self._store.changes():
                changed.set()

        log.info("waiting to lead: lease %s, identity %s", self.lease, self.identity)
        watcher = asyncio.create_task(watch(), name="lease watch")
        try:
            while not await self._attempt(self.config.renew_deadline):
                changed.clear()
                pause = self.config.retry_period * (1 + RETRY_JITTER * random.random())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), pause)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        log.info("became leader: lease %s, identity %s", self.lease, self.identity)

    async def hold(self) -> None:
        """Renews every retry period; returns once renewals failed for the renew deadline."""
        while True:
            await asyncio.sleep(self.config.retry_period)
            deadline = self._monotonic() + self.config.renew_deadline
            while not await self._attempt(deadline - self._monotonic()):
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    self.is_leader = False
                    log.error(
                        "lost leadership: lease %s not renewed within %gs",
                        self.lease,
                        self.config.renew_deadline,
                    )
                    return
                await asyncio.sleep(min(self.config.retry_period, remaining))

    async def _attempt(self, within: float) -> bool:
        if within <= 0:
            return False
        try:
            return await asyncio.wait_for(self.try_acquire_or_renew(), within)
        except TimeoutError:
            log.warning("lease %s: no answer within %.1fs", self.lease, within)
        except Exception as error:
            if not self._apiserver.failed(error, f"lease {self.lease}"):
                log.warning("lease %s: %s", self.lease, _describe(error))
        return False

    async def release(self) -> bool:
        """Gives the Lease up if this replica holds it, so a candidate takes it at once."""
        if not self.is_leader:
            return False
        self.is_leader = False
        current = self._observed  # our last write; if it is stale, read the Lease again
        for attempt in range(2):
            if attempt:
                current = await self._store.get()
            if current is None or current.holder != self.identity:
                break
            now = self._wall_clock()
            released = replace(
                current, holder="", lease_duration_seconds=1, acquire_time=now, renew_time=now
            )
            try:
                self._observe(await self._store.update(released))
            except LeaseConflict:
                continue
            log.info("released leadership: lease %s", self.lease)
            return True
        return False


def _describe(error: Exception) -> str:
    if isinstance(error, ApiError):
        return f"{error.status.code} {error.status.reason}: {error.status.message}"
    return repr(error)
