"""Kubernetes Events about LocustTests (what `kubectl describe locusttest` shows).

The controller decides *when* to emit (on transitions only); this module only writes them.
A failed write is logged and dropped: events are informational and must never fail or
retry a reconcile.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
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
        self, target: InvolvedObject, event_type: EventType, reason: str, message: str
    ) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
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
            log.warning(
                "could not record event %s for %s/%s: %s",
                reason,
                target.namespace,
                target.name,
                error.status.message,
            )
