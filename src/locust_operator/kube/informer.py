"""Informers: a local cache of one resource type kept current by LIST then WATCH, with
change callbacks, like client-go's informers (run one per resource type, share it).

Reconcilers read the cache (``informer.store``) instead of the apiserver; handlers only
enqueue keys. Cached objects are shared: treat them as read-only.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from lightkube import AsyncClient

from locust_operator.kube.listwatch import (
    ListWatch,
    ResourceExpired,
    WatchEvent,
    object_key,
    object_labels,
    object_resource_version,
    strip_managed_fields,
    watch_timeout,
)
from locust_operator.kube.reachability import reachability

T = TypeVar("T")

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[[EventType, T], None]

log = logging.getLogger(__name__)

# A watch that ends sooner than this without a single event did not make progress:
# retrying it at once could loop as fast as the apiserver answers.
MIN_PRODUCTIVE_WATCH_SECONDS = 1.0
# The backoff step used while the apiserver is unreachable or not ready: its first, 0.8 to
# 1.2 s, without counting the attempt as a failure.
UNREACHABLE_FAILURES = 1


class Store(Generic[T]):
    """Objects by namespace and name, with an index on chosen label keys so that
    "the pods labelled performance-test-name=X in namespace N" costs no scan."""

    def __init__(self, index_labels: Iterable[str] = ()) -> None:
        self._objects: dict[str, dict[str, T]] = {}  # namespace -> name -> object
        # label key -> label value -> namespace -> names
        self._label_index: dict[str, dict[str, dict[str, set[str]]]] = {
            key: {} for key in index_labels
        }

    def __len__(self) -> int:
        return sum(len(names) for names in self._objects.values())

    def get(self, namespace: str, name: str) -> T | None:
        return self._objects.get(namespace, {}).get(name)

    def list(self, namespace: str | None = None) -> builtins.list[T]:
        if namespace is not None:
            return list(self._objects.get(namespace, {}).values())
        return [obj for names in self._objects.values() for obj in names.values()]

    def keys(self) -> builtins.list[tuple[str, str]]:
        return [(ns, name) for ns, names in self._objects.items() for name in names]

    def by_label(self, key: str, value: str, namespace: str | None = None) -> builtins.list[T]:
        """Objects whose label ``key`` is ``value``; ``key`` must be an indexed label."""
        if key not in self._label_index:
            raise KeyError(f"label {key!r} is not indexed (index_labels={self.index_labels})")
        by_namespace = self._label_index[key].get(value, {})
        namespaces = [namespace] if namespace is not None else list(by_namespace)
        return [self._objects[ns][name] for ns in namespaces for name in by_namespace.get(ns, ())]

    @property
    def index_labels(self) -> builtins.list[str]:
        return list(self._label_index)

    # -- writes: the informer's --------------------------------------------------------

    def put(self, obj: T) -> T | None:
        """Stores the object; returns the one it replaced, if any."""
        namespace, name = object_key(obj)
        old = self.remove(namespace, name)
        self._objects.setdefault(namespace, {})[name] = obj
        labels = object_labels(obj)
        for key, values in self._label_index.items():
            if key in labels:
                values.setdefault(labels[key], {}).setdefault(namespace, set()).add(name)
        return old

    def remove(self, namespace: str, name: str) -> T | None:
        names = self._objects.get(namespace)
        old = names.pop(name, None) if names is not None else None
        if old is None:
            return None
        if not names:
            del self._objects[namespace]
        labels = object_labels(old)
        for key, values in self._label_index.items():
            if key in labels:
                _discard(values, labels[key], namespace, name)
        return old

    def replace(self, objects: Iterable[T]) -> builtins.list[tuple[EventType, T]]:
        """Makes the store hold exactly ``objects``; returns the changes: DELETED (with
        the last cached state) for objects that are gone, ADDED for new ones, MODIFIED
        for those whose resourceVersion changed. Unchanged objects are not reported."""
        fresh = {object_key(obj): obj for obj in objects}
        changes: builtins.list[tuple[EventType, T]] = []
        for namespace, name in self.keys():
            if (namespace, name) not in fresh:
                gone = self.remove(namespace, name)
                assert gone is not None
                changes.append(("DELETED", gone))
        for obj in fresh.values():
            old = self.put(obj)
            if old is None:
                changes.append(("ADDED", obj))
            elif object_resource_version(old) != object_resource_version(obj):
                changes.append(("MODIFIED", obj))
        return changes


def _discard(values: dict[str, dict[str, set[str]]], value: str, namespace: str, name: str) -> None:
    names = values[value][namespace]
    names.discard(name)
    if not names:
        del values[value][namespace]
        if not values[value]:
            del values[value]


# An apiserver starting up answers 503 (paths not installed yet) and 429 ('storage is
# (re)initializing', retry after 1 s).
_NOT_READY_CODES = (429, 503)


def _unavailable(error: BaseException) -> bool:
    """The apiserver answered that it cannot serve yet: retry soon, it is no failure."""
    status = getattr(error, "status", None)  # lightkube's ApiError
    if getattr(status, "code", None) in _NOT_READY_CODES:
        return True
    response = getattr(error, "response", None)  # httpx's HTTPStatusError
    return getattr(response, "status_code", None) in _NOT_READY_CODES


@dataclass
class RetryBackoff:
    """Capped exponential backoff with jitter between failed list/watch attempts."""

    initial: float = 0.8
    cap: float = 30.0

    def delay(self, failures: int) -> float:
        base = self.initial * 2.0 ** min(failures - 1, 32)
        return min(self.cap, base * (1.0 + 0.5 * random.random()))

    async def wait(self, failures: int) -> None:
        await asyncio.sleep(self.delay(failures))


class Informer(Generic[T]):
    """Caches the objects of ``resource`` (in ``namespace``, or all; matching ``labels``)
    and calls handlers on every change, after the store is updated.

    ``run()`` lists (paginated), then watches from the list's resourceVersion with
    bookmarks; a closed stream resumes from the last resourceVersion seen, 410 Gone
    re-lists (handlers get DELETED for what vanished meanwhile), other errors are
    logged and retried with backoff. It runs until cancelled; running it again resumes
    from the last resourceVersion, with the store as it was.
    """

    def __init__(
        self,
        client: AsyncClient,
        resource: type[T],
        *,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        transform: Callable[[T], T] | None = None,
        index_labels: Iterable[str] = (),
        name: str | None = None,
        page_size: int = 500,
        watch_timeout_seconds: float = 300.0,
    ) -> None:
        self.name = name or resource.__name__ + (f"[{namespace}]" if namespace else "")
        self.store: Store[T] = Store(index_labels)
        self.page_size = page_size
        self.watch_timeout_seconds = watch_timeout_seconds  # each watch: [t, 2t)
        self.backoff = RetryBackoff()
        self._source = ListWatch(client, resource, namespace, labels)
        self._apiserver = reachability(client)  # the same tracker as the ListWatch's
        self._transform = transform
        self._handlers: list[Handler[T]] = []
        self._synced = asyncio.Event()
        self._resource_version: str | None = None  # None: list first
        self._watch_productive = False
        self._running = False

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    @property
    def resource_version(self) -> str | None:
        """The last resourceVersion seen; None until listed or after a 410."""
        return self._resource_version

    def add_handler(self, handler: Handler[T]) -> None:
        """Adds handler(event, obj). It must not block; it sees only later changes, so
        add handlers before ``run()``."""
        self._handlers.append(handler)

    async def wait_synced(self) -> None:
        """Returns once the first list is in the store and its handlers have run."""
        await self._synced.wait()

    async def run(self) -> None:
        if self._running:
            raise RuntimeError(f"informer {self.name} is already running")
        self._running = True
        try:
            await self._list_and_watch()
        finally:
            self._running = False

    async def _list_and_watch(self) -> None:
        failures = 0
        while True:
            failed, unreachable, relisted = True, False, False
            self._watch_productive = False
            try:
                if self._resource_version is None:
                    relisted = True
                    await self._relist()
                await self._watch(self._resource_version or "")
                failed = False
            except ResourceExpired as gone:
                log.info("%s: resourceVersion too old (%s); re-listing", self.name, gone)
                self._resource_version = None
                failed = False
                if not relisted:
                    # The apiserver answered: whatever failed before (an outage) is over.
                    # Re-list at once; only a list that expires at once backs off.
                    failures = 0
                    continue
            except Exception as error:
                # A lost apiserver is logged once by the reachability tracker, not per informer.
                unreachable = self._apiserver.failed(error, self.name)
                if not unreachable and _unavailable(error):
                    unreachable = True  # up but not ready yet (503, 429): as good as down
                    log.debug("%s: apiserver not ready: %s", self.name, error)
                elif not unreachable:
                    log.warning("%s: list/watch failed: %r", self.name, error)
            if self._watch_productive:
                failures = 0
                if not failed:
                    continue
            if unreachable:
                # While the apiserver does not answer, or answers that it is not ready, knock
                # often (a refused connect costs nothing) and count nothing: the caches are
                # back within about a second of it, without the outage's backoff.
                await self.backoff.wait(UNREACHABLE_FAILURES)
                continue
            failures += 1
            await self.backoff.wait(failures)

    async def _relist(self) -> None:
        log.debug("%s: listing", self.name)
        items, resource_version = await self._source.list(self.page_size)
        changes = self.store.replace(self._prepare(obj) for obj in items)
        self._resource_version = resource_version
        log.debug("%s: listed %d objects at %s", self.name, len(items), resource_version)
        for event, obj in changes:
            self._notify(event, obj)
        self._synced.set()

    async def _watch(self, resource_version: str) -> None:
        timeout = watch_timeout(self.watch_timeout_seconds)
        log.debug("%s: watching from %s for %ds", self.name, resource_version, timeout)
        loop = asyncio.get_running_loop()
        started, events = loop.time(), 0
        try:
            async with contextlib.aclosing(self._source.watch(resource_version, timeout)) as stream:
                async for event in stream:
                    events += 1
                    self._apply(event)
        finally:
            elapsed = loop.time() - started
            self._watch_productive = events > 0 or elapsed >= MIN_PRODUCTIVE_WATCH_SECONDS
        log.debug("%s: watch closed after %d events", self.name, events)

    def _apply(self, event: WatchEvent[T]) -> None:
        if event.obj is not None:
            obj = self._prepare(event.obj)
            if event.type == "DELETED":
                self.store.remove(*object_key(obj))
                self._notify("DELETED", obj)
            else:
                old = self.store.put(obj)
                self._notify("ADDED" if old is None else "MODIFIED", obj)
        if event.resource_version:
            self._resource_version = event.resource_version

    def _prepare(self, obj: T) -> T:
        strip_managed_fields(obj)
        return self._transform(obj) if self._transform is not None else obj

    def _notify(self, event: EventType, obj: T) -> None:
        for handler in self._handlers:
            try:
                handler(event, obj)
            except Exception:
                log.exception("%s: %s handler failed", self.name, event)


async def wait_for_cache_sync(*informers: Informer[Any]) -> None:
    """Returns once every informer has synced (their ``run()`` must be running)."""
    await asyncio.gather(*(informer.wait_synced() for informer in informers))
