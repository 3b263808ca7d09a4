"""LIST and WATCH requests for informers, and the object metadata they need.

lightkube's own ``watch()`` can neither ask for bookmarks nor tell a 410 Gone apart
(it silently restarts from "now", losing deletions), so the watch request is built
here from lightkube's request machinery. That uses lightkube internals
(``AsyncClient._client``: ``prepare_request``, ``build_adapter_request``, ``send``;
``lightkube.core.decoders``) and they stay in this module: lightkube is pinned <2.
"""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx2
import msgspec
from lightkube import ALL_NS, ApiError, AsyncClient
from lightkube.core import decoders
from lightkube.core.resource import NamespacedResource

from locust_operator.kube.reachability import ApiReachability, reachability

T = TypeVar("T")

WatchEventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]

# Beyond the server-side watch timeout, how long a silent connection may stay open
# before it is taken for dead (the server closes healthy watches by itself).
READ_TIMEOUT_MARGIN = 30.0
CONNECT_TIMEOUT = 10.0


_OBJECT_EVENTS: dict[str, WatchEventType] = {t: t for t in ("ADDED", "MODIFIED", "DELETED")}


class ResourceExpired(Exception):
    """410 Gone: the resourceVersion (or a list's continue token) is too old; re-list."""


class WatchError(Exception):
    """An ERROR event other than 410 in a watch stream."""

    def __init__(self, code: int | None, message: str | None) -> None:
        super().__init__(f"watch error {code}: {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class WatchEvent(Generic[T]):
    type: WatchEventType
    resource_version: str
    obj: T | None  # None for BOOKMARK


class _ListPage(msgspec.Struct):
    """A page of a LIST with its items undecoded: decoding into a typed list builds the
    decoder of the item type (for Pods, hundreds of model classes) even when the page
    is empty, and an operator with no tests yet should not wait for that to be ready."""

    items: list[msgspec.Raw]
    metadata: decoders.ListMetadata | None = None


class _BookmarkMeta(msgspec.Struct):
    resourceVersion: str = ""


class _Bookmark(msgspec.Struct):
    metadata: _BookmarkMeta = msgspec.field(default_factory=_BookmarkMeta)


# -- object metadata, for typed (msgspec Struct) and generic (dict) resources alike ----


def _metadata(obj: Any) -> Any:
    return (obj.get("metadata") or {}) if isinstance(obj, dict) else obj.metadata


def _field(meta: Any, name: str) -> Any:
    if meta is None:
        return None
    return meta.get(name) if isinstance(meta, dict) else getattr(meta, name, None)


def object_key(obj: Any) -> tuple[str, str]:
    """(namespace, name); the namespace is "" for cluster-scoped objects."""
    meta = _metadata(obj)
    return _field(meta, "namespace") or "", _field(meta, "name") or ""


def object_labels(obj: Any) -> Mapping[str, str]:
    return _field(_metadata(obj), "labels") or {}


def object_resource_version(obj: Any) -> str:
    return _field(_metadata(obj), "resourceVersion") or ""


def strip_managed_fields(obj: Any) -> None:
    """managedFields is often the bulk of an object, and no reconciler reads it."""
    meta = _metadata(obj)
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    elif meta is not None and getattr(meta, "managedFields", None) is not None:
        meta.managedFields = None


def label_selector(labels: Mapping[str, str] | None) -> str | None:
    return ",".join(f"{key}={value}" for key, value in labels.items()) if labels else None


# -- requests ---------------------------------------------------------------------------


class ListWatch(Generic[T]):
    """Lists and watches one resource type in one namespace (or all), by label."""

    def __init__(
        self,
        client: AsyncClient,
        resource: type[T],
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self._generic: Any = client._client  # lightkube internal: GenericAsyncClient
        self.reachability: ApiReachability = reachability(client)
        self._resource: Any = resource
        if namespace is not None:
            self._namespace: str | None = namespace
        elif issubclass(resource, NamespacedResource):
            self._namespace = ALL_NS
        else:
            self._namespace = None  # cluster-scoped
        self._selector = label_selector(labels)

    async def list(self, page_size: int = 500) -> tuple[list[T], str]:
        """All objects (a consistent snapshot across pages) and the list's resourceVersion."""
        request = self._generic.prepare_request(
            "list",
            res=self._resource,
            namespace=self._namespace,
            params={"limit": page_size, "labelSelector": self._selector},
        )
        items: list[T] = []
        more, resource_version = True, ""
        while more:
            response = await self._generic.send(self._generic.build_adapter_request(request))
            self.reachability.answered()
            _raise_for_status(response)
            page = msgspec.json.decode(response.content, type=_ListPage)
            # As lightkube's handle_response("list"): the next page's continue token
            # goes into the request's params.
            token = page.metadata.continue_ if page.metadata else None
            if token:
                request.params["continue"] = token
            more = bool(token)
            page_version = page.metadata.resourceVersion if page.metadata else None
            resource_version = page_version or resource_version
            items.extend(decoders.decode_object(item, self._resource) for item in page.items)
        return items, resource_version

    async def watch(
        self, resource_version: str, timeout_seconds: int
    ) -> AsyncGenerator[WatchEvent[T], None]:
        """Events after ``resource_version`` until the server ends the watch after
        ``timeout_seconds``. Raises ResourceExpired on 410, WatchError on other ERROR
        events, httpx2/ApiError on transport and HTTP errors."""
        request = self._generic.prepare_request(
            "list",
            res=self._resource,
            namespace=self._namespace,
            watch=True,
            params={
                "resourceVersion": resource_version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": timeout_seconds,
                "labelSelector": self._selector,
            },
        )
        request.timeout = httpx2.Timeout(
            CONNECT_TIMEOUT, read=timeout_seconds + READ_TIMEOUT_MARGIN
        )
        response = await self._generic.send(
            self._generic.build_adapter_request(request), stream=True
        )
        self.reachability.answered()
        try:
            if response.status_code >= 400:
                await response.aread()
                _raise_for_status(response)
            async for line in response.aiter_lines():
                if line:
                    yield self._decode(line)
        finally:
            await response.aclose()

    def _decode(self, line: str) -> WatchEvent[T]:
        event = msgspec.json.decode(line, type=decoders.WatchEvent)
        if event.type == "ERROR":
            status = decoders.decode_status(event.object)
            if status.code == 410:
                raise ResourceExpired(status.message)
            raise WatchError(status.code, status.message)
        if event.type == "BOOKMARK":
            bookmark = msgspec.json.decode(event.object, type=_Bookmark)
            return WatchEvent("BOOKMARK", bookmark.metadata.resourceVersion, None)
        kind = _OBJECT_EVENTS.get(event.type)
        if kind is None:
            raise WatchError(None, f"unknown watch event type {event.type!r}")
        obj = decoders.decode_object(event.object, self._resource)
        return WatchEvent(kind, object_resource_version(obj), obj)


def _raise_for_status(response: httpx2.Response) -> None:
    if response.status_code == 410:
        raise ResourceExpired(response.text)
    if response.status_code < 400:
        return
    try:
        error = ApiError(request=response.request, response=response)
    except (ValueError, TypeError, KeyError):  # the body is not a Status
        response.raise_for_status()
        raise
    raise error


def watch_timeout(minimum: float) -> int:
    """A server-side watch timeout in [minimum, 2*minimum), spread like client-go's so
    that informers do not all reconnect at once."""
    return max(1, int(minimum * (1.0 + random.random())))
