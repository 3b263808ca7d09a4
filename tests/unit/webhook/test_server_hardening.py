"""Reviews a hostile client can send: every one gets a 400 with a reason, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from locust_operator.api.validation import FieldError
from locust_operator.webhook.server import create_app
from tests.unit.resources.helpers import locust_test


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(create_app())) as test_client:
        yield test_client


def _review(**request: Any) -> bytes:
    body = {"kind": "AdmissionReview", "request": {"uid": "u1", "operation": "CREATE", **request}}
    return json.dumps(body).encode()


DEEP = b"[" * 100_000 + b"]" * 100_000
LONG_INTEGER = b'{"kind": "ConversionReview", "request": {"uid": ' + b"9" * 5000 + b"}}"


@pytest.mark.parametrize("path", ["/convert", "/validate"])
@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        LONG_INTEGER,
        _review(object={"metadata": [1], "spec": {}}),
        _review(object={"metadata": "x", "spec": 3}),
        _review(operation="UPDATE", object={"spec": {}}, oldObject=7),
        _review(object=[1, 2]),
        _review(namespace=["a"], object={"spec": {}}),
    ],
    ids=["deep", "long-int", "metadata-list", "metadata-str", "old-number", "obj-list", "ns-list"],
)
async def test_malformed_reviews_get_400_never_500(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    body: bytes,
) -> None:
    response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    if response.status == 200:  # answered: a denial naming what is wrong is fine too
        answer = await response.json()
        assert answer["response"]["allowed"] is False or path == "/convert"
        return
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]


async def test_the_children_check_denies_naming_the_test_field() -> None:
    seen: list[tuple[dict[str, Any], str | None]] = []

    async def check(obj: dict[str, Any], namespace: str | None) -> list[FieldError]:
        seen.append((obj, namespace))
        return [FieldError("spec.master.resources", "the apiserver refuses the Job")]

    async with TestClient(TestServer(create_app(check_children=check))) as client:
        response = await client.post(
            "/validate", data=_review(namespace="load", object=locust_test())
        )
        answer = (await response.json())["response"]
    assert answer["allowed"] is False
    assert answer["status"]["details"]["causes"][0]["field"] == "spec.master.resources"
    assert seen and seen[0][1] == "load"


async def test_the_children_check_is_skipped_for_what_the_static_checks_deny() -> None:
    async def check(obj: dict[str, Any], namespace: str | None) -> list[FieldError]:
        raise AssertionError("not called")

    bad = locust_test()
    bad["spec"]["worker"]["replicas"] = 0
    async with TestClient(TestServer(create_app(check_children=check))) as client:
        response = await client.post("/validate", data=_review(object=bad))
        assert (await response.json())["response"]["allowed"] is False
