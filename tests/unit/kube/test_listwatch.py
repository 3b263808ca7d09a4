"""LIST and WATCH requests and responses, against a mocked HTTP transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Node, Pod

from locust_operator.kube.listwatch import (
    ListWatch,
    ResourceExpired,
    WatchError,
    WatchEvent,
    label_selector,
    object_key,
    strip_managed_fields,
    watch_timeout,
)

Gadget = create_namespaced_resource("informer.test.locust.io", "v1", "Gadget", "gadgets")
Handler = Callable[[httpx2.Request], httpx2.Response]


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[[Handler], AsyncClient]]:
    clients: list[AsyncClient] = []

    def make(handler: Handler) -> AsyncClient:
        config = KubeConfig.from_dict(
            {
                "clusters": [{"name": "fake", "cluster": {"server": "https://fake.invalid"}}],
                "users": [{"name": "fake", "user": {}}],
                "contexts": [
                    {"name": "fake", "context": {"cluster": "fake", "user": "fake"}},
                ],
                "current-context": "fake",
            }
        )
        client = AsyncClient(config=config, transport=httpx2.MockTransport(handler))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def pod_json(name: str, version: str, namespace: str = "ns") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": version,
            "managedFields": [{"manager": "kubectl"}],
        },
    }


def status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "message": message}  # fmt: skip


def stream(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(json.dumps({"type": t, "object": o}).encode() + b"\n" for t, o in events)


async def collect(watch: AsyncIterator[WatchEvent[Any]]) -> list[tuple[str, str, Any]]:
    return [(e.type, e.resource_version, e.obj) async for e in watch]


async def test_list_follows_continue_tokens_with_the_selector(make_client: Any) -> None:
    requests: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(request)
        if "continue" not in request.url.params:
            body = {"metadata": {"resourceVersion": "40", "continue": "page2"},
                    "items": [pod_json("a", "31")]}  # fmt: skip
        else:
            body = {"metadata": {"resourceVersion": "40"}, "items": [pod_json("b", "32")]}
        return httpx2.Response(200, json=body)

    lw = ListWatch(make_client(handler), Pod, "ns", {"app": "x", "tier": "web"})
    items, version = await lw.list(page_size=1)
    assert [object_key(i) for i in items] == [("ns", "a"), ("ns", "b")]
    assert all(isinstance(i, Pod) for i in items)
    assert version == "40"
    assert [r.url.path for r in requests] == ["/api/v1/namespaces/ns/pods"] * 2
    assert dict(requests[0].url.params) == {"limit": "1", "labelSelector": "app=x,tier=web"}
    assert requests[1].url.params["continue"] == "page2"


async def test_list_in_all_namespaces_and_for_cluster_scoped_resources(make_client: Any) -> None:
    paths: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        paths.append(request.url.path)
        return httpx2.Response(200, json={"metadata": {"resourceVersion": "5"}, "items": []})

    client = make_client(handler)
    await ListWatch(client, Pod).list()
    await ListWatch(client, Node).list()
    await ListWatch(client, Gadget).list()
    assert paths == ["/api/v1/pods", "/api/v1/nodes", "/apis/informer.test.locust.io/v1/gadgets"]


async def test_an_expired_continue_token_is_resource_expired(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(410, json=status(410, "The provided continue parameter is too old"))

    with pytest.raises(ResourceExpired):
        await ListWatch(make_client(handler), Pod, "ns").list()


async def test_other_http_errors_are_api_errors(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(403, json=status(403, "pods is forbidden"))

    with pytest.raises(ApiError) as error:
        await ListWatch(make_client(handler), Pod, "ns").list()
    assert error.value.status.code == 403


async def test_a_non_json_error_is_still_an_http_error(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(503, text="upstream unavailable")

    with pytest.raises(httpx2.HTTPStatusError):
        await ListWatch(make_client(handler), Pod, "ns").list()


async def test_watch_asks_for_bookmarks_and_decodes_events(make_client: Any) -> None:
    requests: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(request)
        bookmark = {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "60"}}
        body = stream(
            ("ADDED", pod_json("a", "51")),
            ("MODIFIED", pod_json("a", "52")),
            ("BOOKMARK", bookmark),
            ("DELETED", pod_json("a", "61")),
        )
        return httpx2.Response(200, content=body)

    lw = ListWatch(make_client(handler), Pod, "ns", {"app": "x"})
    events = await collect(lw.watch("50", timeout_seconds=300))
    assert [(t, v) for t, v, _ in events] == [
        ("ADDED", "51"),
        ("MODIFIED", "52"),
        ("BOOKMARK", "60"),
        ("DELETED", "61"),
    ]
    assert isinstance(events[0][2], Pod) and events[2][2] is None
    assert dict(requests[0].url.params) == {
        "watch": "true",
        "resourceVersion": "50",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "300",
        "labelSelector": "app=x",
    }
    timeouts = requests[0].extensions["timeout"]
    assert timeouts["read"] > 300  # a silent dead connection is given up eventually


async def test_watch_of_generic_resources_yields_dicts(make_client: Any) -> None:
    gadget = {"apiVersion": "informer.test.locust.io/v1", "kind": "Gadget",
              "metadata": {"name": "g", "namespace": "ns", "resourceVersion": "7"},
              "spec": {"size": 1}}  # fmt: skip

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=stream(("ADDED", gadget)))

    [(_, version, obj)] = await collect(ListWatch(make_client(handler), Gadget).watch("1", 60))
    assert isinstance(obj, Gadget) and obj["spec"] == {"size": 1} and version == "7"


@pytest.mark.parametrize("http_status", [200, 410])
async def test_gone_in_the_stream_or_as_http_status_is_resource_expired(
    make_client: Any, http_status: int
) -> None:
    gone = status(410, "too old resource version: 5 (40)")

    def handler(request: httpx2.Request) -> httpx2.Response:
        if http_status == 410:
            return httpx2.Response(410, json=gone)
        return httpx2.Response(200, content=stream(("ADDED", pod_json("a", "6")), ("ERROR", gone)))

    events: list[Any] = []
    with pytest.raises(ResourceExpired, match="too old"):
        async for event in ListWatch(make_client(handler), Pod, "ns").watch("5", 60):
            events.append(event)
    assert len(events) == (1 if http_status == 200 else 0)


async def test_other_error_events_are_watch_errors(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=stream(("ERROR", status(500, "etcd unavailable"))))

    with pytest.raises(WatchError) as error:
        await collect(ListWatch(make_client(handler), Pod, "ns").watch("5", 60))
    assert error.value.code == 500


def test_strip_managed_fields_of_typed_and_generic_objects() -> None:
    typed = Pod.from_dict(pod_json("a", "1"))
    generic = Gadget(pod_json("g", "1"))
    strip_managed_fields(typed)
    strip_managed_fields(generic)
    assert typed.metadata is not None and typed.metadata.managedFields is None
    assert "managedFields" not in generic["metadata"]


def test_label_selector_and_watch_timeout() -> None:
    assert label_selector(None) is None
    assert label_selector({"a": "1", "b": "2"}) == "a=1,b=2"
    assert {300 <= watch_timeout(300) < 600 for _ in range(50)} == {True}
    assert watch_timeout(0.1) == 1
