"""The plain-HTTP endpoints over a real socket: probes and metrics on separate servers."""

from __future__ import annotations

import asyncio

from locust_operator.http_server import (
    MAX_REQUEST_HEAD,
    HttpServer,
    metrics_routes,
    probe_routes,
    respond,
)
from locust_operator.metrics import KUBE_REQUESTS


async def get(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def test_probes_report_what_readiness_still_waits_for() -> None:
    missing = ["informer caches not synced"]
    server = HttpServer("127.0.0.1", 0, probe_routes(lambda: missing))
    await server.start()
    try:
        assert server.port != 0  # the port the OS picked
        assert await get(server.port, b"GET /healthz HTTP/1.1\r\n\r\n") == (200, b"ok")
        status, body = await get(server.port, b"GET /readyz HTTP/1.1\r\n\r\n")
        assert status == 503
        assert b"informer caches not synced" in body
        missing.clear()
        assert await get(server.port, b"GET /readyz HTTP/1.1\r\n\r\n") == (200, b"ok")
        # Metrics are not served on the probe address.
        assert (await get(server.port, b"GET /metrics HTTP/1.1\r\n\r\n"))[0] == 404
        assert (await get(server.port, b"POST /healthz HTTP/1.1\r\n\r\n"))[0] == 405
        assert (await get(server.port, b"garbage\r\n\r\n"))[0] == 400
    finally:
        await server.stop()


async def test_metrics_server_serves_only_metrics() -> None:
    server = HttpServer("127.0.0.1", 0, metrics_routes())
    await server.start()
    try:
        KUBE_REQUESTS.labels("PATCH").inc()
        status, body = await get(server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200
        assert b'locust_operator_kube_requests_total{method="PATCH"}' in body
        assert b"locust_operator_leader " in body
        for probe in (b"/healthz", b"/readyz"):
            assert (await get(server.port, b"GET " + probe + b" HTTP/1.1\r\n\r\n"))[0] == 404
    finally:
        await server.stop()


async def test_an_oversize_request_head_is_refused() -> None:
    server = HttpServer("127.0.0.1", 0, probe_routes(list))
    await server.start()
    try:
        at_limit = b"GET /healthz HTTP/1.1\r\nX-Pad: "
        at_limit += b"a" * (MAX_REQUEST_HEAD - len(at_limit) - 4) + b"\r\n\r\n"
        assert len(at_limit) == MAX_REQUEST_HEAD
        assert await get(server.port, at_limit) == (200, b"ok")

        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * (4 * MAX_REQUEST_HEAD))
        try:
            await writer.drain()
            response = await reader.read()
        except ConnectionError:
            response = b""  # closed without an answer: refused just the same
        writer.close()
        assert response == b"" or response.startswith(b"HTTP/1.1 431 ")
    finally:
        await server.stop()


def test_query_strings_are_ignored() -> None:
    assert respond("/healthz?verbose", probe_routes(list))[0] == 200
