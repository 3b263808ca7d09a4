"""The webhook HTTP layer: malformed bodies get a 400 with a reason, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from locust_operator.webhook import server
from locust_operator.webhook.server import create_app

READY = {"value": False}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(create_app(lambda: READY["value"]))) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/convert", "/validate"])
@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b"{}", b'{"kind": "AdmissionReview", "request": 3}', b"\xff\xfe"],
)
async def test_malformed_reviews_get_400_with_a_reason(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    body: bytes,
) -> None:
    response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"]


async def test_a_conversion_review_is_answered(client: TestClient) -> None:  # type: ignore[type-arg]
    review = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {
            "uid": "c-1",
            "desiredAPIVersion": "locust.io/v2",
            "objects": [
                {
                    "apiVersion": "locust.io/v1",
                    "kind": "LocustTest",
                    "metadata": {"name": "t"},
                    "spec": {"image": "locustio/locust", "workerReplicas": 3},
                }
            ],
        },
    }
    response = await client.post("/convert", json=review)
    answer = (await response.json())["response"]
    assert response.status == 200
    assert answer["uid"] == "c-1" and answer["result"]["status"] == "Success"
    assert answer["convertedObjects"][0]["apiVersion"] == "locust.io/v2"
    assert answer["convertedObjects"][0]["spec"]["worker"]["replicas"] == 3


async def test_a_bad_test_is_denied_naming_the_field(client: TestClient) -> None:  # type: ignore[type-arg]
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "a-1",
            "operation": "CREATE",
            "object": {
                "apiVersion": "locust.io/v2",
                "kind": "LocustTest",
                "metadata": {"name": "t"},
                "spec": {
                    "image": "locustio/locust",
                    "master": {"command": "x", "extraArgs": ["--autostart"]},
                    "worker": {"command": "x", "replicas": 1},
                },
            },
        },
    }
    response = await client.post("/validate", json=review)
    answer = (await response.json())["response"]
    assert answer["allowed"] is False
    assert "spec.master.extraArgs" in answer["status"]["message"]


async def test_probes(client: TestClient) -> None:  # type: ignore[type-arg]
    assert (await client.get("/healthz")).status == 200
    READY["value"] = False
    assert (await client.get("/readyz")).status == 503
    READY["value"] = True
    assert (await client.get("/readyz")).status == 200


async def test_a_large_conversion_review_is_answered_alike_from_another_process(
    client: TestClient,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    review = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {
            "uid": "c-2",
            "desiredAPIVersion": "locust.io/v1",
            "objects": [
                {
                    "apiVersion": "locust.io/v2",
                    "kind": "LocustTest",
                    "metadata": {"name": f"t{i}"},
                    "spec": {
                        "image": "locustio/locust",
                        "master": {"command": "-f /lotest/src/t.py"},
                        "worker": {"command": "-f /lotest/src/t.py", "replicas": i + 1},
                    },
                }
                for i in range(3)
            ],
        },
    }
    small = await (await client.post("/convert", json=review)).json()
    monkeypatch.setattr(server, "LARGE_REVIEW_BYTES", 0)  # every review is large now
    large = await client.post("/convert", json=review)
    assert large.status == 200
    assert await large.json() == small
    assert small["response"]["result"]["status"] == "Success"
    malformed = await client.post("/convert", data=b"[]", headers=JSON)
    assert malformed.status == 400
    assert (await malformed.json())["error"]
