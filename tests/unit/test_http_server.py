"""The plain-HTTP endpoint: /metrics, /healthz, /readyz over a real socket."""

from __future__ import annotations

import asyncio

from locust_operator.http_server import HttpServer, respond
from locust_operator.metrics import KUBE_REQUESTS
from tests.operator_process import free_port


async def get(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def test_routes_over_a_socket() -> None:
    ready = False
    port = free_port()
    server = HttpServer("127.0.0.1", port, is_ready=lambda: ready)
    await server.start()
    try:
        KUBE_REQUESTS.labels("PATCH").inc()
        status, body = await get(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200
        assert b'locust_operator_kube_requests_total{method="PATCH"}' in body
        assert (await get(port, b"GET /healthz HTTP/1.1\r\n\r\n"))[0] == 200
        assert (await get(port, b"GET /readyz HTTP/1.1\r\n\r\n"))[0] == 503
        ready = True
        assert (await get(port, b"GET /readyz HTTP/1.1\r\n\r\n")) == (200, b"ok")
        assert (await get(port, b"GET /nope HTTP/1.1\r\n\r\n"))[0] == 404
        assert (await get(port, b"POST /metrics HTTP/1.1\r\n\r\n"))[0] == 405
        assert (await get(port, b"garbage\r\n\r\n"))[0] == 400
    finally:
        await server.stop()


def test_query_strings_are_ignored() -> None:
    assert respond("/healthz?verbose", lambda: True)[0] == 200
