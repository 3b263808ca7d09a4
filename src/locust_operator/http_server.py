"""The operator's plain-HTTP endpoint: Prometheus /metrics and the /healthz, /readyz probes.

Three GET routes need no web framework: a minimal asyncio server keeps the operator's
memory small (aiohttp alone costs ~11 MiB, and is loaded only with the webhooks).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

MAX_REQUEST_HEAD = 8192
READ_TIMEOUT_SECONDS = 10.0


def respond(path: str, is_ready: Callable[[], bool]) -> tuple[int, str, bytes]:
    """(status, content type, body) for a GET of ``path``."""
    route = path.split("?", 1)[0]
    if route == "/metrics":
        return 200, CONTENT_TYPE_LATEST, generate_latest()
    if route == "/healthz":
        return 200, "text/plain", b"ok"
    if route == "/readyz":
        return (200, "text/plain", b"ok") if is_ready() else (503, "text/plain", b"not ready")
    return 404, "text/plain", b"not found"


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
REASONS[503] = "Service Unavailable"


class HttpServer:
    def __init__(self, host: str, port: int, is_ready: Callable[[], bool]) -> None:
        self._host, self._port = host, port
        self._is_ready = is_ready
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_SECONDS)
            method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method != "GET":
                status, kind, body = 405, "text/plain", b"only GET"
            else:
                status, kind, body = respond(path, self._is_ready)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, kind, body = 400, "text/plain", b"bad request"
        header = (
            f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(header.encode("latin-1") + body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
