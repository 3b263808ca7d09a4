"""The operator's plain-HTTP endpoints: the /healthz, /readyz probes and Prometheus /metrics,
each set of routes on an address of its own.

A few GET routes need no web framework: a minimal asyncio server keeps the operator's
memory small (aiohttp alone costs ~11 MiB, and is loaded only with the webhooks).
prometheus_client is loaded by the first scrape (if nothing loaded it before), not to
start serving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

# A request line and headers longer than this are refused (431) without reading on.
MAX_REQUEST_HEAD = 8192
READ_TIMEOUT_SECONDS = 10.0

Response = tuple[int, str, bytes]  # status, content type, body
Route = Callable[[], Response]
TEXT = "text/plain; charset=utf-8"


def metrics_routes(before: Callable[[], None] | None = None) -> dict[str, Route]:
    """/metrics: every metric of the process's registry; ``before()`` runs first on each
    scrape (e.g. to point scrape-time metrics at what they read)."""

    def metrics() -> Response:
        if before is not None:
            before()
        from locust_operator.metrics import exposition

        kind, body = exposition()
        return 200, kind, body

    return {"/metrics": metrics}


def probe_routes(unready: Callable[[], list[str]]) -> dict[str, Route]:
    """/healthz: the process serves; /readyz: ``unready()`` lists nothing still missing."""

    def readyz() -> Response:
        missing = unready()
        if missing:
            return 503, TEXT, ("not ready: " + "; ".join(missing)).encode()
        return 200, TEXT, b"ok"

    return {"/healthz": lambda: (200, TEXT, b"ok"), "/readyz": readyz}


def respond(path: str, routes: Mapping[str, Route]) -> Response:
    """The response to a GET of ``path``."""
    route = routes.get(path.split("?", 1)[0])
    return route() if route is not None else (404, TEXT, b"not found")


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
REASONS.update({431: "Request Header Fields Too Large", 503: "Service Unavailable"})


class HttpServer:
    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.host, self.port = host, port
        self._routes = routes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listens; raises OSError if the address cannot be bound. With port 0 the OS
        picks one, and ``port`` tells which."""
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=MAX_REQUEST_HEAD
        )
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_SECONDS)
            method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method != "GET":
                status, kind, body = 405, TEXT, b"only GET"
            else:
                status, kind, body = respond(path, self._routes)
        except asyncio.LimitOverrunError:  # the stream's limit is MAX_REQUEST_HEAD
            status, kind, body = 431, TEXT, b"request head too large"
        except (asyncio.IncompleteReadError, TimeoutError, ValueError):
            status, kind, body = 400, TEXT, b"bad request"
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
