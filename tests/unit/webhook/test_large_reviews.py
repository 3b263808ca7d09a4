"""Conversion reviews larger than admission's 8 MiB limit, through the webhook's HTTP server
(a real one on loopback): converted whole, in a process of their own; over the bound,
refused with a message naming it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from locust_operator.webhook import server
from locust_operator.webhook.large_conversion import reference_answer
from locust_operator.webhook.server import MAX_BODY_BYTES, create_app

JSON = {"Content-Type": "application/json"}


def stored_test(index: int) -> dict[str, Any]:
    """A LocustTest as the apiserver stores it (v2, defaulted, with a status)."""
    return {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {
            "name": f"test-{index:05d}",
            "namespace": "load",
            "uid": f"00000000-0000-0000-0000-{index:012d}",
            "resourceVersion": str(1000 + index),
            "generation": 1,
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "annotations": {"team": "perf é"},
        },
        "spec": {
            "image": "locustio/locust:2.43.1",
            "imagePullPolicy": "IfNotPresent",
            "master": {"command": "--locustfile /lotest/src/test.py --host http://127.0.0.1"},
            "worker": {"command": "--locustfile /lotest/src/test.py", "replicas": 1 + index % 9},
            "testFiles": {"configMapRef": "scripts"},
        },
        "status": {
            "phase": "Succeeded",
            "expectedWorkers": 10,
            "conditions": [
                {"type": t, "status": "True", "reason": "Done", "message": "done",
                 "lastTransitionTime": "2025-01-01T00:10:00Z", "observedGeneration": 1}
                for t in ("Ready", "WorkersConnected", "TestCompleted", "PodsHealthy")
            ],
        },
    }  # fmt: skip


def review(count: int, uid: str = "c-large", desired: str = "locust.io/v1") -> bytes:
    """As the apiserver writes it: kind first, uid first, compact."""
    body = {
        "kind": "ConversionReview",
        "apiVersion": "apiextensions.k8s.io/v1",
        "request": {
            "uid": uid,
            "desiredAPIVersion": desired,
            "objects": [stored_test(i) for i in range(count)],
        },
        "response": {"uid": "", "convertedObjects": None, "result": {"metadata": {}}},
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def in_chunks(raw: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    """A body without a Content-Length (sent chunked)."""
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(create_app())) as test_client:
        yield test_client


async def test_a_review_over_8_mib_is_converted_whole(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    raw = review(8000)
    assert len(raw) > MAX_BODY_BYTES
    response = await client.post("/convert", data=raw, headers=JSON)
    assert response.status == 200, await response.text()
    body = await response.read()
    assert body == reference_answer(raw).body
    answer = json.loads(body)["response"]
    assert answer["uid"] == "c-large" and answer["result"] == {"status": "Success"}
    assert len(answer["convertedObjects"]) == 8000
    assert {o["apiVersion"] for o in answer["convertedObjects"]} == {"locust.io/v1"}
    assert answer["convertedObjects"][7999]["spec"]["workerReplicas"] == 1 + 7999 % 9


async def test_a_review_without_a_content_length_is_converted(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    raw = review(1500, desired="locust.io/v2")
    response = await client.post("/convert", data=in_chunks(raw), headers=JSON)
    assert response.status == 200, await response.text()
    assert await response.read() == reference_answer(raw).body


async def test_large_reviews_at_once_are_all_answered(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    bodies = [review(1000, uid=f"u-{i}") for i in range(server.LARGE_CONVERSIONS_AT_ONCE + 2)]

    async def convert(raw: bytes) -> bytes:
        response = await client.post("/convert", data=raw, headers=JSON)
        assert response.status == 200
        return await response.read()

    answers = await asyncio.gather(*(convert(raw) for raw in bodies))
    assert answers == [reference_answer(raw).body for raw in bodies]


async def test_a_malformed_large_review_gets_the_small_reviews_answer(
    client: TestClient,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = review(1500)
    assert len(raw) > server.LARGE_REVIEW_BYTES
    for broken in (raw[:-5], raw.replace(b'"objects":[{', b'"objects":[7,{', 1)):
        large = await client.post("/convert", data=broken, headers=JSON)
        monkeypatch.setattr(server, "LARGE_REVIEW_BYTES", len(broken))  # in this process
        small = await client.post("/convert", data=broken, headers=JSON)
        monkeypatch.undo()
        assert large.status == small.status == 400
        assert await large.json() == await small.json()
        assert (await large.json())["error"] == reference_answer(broken).reason


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_review_over_the_bound_is_refused_naming_it(
    client: TestClient,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
    chunked: bool,
) -> None:
    monkeypatch.setattr(server, "MAX_CONVERSION_BODY_BYTES", 2 * 1024 * 1024)
    raw = review(2500, uid="too-many")
    assert len(raw) > server.MAX_CONVERSION_BODY_BYTES
    response = await client.post("/convert", data=in_chunks(raw) if chunked else raw, headers=JSON)
    # The apiserver shows a failed review's message to its client ("conversion webhook for
    # locust.io/v2, Kind=LocustTest failed: ..."); of a 413, only that it was too large.
    assert response.status == 200
    answer = (await response.json())["response"]
    assert answer["uid"] == "too-many"
    assert answer["result"]["status"] == "Failure"
    assert "MAX_CONVERSION_BODY_BYTES" in answer["result"]["message"]
    assert "more than the 2.0 MiB" in answer["result"]["message"]
    assert "convertedObjects" not in answer
    # Without a uid to answer to: a 413 saying the same.
    junk = b"[" + b"0," * (1024 * 1024 + 10) + b"0]"
    response = await client.post("/convert", data=in_chunks(junk) if chunked else junk)
    assert response.status == 413
    assert "MAX_CONVERSION_BODY_BYTES" in (await response.json())["error"]
    # Within the bound, the same review is converted.
    monkeypatch.setattr(server, "MAX_CONVERSION_BODY_BYTES", len(raw))
    response = await client.post("/convert", data=raw, headers=JSON)
    assert (await response.json())["response"]["result"] == {"status": "Success"}


async def test_admission_reviews_keep_the_small_limit(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    raw = b'{"kind": "AdmissionReview", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = await client.post("/validate", data=raw, headers=JSON)
    assert response.status == 413


def test_a_converting_process_stays_within_its_memory_budget() -> None:
    """A hostile body that json would blow up (millions of empty objects, 16 MiB) costs the
    converting process its budget (4 times the body, plus a margin: 16 MiB here), not the
    pod's memory: it is answered 413."""
    hostile = b'{"request": [' + b"{}," * (16 * 1024 * 1024 // 3) + b"{}]}"
    convert = (
        "from locust_operator.webhook import large_conversion as m; "
        "m.MEMORY_MARGIN_BYTES = 16 * 1024 * 1024; m.main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", convert, str(len(hostile)), str(len(hostile))],
        input=hostile,
        capture_output=True,
        timeout=120,
        check=True,
    )
    header, _, body = done.stdout.partition(b"\n")
    assert header.split()[0] == b"413", done.stdout[:300]
    assert "more memory" in json.loads(body)["error"]
    # Within its budget, a body is answered for what it is.
    well = subprocess.run(
        [sys.executable, "-c", convert.replace("16 * 1024 * 1024", "1 << 30"), "-1", str(10**9)],
        input=b'{"request": [{}, {}]}',
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert well.stdout.startswith(b"400 ")
