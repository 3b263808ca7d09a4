"""Kubernetes Events about LocustTests (what `kubectl describe locusttest` shows).

The controller decides *when* to emit (on transitions only); this module only writes them.
A failed write is logged and dropped: events are informational and must never fail or
retry a reconcile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Callable
from contextvars import Context
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event

log = logging.getLogger(__name__)

COMPONENT = "locust-k8s-operator"
EventType = Literal["Normal", "Warning"]
# The events.k8s.io/v1 limit on a note, in bytes; the API server rejects longer ones.
MAX_MESSAGE_BYTES = 1024
_CUT_MARKER = "..."


@dataclass(frozen=True)
class InvolvedObject:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    def reference(self) -> ObjectReference:
        return ObjectReference(
            apiVersion=self.api_version,
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
            uid=self.uid,
        )


def truncate_message(message: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """Cut to `limit` UTF-8 bytes on a character boundary, marking the cut with '...'."""
    encoded = message.encode()
    if len(encoded) <= limit:
        return message
    kept = encoded[: limit - len(_CUT_MARKER)].decode(errors="ignore")
    return kept + _CUT_MARKER


class EmitsEvents(Protocol):
    """What the controller needs of a recorder (a fake in unit tests)."""

    async def emit(
        self, target: InvolvedObject, event_type: EventType, reason: str, message: str
    ) -> None: ...


class EventRecorder:
    def __init__(self, client: AsyncClient, component: str = COMPONENT) -> None:
        self._client = client
        self._component = component
        # Which replica wrote it: the pod name in a cluster, the host name outside.
        self._instance = os.environ.get("POD_NAME") or socket.gethostname()
        self.emitted = 0

    async def emit(
        self,
        target: InvolvedObject,
        event_type: EventType,
        reason: str,
        message: str,
        *,
        at: datetime | None = None,
    ) -> None:
        """Writes the event now; ``at`` is when it happened (default: now)."""
        now = (at or datetime.now(UTC)).replace(microsecond=0)
        event = Event(
            metadata=ObjectMeta(
                # Unique like client-go's recorder: <object>.<random hex>.
                name=f"{target.name}.{secrets.token_hex(8)}",
                namespace=target.namespace,
            ),
            involvedObject=target.reference(),
            type=event_type,
            reason=reason,
            message=truncate_message(message),
            source=EventSource(component=self._component),
            reportingComponent=self._component,
            reportingInstance=self._instance[:128],
            firstTimestamp=now,
            lastTimestamp=now,
            count=1,
        )
        try:
            await self._client.create(event)
            self.emitted += 1
        except ApiError as error:
            # A test deleted with its namespace: nobody will read the event; not worth a warning.
            level = logging.DEBUG if namespace_going(error) else logging.WARNING
            log.log(
                level,
                "could not record event %s for %s/%s: %s",
                reason,
                target.namespace,
                target.name,
                error.status.message,
            )


def namespace_going(error: ApiError) -> bool:
    """The event's namespace is gone (404) or being deleted (403 NamespaceTerminating)."""
    status = error.status
    if status.code == 404:
        return True
    causes = (status.details.causes if status.details else None) or []
    return status.code == 403 and (
        any(cause.reason == "NamespaceTerminating" for cause in causes)
        or "being terminated" in (status.message or "")
    )


# Event writes in flight at once: enough to keep up with a burst of new tests, few enough
# that they do not crowd out the children being created in the same burst.
EVENT_WRITERS = 4
# How often paused writers look whether the urgent work is done.
BUSY_POLL_SECONDS = 0.2
# Events waiting to be written; beyond this the newest are dropped (as client-go's
# broadcaster does when its buffer is full): events are informational.
EVENT_BUFFER = 1000


class QueuedEvents:
    """Emits events in the background, so that a reconcile never waits for one.

    Each object's events are written in the order they were emitted, stamped with the
    time they were emitted; different objects' are written in parallel, a few at a time.
    While ``busy()`` says more urgent work waits (new tests for their children), one
    writer goes on and the others pause: the client's and the apiserver's time goes to
    that work first, and events still make progress.
    """

    def __init__(
        self,
        writer: EventRecorder,
        *,
        writers: int = EVENT_WRITERS,
        capacity: int = EVENT_BUFFER,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self._writer = writer
        self._busy = busy
        self._writers = writers
        self._capacity = capacity
        # Per object (uid): its events not yet written, in order.
        self._pending: dict[str, deque[tuple[InvolvedObject, EventType, str, str, datetime]]] = {}
        self._ready: asyncio.Queue[str] = asyncio.Queue()  # objects with events to write
        self._waiting = 0  # events emitted, not yet written (or dropped)
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0

    async def emit(
        self, target: InvolvedObject, event_type: EventType, reason: str, message: str
    ) -> None:
        if self._waiting >= self._capacity:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning(
                    "event buffer full (%d waiting): dropped %d events so far, latest %s for %s/%s",
                    self._waiting,
                    self.dropped,
                    reason,
                    target.namespace,
                    target.name,
                )
            return
        at = datetime.now(UTC)
        pending = self._pending.get(target.uid)
        if pending is None:
            pending = self._pending[target.uid] = deque()
            self._ready.put_nowait(target.uid)  # not being written: a writer takes it
        pending.append((target, event_type, reason, message, at))
        self._waiting += 1
        self._idle.clear()
        if not self._tasks:
            # A context of their own: made during one test's reconcile, the writers must
            # not log every later event under that test's name.
            self._tasks = [
                asyncio.create_task(
                    self._write(number), name=f"event writer {number}", context=Context()
                )
                for number in range(self._writers)
            ]

    async def _write(self, number: int) -> None:
        while True:
            while number > 0 and self._busy():  # noqa: ASYNC110 (a callable, no event to wait on)
                await asyncio.sleep(BUSY_POLL_SECONDS)
            uid = await self._ready.get()
            pending = self._pending[uid]
            while pending:
                target, event_type, reason, message, at = pending[0]
                try:
                    await self._writer.emit(target, event_type, reason, message, at=at)
                except Exception as error:  # e.g. the apiserver is gone: one line, no trace
                    log.warning(
                        "could not record event %s for %s/%s: %s",
                        reason,
                        target.namespace,
                        target.name,
                        str(error) or type(error).__name__,
                    )
                pending.popleft()
                self._waiting -= 1
            # Nothing awaited since the last check: no event of this object can be lost.
            del self._pending[uid]
            if self._waiting == 0:
                self._idle.set()

    async def drain(self, within: float) -> None:
        """Writes what is waiting (up to ``within`` seconds), then stops the writers."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            log.warning("%d events not written at shutdown", self._waiting)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
