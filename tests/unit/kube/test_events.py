"""The event recorder: what it writes, and that a message always fits the Events API."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status, StatusCause, StatusDetails
from lightkube.resources.core_v1 import Event

from locust_operator.kube.events import (
    MAX_MESSAGE_BYTES,
    EventRecorder,
    InvolvedObject,
    QueuedEvents,
    truncate_message,
)

TEST = InvolvedObject("locust.io/v2", "LocustTest", "ns", "demo", "uid-1")


class RecordingClient:
    def __init__(self, error: ApiError | None = None) -> None:
        self.created: list[Event] = []
        self.error = error

    async def create(self, obj: Event) -> Event:
        if self.error is not None:
            raise self.error
        self.created.append(obj)
        return obj


def recorder(client: RecordingClient) -> EventRecorder:
    fake: Any = client  # only create() is used
    return EventRecorder(fake)


def test_truncate_message() -> None:
    exact = "a" * MAX_MESSAGE_BYTES
    assert truncate_message("") == ""
    assert truncate_message("short") == "short"
    assert truncate_message(exact) == exact
    cut = truncate_message(exact + "b")
    assert cut == "a" * (MAX_MESSAGE_BYTES - 3) + "..."
    # "é" is two bytes: a cut through one must not leave half of it behind.
    multibyte = truncate_message("a" * (MAX_MESSAGE_BYTES - 4) + "é" * 10)
    assert len(multibyte.encode()) <= MAX_MESSAGE_BYTES
    assert multibyte == "a" * (MAX_MESSAGE_BYTES - 4) + "..."


async def test_an_event_names_the_test_and_keeps_a_short_message() -> None:
    client = RecordingClient()
    await recorder(client).emit(TEST, "Warning", "PodFailure", "2 pods failing")
    [event] = client.created
    assert (event.type, event.reason, event.message) == ("Warning", "PodFailure", "2 pods failing")
    assert event.involvedObject.uid == "uid-1" and event.involvedObject.name == "demo"
    assert event.metadata is not None and event.metadata.namespace == "ns"


async def test_a_long_multibyte_message_is_cut_to_the_byte_limit() -> None:
    client = RecordingClient()
    await recorder(client).emit(TEST, "Warning", "PodFailure", "é" * 2000)
    message = client.created[0].message
    assert message is not None and message.endswith("...")
    assert len(message.encode()) <= MAX_MESSAGE_BYTES


async def test_a_refused_event_is_dropped_not_raised() -> None:
    error = ApiError(status=Status(code=403, reason="Forbidden", message="forbidden"))
    rec = recorder(RecordingClient(error))
    await rec.emit(TEST, "Normal", "Created", "All resources created")
    assert rec.emitted == 0


TERMINATING = Status(
    code=403,
    reason="Forbidden",
    message='events "demo.1" is forbidden: unable to create new content in namespace ns '
    "because it is being terminated",
    details=StatusDetails(causes=[StatusCause(reason="NamespaceTerminating")]),
)


@pytest.mark.parametrize(
    ("status", "warned"),
    [
        (Status(code=403, reason="Forbidden", message="events is forbidden: RBAC"), True),
        (Status(code=500, reason="InternalError", message="etcdserver: timeout"), True),
        (TERMINATING, False),
        (Status(code=404, reason="NotFound", message='namespaces "ns" not found'), False),
    ],
)
async def test_an_event_for_a_namespace_being_deleted_is_dropped_quietly(
    status: Status, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    rec = recorder(RecordingClient(ApiError(status=status)))
    with caplog.at_level(logging.DEBUG, logger="locust_operator.kube.events"):
        await rec.emit(TEST, "Normal", "Created", "All resources created")
    levels = {record.levelno for record in caplog.records}
    assert levels == ({logging.WARNING} if warned else {logging.DEBUG})
    assert "could not record event Created for ns/demo" in caplog.text


class SlowClient(RecordingClient):
    """Each create waits until released, so that tests see what is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def create(self, obj: Event) -> Event:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            return await super().create(obj)
        finally:
            self.in_flight -= 1


def other(number: int) -> InvolvedObject:
    return InvolvedObject("locust.io/v2", "LocustTest", "ns", f"t{number}", f"uid-{number}")


async def test_queued_events_do_not_wait_for_the_write() -> None:
    client = SlowClient()
    events = QueuedEvents(recorder(client))
    await asyncio.wait_for(events.emit(TEST, "Normal", "Created", "Created Job demo-master"), 1)
    assert client.created == []  # handed over, not written yet
    client.release.set()
    await events.drain(within=5)
    assert [e.message for e in client.created] == ["Created Job demo-master"]


async def test_queued_events_keep_each_objects_order_and_write_a_few_at_once() -> None:
    client = SlowClient()
    events = QueuedEvents(recorder(client), writers=3)
    for number in range(10):
        for reason in ("Created", "TestStarted", "TestCompleted"):
            await events.emit(other(number), "Normal", reason, f"{reason} t{number}")
    await asyncio.sleep(0.05)
    assert client.most_in_flight == 3  # bounded, and parallel across objects
    client.release.set()
    await events.drain(within=5)
    assert len(client.created) == 30
    for number in range(10):
        reasons = [e.reason for e in client.created if e.involvedObject.name == f"t{number}"]
        assert reasons == ["Created", "TestStarted", "TestCompleted"]


async def test_an_event_is_stamped_when_emitted_not_when_written() -> None:
    client = SlowClient()
    events = QueuedEvents(recorder(client))
    await events.emit(TEST, "Normal", "Created", "x")
    emitted = datetime.now(UTC).replace(microsecond=0)
    await asyncio.sleep(1.1)
    client.release.set()
    await events.drain(within=5)
    [event] = client.created
    assert event.firstTimestamp == event.lastTimestamp
    assert event.firstTimestamp is not None and event.firstTimestamp <= emitted


async def test_a_full_buffer_drops_new_events_and_keeps_the_rest() -> None:
    client = SlowClient()
    events = QueuedEvents(recorder(client), writers=1, capacity=5)
    for number in range(8):
        await events.emit(other(number), "Normal", "Created", f"e{number}")
    assert events.dropped == 3
    client.release.set()
    await events.drain(within=5)
    assert sorted(e.message for e in client.created) == [f"e{n}" for n in range(5)]


async def test_a_failing_write_does_not_stop_the_writers() -> None:
    client = RecordingClient()
    client.error = ConnectionResetError("apiserver gone")  # type: ignore[assignment]
    events = QueuedEvents(recorder(client), writers=1)
    await events.emit(TEST, "Normal", "Created", "one")
    await events.emit(other(1), "Normal", "Created", "two")
    await events.drain(within=5)
    client.error = None
    await events.emit(other(2), "Normal", "Created", "three")
    await events.drain(within=5)
    assert [e.message for e in client.created] == ["three"]


async def test_drain_gives_up_after_its_bound() -> None:
    client = SlowClient()  # never released
    events = QueuedEvents(recorder(client))
    await events.emit(TEST, "Normal", "Created", "stuck")
    await asyncio.wait_for(events.drain(within=0.1), 5)
    assert client.created == []


async def test_while_busy_one_writer_goes_on_and_the_others_pause() -> None:
    client = SlowClient()
    busy = True
    events = QueuedEvents(recorder(client), writers=4, busy=lambda: busy)
    for number in range(8):
        await events.emit(other(number), "Normal", "Created", f"e{number}")
    await asyncio.sleep(0.3)
    assert client.most_in_flight == 1  # progress, but one at a time
    busy = False
    await asyncio.sleep(0.5)  # the paused writers look again
    assert client.in_flight == 4
    client.release.set()
    await events.drain(within=5)
    assert len(client.created) == 8


async def test_event_writers_do_not_carry_the_emitting_reconciles_log_context() -> None:
    from locust_operator.logs import current_test, log_context

    seen: list[object] = []

    class Writer(RecordingClient):
        async def create(self, obj: Event) -> Event:
            seen.append(current_test.get())
            return obj

    events = QueuedEvents(recorder(Writer()))
    with log_context("ns", "first"):
        await events.emit(TEST, "Normal", "Created", "one")
    await events.drain(within=5)
    await events.emit(other(1), "Normal", "Created", "two")
    await events.drain(within=5)
    assert seen == [None, None]
