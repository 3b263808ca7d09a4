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
from typing import Literal

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event

log = logging.getLogger(__name__)

COMPONENT = "locust-k8s-operator"
EventType = Literal["Normal", "Warning"]


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
            message=message[:1024],
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
