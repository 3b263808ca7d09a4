"""The event recorder: what it writes, and that a message always fits the Events API."""

from __future__ import annotations

from typing import Any

from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status
from lightkube.resources.core_v1 import Event

from locust_operator.kube.events import (
    MAX_MESSAGE_BYTES,
    EventRecorder,
    InvolvedObject,
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
