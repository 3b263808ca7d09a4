"""Wires informers, the work queue and the reconcile workers together.

Informers watch LocustTests and, label-selected (only ours), the Services, Jobs and Pods
the operator creates. Every change is mapped to the owning LocustTest's key (Pod -> Job
-> LocustTest) and queued; N workers reconcile keys, never one key twice at once. A
periodic resync re-queues every test so that timers and pod health are re-checked even
when nothing changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from lightkube import AsyncClient
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod, Service

from locust_operator.api.names import KIND
from locust_operator.config import OperatorConfig
from locust_operator.controller.reconciler import (
    ChildCreationFailed,
    Conflict,
    LocustTestReconciler,
    LocustTestResource,
)
from locust_operator.kube.events import EventRecorder
from locust_operator.kube.informer import EventType, Informer, wait_for_cache_sync
from locust_operator.kube.workqueue import ShutDown, WorkQueue
from locust_operator.metrics import CHILDREN_CREATED_SECONDS, RECONCILE_SECONDS, RECONCILES
from locust_operator.resources import OPERATOR_SELECTOR, TEST_NAME_LABEL

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name) of a LocustTest
# How long child status changes are gathered before one reconcile looks at them all.
STATUS_COALESCE_SECONDS = 0.5
T = TypeVar("T")


class Caches(Generic[T]):
    """One informer per watched namespace (or one for all), read as a single cache."""

    def __init__(self, informers: dict[str | None, Informer[T]]) -> None:
        self._by_namespace = informers  # key None: one informer for all namespaces
        self.informers = list(informers.values())

    def _for(self, namespace: str) -> Informer[T] | None:
        return self._by_namespace.get(None) or self._by_namespace.get(namespace)

    def get(self, namespace: str, name: str) -> T | None:
        informer = self._for(namespace)
        return informer.store.get(namespace, name) if informer else None

    def by_label(self, key: str, value: str, namespace: str) -> list[T]:
        informer = self._for(namespace)
        return informer.store.by_label(key, value, namespace) if informer else []

    def test_keys(self) -> list[Key]:
        return [key for informer in self.informers for key in informer.store.keys()]  # noqa: SIM118

    def __len__(self) -> int:
        return sum(len(i.store) for i in self.informers)


def _slim_pod(pod: Pod) -> Pod:
    """Pods are the bulk of the cache (one per worker). The controller reads their
    metadata and status, and from the spec only which init containers are sidecars."""
    if pod.spec is not None:
        pod.spec = PodSpec(
            containers=[],
            initContainers=[
                Container(name=c.name, restartPolicy=c.restartPolicy)
                for c in pod.spec.initContainers or []
            ]
            or None,
        )
    return pod


def _owner(obj: Any, kind: str) -> str | None:
    refs = (obj.metadata.ownerReferences if obj.metadata else None) or []
    for ref in refs:
        if ref.controller and ref.kind == kind:
            return str(ref.name)
    return None


class Controller:
    def __init__(
        self,
        client: AsyncClient,
        config: OperatorConfig,
        namespaces: Sequence[str] = (),
    ) -> None:
        self._config = config
        scopes: list[str | None] = list(namespaces) or [None]

        def informers(resource: Any, **options: Any) -> Caches[Any]:
            return Caches(
                {ns: Informer(client, resource, namespace=ns, **options) for ns in scopes}
            )

        self.tests: Caches[Any] = informers(LocustTestResource)
        self.services: Caches[Service] = informers(Service, labels=OPERATOR_SELECTOR)
        self.jobs: Caches[Job] = informers(Job, labels=OPERATOR_SELECTOR)
        self.pods: Caches[Pod] = informers(
            Pod, labels=OPERATOR_SELECTOR, index_labels=[TEST_NAME_LABEL], transform=_slim_pod
        )
        self.queue: WorkQueue[Key] = WorkQueue()
        self.recorder = EventRecorder(client)
        self.reconciler = LocustTestReconciler(
            client,
            config,
            tests=self.tests,
            services=self.services,
            jobs=self.jobs,
            pods=self.pods,
            recorder=self.recorder,
        )
        for informer in self.tests.informers:
            informer.add_handler(self._on_test)
        for caches in (self.services, self.jobs):
            for informer in caches.informers:
                informer.add_handler(self._on_child)
        for informer in self.pods.informers:
            informer.add_handler(self._on_pod)
        self._test_revisions: dict[Key, tuple[Any, Any, Any]] = {}
        self._first_seen: dict[Key, float] = {}  # new tests, until their children exist
        self.reconciles = 0
        self.started = asyncio.Event()

    # --- event mapping -------------------------------------------------------------------

    def _on_test(self, event: EventType, obj: Any) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event == "DELETED":
            self._test_revisions.pop(key, None)
            self._first_seen.pop(key, None)
            return  # gone; the garbage collector removes the children
        revision = (meta.get("generation"), meta.get("deletionTimestamp"), meta.get("uid"))
        # Our own status and finalizer writes come back as updates: nothing to do for them
        # (the resync still looks at every test). New tests, spec edits and deletions are.
        if self._test_revisions.get(key) == revision and event == "MODIFIED":
            return
        if event == "ADDED" and key not in self._test_revisions:
            self._first_seen[key] = time.monotonic()
        self._test_revisions[key] = revision
        self.queue.add(key, urgent=True)

    def _on_child(self, event: EventType, obj: Service | Job) -> None:
        owner = _owner(obj, KIND)
        if owner and obj.metadata and obj.metadata.namespace:
            self._enqueue((obj.metadata.namespace, owner), event)

    def _on_pod(self, event: EventType, pod: Pod) -> None:
        if not pod.metadata or not pod.metadata.namespace:
            return
        namespace = pod.metadata.namespace
        job_name = _owner(pod, "Job")
        job = self.jobs.get(namespace, job_name) if job_name else None
        owner = _owner(job, KIND) if job is not None else None
        # The Job may not be cached yet; the label names the test just the same.
        owner = owner or (pod.metadata.labels or {}).get(TEST_NAME_LABEL)
        if owner:
            self._enqueue((namespace, owner), event)

    def _enqueue(self, key: Key, event: EventType) -> None:
        if event == "DELETED":
            self.queue.add(key, urgent=True)  # a child to heal
        else:
            # Pods and Jobs change status many times while a test starts; one reconcile
            # a moment later sees them all.
            self.queue.add_after(key, STATUS_COALESCE_SECONDS)

    # --- running -------------------------------------------------------------------------

    async def run(self) -> None:
        every = [
            *self.tests.informers,
            *self.services.informers,
            *self.jobs.informers,
            *self.pods.informers,
        ]
        async with asyncio.TaskGroup() as tasks:
            for informer in every:
                tasks.create_task(informer.run(), name=f"informer {informer.name}")
            try:
                await wait_for_cache_sync(*every)
                log.info(
                    "controller started (%d tests cached, %d workers)",
                    len(self.tests),
                    self._config.max_concurrent_reconciles,
                )
                self.started.set()
                for number in range(self._config.max_concurrent_reconciles):
                    tasks.create_task(self._worker(), name=f"reconcile worker {number}")
                tasks.create_task(self._resync(), name="resync")
                await asyncio.Event().wait()  # until cancelled
            finally:
                self.queue.shutdown()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self._config.resync_period_seconds)
            for key in self.tests.test_keys():
                self.queue.add(key)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            outcome = "error"
            try:
                with RECONCILE_SECONDS.time():
                    result = await self.reconciler.reconcile(*key)
            except asyncio.CancelledError:
                raise
            except Conflict as conflict:
                outcome = "conflict"
                log.debug("%s/%s: conflict, retrying: %s", *key, conflict)
                self.queue.add_rate_limited(key)
            except ChildCreationFailed as failure:
                log.warning("%s/%s: %s; retrying with backoff", *key, failure)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("%s/%s: reconcile failed; retrying with backoff", *key)
                self.queue.add_rate_limited(key)
            else:
                requeued = result.requeue or result.requeue_after is not None
                outcome = "requeue" if requeued else "success"
                self.queue.forget(key)
                if result.requeue:
                    self.queue.add(key)
                first_seen = self._first_seen.pop(key, None)
                if first_seen is not None and result.requeue:
                    CHILDREN_CREATED_SECONDS.observe(time.monotonic() - first_seen)
                elif result.requeue_after is not None:
                    self.queue.add_after(key, result.requeue_after)
            finally:
                RECONCILES.labels(outcome).inc()
                self.reconciles += 1
                with contextlib.suppress(Exception):
                    self.queue.done(key)
