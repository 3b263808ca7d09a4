"""Wires informers, the work queue and the reconcile workers together.

Informers watch LocustTests and, label-selected (only ours), the Services, Jobs and Pods
the operator creates. Every change is mapped to the owning LocustTest's key (Pod -> Job
-> LocustTest) and queued; N workers reconcile keys, never one key twice at once. A
periodic resync re-queues every test that can still change (not final) so that timers and
pod health are re-checked even when nothing changes.

The informers run on every replica (a standby's warm caches make failover quick); the
workers and the resync run only while ``run_workers()`` does, i.e. on the leader. Until
then events only update the bookkeeping, and ``run_workers()`` starts by queueing every
cached test, like controller-runtime replaying its caches to a starting controller.

Readiness waits for the informers only: the reconciler and what it builds with, the
event writer, the results poller and the metrics registry are imported in the background
once the caches are synced (``RECONCILE_MODULES``), and made when the workers start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from lightkube import AsyncClient
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod, Service

from locust_operator.api.names import KIND
from locust_operator.config import OperatorConfig
from locust_operator.controller.resource import LocustTestResource
from locust_operator.kube.background_import import BackgroundImport
from locust_operator.kube.informer import EventType, Informer, wait_for_cache_sync
from locust_operator.kube.owners import controller_name
from locust_operator.kube.reachability import reachability
from locust_operator.kube.workqueue import Clock, RateLimiter, ShutDown, WorkQueue
from locust_operator.logs import log_context
from locust_operator.resources import OPERATOR_SELECTOR, TEST_NAME_LABEL, master_job_name

if TYPE_CHECKING:
    from locust_operator.controller.reconciler import Result
    from locust_operator.controller.results_poller import ResultsPoller
    from locust_operator.kube.events import QueuedEvents

log = logging.getLogger(__name__)
# On shutdown, how long events still waiting may take to be written.
EVENT_DRAIN_SECONDS = 2.0

Key = tuple[str, str]  # (namespace, name) of a LocustTest
# What the reconciles need beyond the informers, imported in the background once the
# caches are synced. The metrics registry first: its collectors then register in the same
# order as when a scrape loads it.
RECONCILE_MODULES = (
    "locust_operator.metrics",
    "locust_operator.controller.results_metrics",
    "locust_operator.controller.reconciler",
    "locust_operator.controller.results_poller",
    "locust_operator.kube.master_client",
)
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

    def objects(self) -> list[T]:
        return [obj for informer in self.informers for obj in informer.store.list()]

    def __len__(self) -> int:
        return sum(len(i.store) for i in self.informers)


class TimedWorkQueue(WorkQueue[Key]):
    """Observes how long each key waited between being queued and a worker taking it."""

    def __init__(
        self, rate_limiter: RateLimiter[Key] | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(rate_limiter, clock)
        self._queued_at: dict[Key, float] = {}

    def _enqueue(self, key: Key) -> None:
        self._queued_at.setdefault(key, self._clock.now())
        super()._enqueue(key)

    async def get(self) -> Key:
        key = await super().get()
        queued_at = self._queued_at.pop(key, None)
        if queued_at is not None:
            from locust_operator.metrics import WORKQUEUE_WAIT_SECONDS

            WORKQUEUE_WAIT_SECONDS.observe(self._clock.now() - queued_at)
        return key


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


def _results_poller(
    client: AsyncClient, config: OperatorConfig, controller: Controller
) -> ResultsPoller | None:
    """The results poller (controller/results_poller.py), or None when results are off."""
    from locust_operator.controller.results_poller import ResultsPoller
    from locust_operator.kube.master_client import detect_access, master_client

    access = detect_access(config.results_master_access)
    if access is None:
        return None

    def enqueue(key: Key) -> None:
        if controller._queueing:
            controller.queue.add(key, urgent=True)

    return ResultsPoller(
        client,
        config,
        master_client(access, client),
        tests=controller.tests,
        jobs=controller.jobs,
        enqueue=enqueue,
    )


def needs_resync(test: Mapping[str, Any], master_job: Job | None) -> bool:
    """Whether the periodic resync should look at a test. A final one (Succeeded, or Failed
    for good) has no timer or pod health left to re-check; what can still change it (a
    spec edit, a deleted child, its deletion) arrives as an event and queues it anyway."""
    from locust_operator.controller.status import is_final

    status = test.get("status")
    return not is_final(status if isinstance(status, Mapping) else {}, master_job)


async def _logged(key: Key, work: Awaitable[None]) -> None:
    """``work`` with the test's log context (as a reconcile has it)."""
    with log_context(*key):
        await work


class KeyReconciler(Protocol):
    """Reconciles one LocustTest by its key (LocustTestReconciler)."""

    async def reconcile(self, namespace: str, name: str) -> Result: ...


class Controller:
    def __init__(
        self,
        client: AsyncClient,
        config: OperatorConfig,
        namespaces: Sequence[str] = (),
        *,
        queue: WorkQueue[Key] | None = None,
        reconciler: KeyReconciler | None = None,
    ) -> None:
        """``queue`` and ``reconciler`` replace the defaults (a timed work queue, a
        LocustTestReconciler on the caches), e.g. with a fake clock or a recording fake."""
        self._client = client
        self._config = config
        self._apiserver = reachability(client)
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
        self.queue: WorkQueue[Key] = queue if queue is not None else TimedWorkQueue()
        # The default reconciler and its event writer are made when first needed.
        self._reconciler = reconciler
        self.events: QueuedEvents | None = None
        # Made when the workers first start; None: RESULTS_MASTER_ACCESS=off.
        self.results: ResultsPoller | None = None
        self._results_made = False
        self._imports = BackgroundImport(RECONCILE_MODULES)
        self._metrics_exported = False
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
        self.synced = asyncio.Event()  # every informer's cache is filled
        self.started = asyncio.Event()  # the reconcile workers run
        self._queueing = False  # events queue keys only while workers run (on the leader)
        self._background: list[asyncio.Task[None]] = []  # leader-only tasks besides workers
        self._deletions: set[asyncio.Task[None]] = set()  # Deleting events being written

    @property
    def reconciler(self) -> KeyReconciler:
        """The reconciler given, else a LocustTestReconciler on the caches, made (and
        imported, unless the background import did) when first needed: as the workers
        start."""
        if self._reconciler is None:
            from locust_operator.controller.reconciler import LocustTestReconciler
            from locust_operator.kube.events import EventRecorder, QueuedEvents

            # Reconciles hand events over and go on: a burst of new tests is not held up
            # by the writes of their Created events.
            # While new tests wait for their children, events wait: one writer, not four.
            self.events = QueuedEvents(EventRecorder(self._client), busy=self.queue.has_urgent)
            self._reconciler = LocustTestReconciler(
                self._client,
                self._config,
                tests=self.tests,
                services=self.services,
                jobs=self.jobs,
                pods=self.pods,
                recorder=self.events,
            )
        return self._reconciler

    # --- event mapping -------------------------------------------------------------------

    def _on_test(self, event: EventType, obj: Any) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event == "DELETED":
            self._test_revisions.pop(key, None)
            self._first_seen.pop(key, None)
            deleted = getattr(self.reconciler, "deleted", None)
            if self._queueing and deleted is not None:  # the leader says so, once
                task = asyncio.get_running_loop().create_task(_logged(key, deleted(obj)))
                self._deletions.add(task)
                task.add_done_callback(self._deletions.discard)
            return  # gone; the garbage collector removes the children
        revision = (meta.get("generation"), meta.get("deletionTimestamp"), meta.get("uid"))
        # Our own status and finalizer writes come back as updates: nothing to do for them
        # (the resync still looks at every test). New tests, spec edits and deletions are.
        if self._test_revisions.get(key) == revision and event == "MODIFIED":
            return
        if event == "ADDED" and key not in self._test_revisions:
            self._first_seen[key] = time.monotonic()
        self._test_revisions[key] = revision
        if self._queueing:
            self.queue.add(key, urgent=True)

    def _on_child(self, event: EventType, obj: Service | Job) -> None:
        owner = controller_name(obj, KIND)
        if owner and obj.metadata and obj.metadata.namespace:
            self._enqueue((obj.metadata.namespace, owner), event)

    def _on_pod(self, event: EventType, pod: Pod) -> None:
        if not pod.metadata or not pod.metadata.namespace:
            return
        namespace = pod.metadata.namespace
        job_name = controller_name(pod, "Job")
        job = self.jobs.get(namespace, job_name) if job_name else None
        owner = controller_name(job, KIND) if job is not None else None
        # The Job may not be cached yet; the label names the test just the same.
        owner = owner or (pod.metadata.labels or {}).get(TEST_NAME_LABEL)
        if owner:
            self._enqueue((namespace, owner), event)

    def _enqueue(self, key: Key, event: EventType) -> None:
        if not self._queueing:
            return
        if event == "DELETED":
            self.queue.add(key, urgent=True)  # a child to heal
        else:
            # Pods and Jobs change status many times while a test starts; one reconcile
            # a moment later sees them all.
            self.queue.add_after(key, STATUS_COALESCE_SECONDS)

    # --- running -------------------------------------------------------------------------

    @property
    def informers(self) -> list[Informer[Any]]:
        return [
            *self.tests.informers,
            *self.services.informers,
            *self.jobs.informers,
            *self.pods.informers,
        ]

    def export_metrics(self) -> None:
        """Points the scrape-time metrics (queue depth, tests by phase, finished tests'
        results) at this controller, loading the metrics registry. Does it once: call it
        before every scrape."""
        if self._metrics_exported:
            return
        from locust_operator.metrics import LOCUSTTESTS_BY_PHASE, WORKQUEUE_DEPTH

        WORKQUEUE_DEPTH.set_function(lambda: len(self.queue))
        LOCUSTTESTS_BY_PHASE.source = self.tests.objects
        from locust_operator.controller.results_metrics import TEST_RESULTS

        TEST_RESULTS.source = self.tests.objects
        self._metrics_exported = True

    async def run_informers(self) -> None:
        """Runs the informers until cancelled; sets ``synced`` once every cache is filled,
        then imports the modules of the reconciles in the background."""
        async with asyncio.TaskGroup() as tasks:
            for informer in self.informers:
                tasks.create_task(informer.run(), name=f"informer {informer.name}")
            await wait_for_cache_sync(*self.informers)
            log.info("caches synced (%d tests cached)", len(self.tests))
            self.synced.set()
            # Not while the informers list: the loop is busy then (connections, TLS,
            # decoding), and the import would only slow the lists down.
            self._imports.start()

    def start_queueing(self) -> None:
        """From now on events queue keys; every cached test is queued too (what happened
        before this replica led, or started). ``run_workers()`` begins with this."""
        self._queueing = True
        for key in self.tests.test_keys():
            self.queue.add(key)

    async def run_workers(self) -> None:
        """Runs the reconcile workers and the resync (caches must be synced) until
        ``stop_workers()``, after which in-flight reconciles finish, or cancellation."""
        await self._imports.wait()  # the background import, if run_informers() started it
        self.reconciler  # noqa: B018 (made now rather than by the first worker)
        if not self._results_made:
            self.results = _results_poller(self._client, self._config, self)
            self._results_made = True
        self.start_queueing()
        log.info(
            "controller started (%d tests cached, %d workers)",
            len(self.tests),
            self._config.max_concurrent_reconciles,
        )
        self.started.set()
        resync = asyncio.create_task(self._resync(), name="resync")
        if self.results is not None:
            self._background.append(asyncio.create_task(self.results.run(), name="results"))
        workers = [
            asyncio.create_task(self._worker(), name=f"reconcile worker {number}")
            for number in range(self._config.max_concurrent_reconciles)
        ]
        try:
            await asyncio.gather(*workers)  # until the queue shuts down
        finally:
            self._queueing = False
            self.queue.shutdown()
            background, self._background = self._background, []
            for task in (resync, *workers, *background):
                task.cancel()
            await asyncio.gather(resync, *workers, *background, return_exceptions=True)
            if self.events is not None:
                await self.events.drain(EVENT_DRAIN_SECONDS)

    def stop_workers(self) -> None:
        """Workers take no new keys; ``run_workers()`` returns once the current ones are done."""
        self._queueing = False
        self.queue.shutdown()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self._config.resync_period_seconds)
            self.resync_once()

    def resync_once(self) -> None:
        """Queues every cached test that a timer or pod health may still change."""
        for key in self.tests.test_keys():
            # A key waiting out its retry backoff comes back when the backoff ends:
            # the resync must not turn a failing test into a loop at its period.
            if self.queue.num_requeues(key) == 0 and self._may_change(key):
                self.queue.add(key)

    def _may_change(self, key: Key) -> bool:
        test = self.tests.get(*key)
        if test is None:
            return False
        namespace, name = key
        return needs_resync(test, self.jobs.get(namespace, master_job_name(name)))

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            with log_context(*key):
                await self._reconcile_one(key)

    async def _reconcile_one(self, key: Key) -> None:
        from locust_operator.controller.reconciler import ChildCreationFailed, Conflict
        from locust_operator.metrics import (
            CHILDREN_CREATED_SECONDS,
            RECONCILE_ERRORS,
            RECONCILE_SECONDS,
            RECONCILES,
        )

        outcome = "error"
        try:
            with RECONCILE_SECONDS.time():
                result = await self.reconciler.reconcile(*key)
        except asyncio.CancelledError:
            raise
        except Conflict as conflict:
            outcome = "conflict"
            log.debug("conflict, retrying: %s", conflict)
            self.queue.add_rate_limited(key)
        except ChildCreationFailed as failure:
            RECONCILE_ERRORS.inc()
            log.warning("%s; retrying with backoff", failure)
            self.queue.add_rate_limited(key)
        except Exception as error:
            RECONCILE_ERRORS.inc()
            # A lost apiserver is one line from the reachability tracker, not a traceback
            # per test and retry.
            if not self._apiserver.failed(error, "reconcile"):
                log.exception("reconcile failed; retrying with backoff")
            self.queue.add_rate_limited(key)
        else:
            requeued = result.children_created or result.requeue_after is not None
            outcome = "requeue" if requeued else "success"
            self.queue.forget(key)
            if result.children_created:
                # Its first status comes next, behind urgent work (the normal lane).
                self.queue.add(key)
            elif result.requeue_after is not None:
                self.queue.add_after(key, result.requeue_after)
            first_seen = self._first_seen.pop(key, None)
            if first_seen is not None and result.children_created:
                CHILDREN_CREATED_SECONDS.observe(time.monotonic() - first_seen)
        finally:
            RECONCILES.labels(outcome).inc()
            self.reconciles += 1
            with contextlib.suppress(Exception):
                self.queue.done(key)
