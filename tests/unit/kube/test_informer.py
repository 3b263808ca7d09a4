"""The informer's list/watch loop against a scripted fake of the apiserver."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2
import pytest
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ManagedFieldsEntry, ObjectMeta, Status
from lightkube.resources.core_v1 import Pod

from locust_operator.kube import informer as informer_module
from locust_operator.kube.informer import Informer, RetryBackoff, wait_for_cache_sync
from locust_operator.kube.listwatch import ResourceExpired, WatchEvent
from tests.helpers import eventually

TEST_LABEL = "performance-test-name"
CLOSE = object()  # ends the current watch stream cleanly


def pod(name: str, version: int, **labels: str) -> Pod:
    meta = ObjectMeta(
        namespace="ns",
        name=name,
        resourceVersion=str(version),
        labels=labels,
        managedFields=[ManagedFieldsEntry(manager="kubectl")],
    )
    return Pod(metadata=meta)


def api_error(code: int, message: str) -> ApiError:
    return ApiError(status=Status(code=code, message=message))


class FakeApiserver:
    """Current objects for LIST; WATCH streams play what the test sends."""

    def __init__(self, *objects: Pod) -> None:
        self.objects = {o.metadata.name: o for o in objects if o.metadata and o.metadata.name}
        self.version = 10
        self.list_errors: list[Exception] = []
        self.lists = 0
        self.watched_from: list[str] = []
        self.list_watch_args: tuple[Any, ...] = ()
        self._stream: asyncio.Queue[Any] = asyncio.Queue()

    def list_watch(
        self, client: Any, resource: type[Pod], namespace: str | None, labels: Mapping[str, str]
    ) -> FakeApiserver:
        self.list_watch_args = (resource, namespace, labels)
        return self

    async def list(self, page_size: int) -> tuple[list[Pod], str]:
        self.lists += 1
        if self.list_errors:
            raise self.list_errors.pop(0)
        return list(self.objects.values()), str(self.version)

    async def watch(self, resource_version: str, timeout_seconds: int) -> AsyncIterator[Any]:
        self.watched_from.append(resource_version)
        while True:
            item = await self._stream.get()
            if item is CLOSE:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def send(self, kind: str, obj: Pod) -> None:
        assert obj.metadata and obj.metadata.resourceVersion
        self._stream.put_nowait(WatchEvent(kind, obj.metadata.resourceVersion, obj))  # type: ignore[arg-type]

    def bookmark(self, version: int) -> None:
        self._stream.put_nowait(WatchEvent("BOOKMARK", str(version), None))

    def end_stream(self, error: Exception | None = None) -> None:
        self._stream.put_nowait(error or CLOSE)


class RecordingBackoff(RetryBackoff):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[int] = []

    async def wait(self, failures: int) -> None:
        self.waits.append(failures)
        await asyncio.sleep(0)


class Events:
    def __init__(self, informer: Informer[Pod]) -> None:
        self.seen: list[tuple[str, str, str]] = []  # event, name, resourceVersion
        self.consistent = True  # the store already reflected each event when it came
        self._informer = informer
        informer.add_handler(self)

    def __call__(self, event: str, obj: Pod) -> None:
        assert obj.metadata and obj.metadata.name and obj.metadata.resourceVersion
        cached = self._informer.store.get("ns", obj.metadata.name)
        self.consistent &= cached is None if event == "DELETED" else cached is obj
        self.seen.append((event, obj.metadata.name, obj.metadata.resourceVersion))

    async def wait_for(self, *expected: tuple[str, str, str]) -> None:
        async def arrived() -> bool:
            return all(e in self.seen for e in expected)

        await eventually(arrived, within=5, interval=0.005, what=f"events {expected}")


@pytest.fixture
def apiserver(monkeypatch: pytest.MonkeyPatch) -> FakeApiserver:
    server = FakeApiserver(pod("p1", 1), pod("p2", 2, **{TEST_LABEL: "x"}))
    monkeypatch.setattr(informer_module, "ListWatch", server.list_watch)
    return server


def new_informer(**options: Any) -> tuple[Informer[Pod], Events, RecordingBackoff]:
    informer: Informer[Pod] = Informer(None, Pod, **options)  # type: ignore[arg-type]
    informer.backoff = backoff = RecordingBackoff()
    return informer, Events(informer), backoff


@contextlib.asynccontextmanager
async def running(*informers: Informer[Any]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(i.run()) for i in informers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_lists_then_watches_and_handlers_see_the_store_updated(
    apiserver: FakeApiserver,
) -> None:
    informer, events, backoff = new_informer(namespace="ns", labels={TEST_LABEL: "x"})
    assert apiserver.list_watch_args == (Pod, "ns", {TEST_LABEL: "x"})
    async with running(informer):
        await informer.wait_synced()
        assert informer.has_synced
        assert sorted(events.seen) == [("ADDED", "p1", "1"), ("ADDED", "p2", "2")]
        apiserver.send("ADDED", pod("p3", 11))
        apiserver.send("MODIFIED", pod("p1", 12))
        apiserver.send("DELETED", pod("p2", 13))
        await events.wait_for(("DELETED", "p2", "13"))
    assert events.seen[2:] == [
        ("ADDED", "p3", "11"),
        ("MODIFIED", "p1", "12"),
        ("DELETED", "p2", "13"),
    ]
    assert events.consistent
    assert sorted(informer.store.keys()) == [("ns", "p1"), ("ns", "p3")]
    assert informer.resource_version == "13"
    assert apiserver.watched_from == ["10"]
    assert backoff.waits == []


async def test_an_added_event_for_a_cached_object_is_reported_as_modified(
    apiserver: FakeApiserver,
) -> None:
    informer, events, _ = new_informer()
    async with running(informer):
        await informer.wait_synced()
        apiserver.send("ADDED", pod("p1", 11))
        await events.wait_for(("MODIFIED", "p1", "11"))


async def test_bookmarks_only_move_the_resource_version(apiserver: FakeApiserver) -> None:
    informer, events, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
        apiserver.bookmark(50)
        apiserver.end_stream()

        async def rewatched() -> bool:
            return len(apiserver.watched_from) == 2

        await eventually(rewatched, within=5, interval=0.005)
    assert len(events.seen) == 2  # just the initial list
    assert apiserver.watched_from == ["10", "50"]
    assert apiserver.lists == 1
    assert backoff.waits == []  # a bookmark is progress: reconnect at once


async def test_a_closed_stream_resumes_from_the_last_resource_version(
    apiserver: FakeApiserver,
) -> None:
    informer, events, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
        apiserver.send("MODIFIED", pod("p1", 11))
        apiserver.end_stream()
        apiserver.send("MODIFIED", pod("p1", 12))
        await events.wait_for(("MODIFIED", "p1", "12"))
    assert apiserver.watched_from == ["10", "11"]
    assert apiserver.lists == 1
    assert backoff.waits == []


async def test_gone_relists_and_reports_what_changed_meanwhile(apiserver: FakeApiserver) -> None:
    informer, events, backoff = new_informer(index_labels=[TEST_LABEL])
    async with running(informer):
        await informer.wait_synced()
        apiserver.send("MODIFIED", pod("p1", 11))
        await events.wait_for(("MODIFIED", "p1", "11"))
        # While the watch was failing: p2 went away, p3 came, p1 changed again.
        del apiserver.objects["p2"]
        apiserver.objects["p3"] = pod("p3", 20)
        apiserver.objects["p1"] = pod("p1", 21)
        apiserver.version = 22
        apiserver.end_stream(ResourceExpired("too old resource version: 11 (15)"))
        await events.wait_for(("DELETED", "p2", "2"), ("ADDED", "p3", "20"))
        await events.wait_for(("MODIFIED", "p1", "21"))

        async def watching_again() -> bool:
            return apiserver.watched_from[-1] == "22"

        await eventually(watching_again, within=5, interval=0.005)
    assert apiserver.lists == 2
    assert sorted(informer.store.keys()) == [("ns", "p1"), ("ns", "p3")]
    assert informer.store.by_label(TEST_LABEL, "x") == []
    assert events.consistent
    assert backoff.waits == []  # the watch had made progress: re-list at once


async def test_errors_back_off_and_rewatch_from_the_same_resource_version(
    apiserver: FakeApiserver,
) -> None:
    informer, events, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
        apiserver.end_stream(RuntimeError("connection reset"))
        apiserver.end_stream(RuntimeError("connection reset"))
        apiserver.send("MODIFIED", pod("p1", 11))
        apiserver.end_stream(RuntimeError("connection reset"))
        apiserver.send("MODIFIED", pod("p1", 12))
        await events.wait_for(("MODIFIED", "p1", "12"))
    assert apiserver.watched_from == ["10", "10", "10", "11"]
    assert apiserver.lists == 1
    # Failures back off longer and longer; a watch that delivered resets the count.
    assert backoff.waits == [1, 2, 1]


async def test_watches_that_end_at_once_without_events_back_off(
    apiserver: FakeApiserver,
) -> None:
    informer, _, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
        for _ in range(4):
            apiserver.end_stream()

        async def four_backoffs() -> bool:
            return len(backoff.waits) == 4

        await eventually(four_backoffs, within=5, interval=0.005)
    assert backoff.waits == [1, 2, 3, 4]


async def test_a_failing_list_is_retried_with_backoff_until_synced(
    apiserver: FakeApiserver,
) -> None:
    apiserver.list_errors = [RuntimeError("apiserver down"), RuntimeError("apiserver down")]
    informer, events, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
    assert apiserver.lists == 3
    assert backoff.waits == [1, 2]
    assert len(events.seen) == 2


async def test_managed_fields_are_dropped_and_the_transform_runs_before_storing(
    apiserver: FakeApiserver,
) -> None:
    def tag(obj: Pod) -> Pod:
        assert obj.metadata and obj.metadata.labels is not None
        obj.metadata.labels[TEST_LABEL] = "tagged"
        return obj

    informer, _, _ = new_informer(transform=tag, index_labels=[TEST_LABEL])
    async with running(informer):
        await informer.wait_synced()
        apiserver.send("ADDED", pod("p3", 11))

        async def p3_cached() -> bool:
            return informer.store.get("ns", "p3") is not None

        await eventually(p3_cached, within=5, interval=0.005)
    cached = informer.store.list()
    assert {o.metadata.managedFields for o in cached if o.metadata} == {None}
    assert len(informer.store.by_label(TEST_LABEL, "tagged", "ns")) == 3


async def test_a_failing_handler_does_not_stop_the_others_or_the_informer(
    apiserver: FakeApiserver,
) -> None:
    informer: Informer[Pod] = Informer(None, Pod)  # type: ignore[arg-type]

    def broken(event: str, obj: Pod) -> None:
        raise ValueError("bug in a handler")

    informer.add_handler(broken)
    events = Events(informer)
    async with running(informer):
        await informer.wait_synced()
        apiserver.send("MODIFIED", pod("p1", 11))
        await events.wait_for(("MODIFIED", "p1", "11"))


async def test_wait_for_cache_sync_waits_for_every_informer(
    apiserver: FakeApiserver,
) -> None:
    first, _, _ = new_informer()
    second, _, _ = new_informer()
    waiting = asyncio.create_task(wait_for_cache_sync(first, second))
    async with running(first):
        await first.wait_synced()
        await settle()
        assert not waiting.done()
        async with running(second):
            await asyncio.wait_for(waiting, 5)


async def test_run_twice_at_once_is_refused(apiserver: FakeApiserver) -> None:
    informer, _, _ = new_informer()
    async with running(informer):
        await informer.wait_synced()
        with pytest.raises(RuntimeError, match="already running"):
            await informer.run()


def test_the_default_name_says_what_is_cached(apiserver: FakeApiserver) -> None:
    assert Informer(None, Pod, namespace="ns").name == "Pod[ns]"  # type: ignore[arg-type]


def test_retry_backoff_grows_to_its_cap() -> None:
    backoff = RetryBackoff(initial=0.8, cap=30.0)
    assert 0.8 <= backoff.delay(1) <= 1.2
    assert 1.6 <= backoff.delay(2) <= 2.4
    assert backoff.delay(10) == 30.0
    assert backoff.delay(10_000) == 30.0


async def test_a_410_after_an_outage_relists_at_once_without_the_outages_backoff(
    apiserver: FakeApiserver,
) -> None:
    """Issue 12, finding 8: the reconnect's first answer is a 410; the failures counted
    during the outage must not make the re-list wait (it waited the 30 s cap)."""
    informer, events, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
        for _ in range(6):
            apiserver.end_stream(RuntimeError("apiserver restarting: 500"))
        apiserver.end_stream(ResourceExpired("too old resource version: 10 (40)"))
        apiserver.objects["p3"] = pod("p3", 41)
        apiserver.version = 41
        await events.wait_for(("ADDED", "p3", "41"))
        waits_before_relist = list(backoff.waits)
        apiserver.send("MODIFIED", pod("p3", 42))
        await events.wait_for(("MODIFIED", "p3", "42"))
    assert apiserver.lists == 2
    # The outage backed off and grew; the 410 answered, so the re-list did not wait.
    assert waits_before_relist == [1, 2, 3, 4, 5, 6]
    assert backoff.waits == waits_before_relist


async def test_an_unreachable_apiserver_is_retried_at_the_first_step(
    apiserver: FakeApiserver,
) -> None:
    """While the apiserver refuses connections the informer knocks about every second, so
    its cache is back within about a second of the apiserver, not after a 30 s step."""
    informer, _, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
        for _ in range(4):
            apiserver.end_stream(httpx2.ConnectError("connection refused"))
        for code in (503, 503, 429, 429):  # up again, not ready yet
            apiserver.end_stream(api_error(code, "storage is (re)initializing"))

        async def eight() -> bool:
            return len(backoff.waits) == 8

        await eventually(eight, within=5, interval=0.005)
    assert backoff.waits == [1] * 8
    assert max(RetryBackoff().delay(n) for n in backoff.waits) <= 1.2


async def test_the_outage_leaves_no_failure_count_behind(apiserver: FakeApiserver) -> None:
    informer, _, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
        for _ in range(5):
            apiserver.end_stream(httpx2.ConnectError("connection refused"))
        apiserver.end_stream(RuntimeError("some other failure"))

        async def six() -> bool:
            return len(backoff.waits) == 6

        await eventually(six, within=5, interval=0.005)
    # The failure after the outage backs off as a first failure, not as the sixth.
    assert backoff.waits == [1, 1, 1, 1, 1, 1]


async def test_a_list_that_expires_at_once_still_backs_off(apiserver: FakeApiserver) -> None:
    informer, _, backoff = new_informer()
    async with running(informer):
        await informer.wait_synced()
        apiserver.send("MODIFIED", pod("p1", 11))
        apiserver.end_stream()  # a productive watch ends: the next one resumes from 11
        apiserver.end_stream(ResourceExpired("too old"))  # no list this round: re-list at once
        apiserver.end_stream(ResourceExpired("too old"))  # right after that list: back off

        async def backed_off() -> bool:
            return len(backoff.waits) == 1

        await eventually(backed_off, within=5, interval=0.005)
    assert apiserver.watched_from[:3] == ["10", "11", "10"]
    assert apiserver.lists >= 2
