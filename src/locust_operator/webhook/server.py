"""The webhook HTTPS server: /convert, /validate, /healthz, /readyz. Runs on every replica."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from locust_operator.api.conversion import BadReview, convert_review, review_answer
from locust_operator.api.validation import validate
from locust_operator.webhook.admission import (
    BadAdmissionReview,
    ChildrenCheck,
    review_admission_with_children,
)
from locust_operator.webhook.large_conversion import MalformedBody, parse_body, uid_in
from locust_operator.webhook.tls import ReloadingTLSContext

log = logging.getLogger(__name__)

# Admission review bodies carry one object.
MAX_BODY_BYTES = 8 * 1024 * 1024
# A ConversionReview can carry every object of a list that needs converting: 20,000 stored
# tests make 25 MiB; with two managedFields entries and kubectl's last-applied annotation a
# test is about 2.8 KiB, so 50,000 make about 135 MiB. A bound stays, as each byte is read
# and held, about 2.5 times over, in the converting process (one such review fits the
# chart's 512 MiB limit). A larger review is answered with a failed ConversionReview naming
# this limit, which the apiserver shows its client.
MAX_CONVERSION_BODY_BYTES = 160 * 1024 * 1024
# A client that takes longer than this to send its body is answered 408 and dropped.
BODY_TIMEOUT_SECONDS = 10.0
# Idle keep-alive connections are closed after this long (the apiserver reconnects).
KEEPALIVE_TIMEOUT_SECONDS = 15.0
# A conversion review larger than this (a list of hundreds of tests) is converted in a
# short-lived process (webhook/large_conversion.py), which reads the body as it arrives and
# converts it a piece at a time: json's C parser and encoder hold the GIL for their whole
# call, so in a thread a 20,000-object review stalled the event loop for seconds (make
# bench). The process also hands its memory back when it exits.
LARGE_REVIEW_BYTES = 1024 * 1024
# Large reviews converted at once; more wait their turn (each takes a core, which is the
# chart's CPU limit, and about 2.5 times its body in memory).
LARGE_CONVERSIONS_AT_ONCE = 1
# A conversion process that has not answered by then is stopped (the apiserver gave up).
CONVERSION_TIMEOUT_SECONDS = 120.0
# Pieces in which a large review's body and answer are passed on.
CHUNK_BYTES = 256 * 1024
# The start of an oversized review kept to find its uid (to refuse it in a ConversionReview).
PREFIX_BYTES = 64 * 1024
_CONVERTER = "from locust_operator.webhook.large_conversion import main; main()"


def _bad_request(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=400)


async def _read_body(request: web.Request) -> bytes:
    try:
        return await asyncio.wait_for(request.read(), BODY_TIMEOUT_SECONDS)
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="request body not received in time") from None


def _review_handler(
    answer: Callable[[Any], Awaitable[dict[str, Any]]], malformed: tuple[type[Exception], ...]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        raw = await _read_body(request)
        try:
            # Parsing and converting a large review takes a while: off the event loop, so
            # that probes, reconciles and Lease renewals are not held up behind it.
            body = await asyncio.to_thread(parse_body, raw)
            reply = await answer(body)
            text = await asyncio.to_thread(json.dumps, reply)
        except MalformedBody as error:
            return _bad_request(str(error))
        except malformed as error:
            log.info("rejected malformed review on %s: %s", request.path, error)
            return _bad_request(str(error))
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as error:
            # A shape no check above foresaw: still the request's fault, never a 500.
            log.warning("rejected a review on %s that cannot be processed: %r", request.path, error)
            return _bad_request(f"the review cannot be processed: {str(error)[:200]}")
        return web.Response(text=text, content_type="application/json")

    return handle


def _mib(size: int) -> str:
    return f"{size / 2**20:.{1 if size < 10 * 2**20 else 0}f} MiB"


def _too_large(uid: str | None, size: int | None) -> web.Response:
    """The refusal of a review over MAX_CONVERSION_BODY_BYTES: with its uid, a failed
    ConversionReview, whose message the apiserver shows its client ("conversion webhook for
    locust.io/v2, Kind=LocustTest failed: ..."); else a 413."""
    message = (
        f"the ConversionReview is {'larger' if size is None else _mib(size)}, more than the "
        f"{_mib(MAX_CONVERSION_BODY_BYTES)} the LocustTest conversion webhook reads "
        "(MAX_CONVERSION_BODY_BYTES): list fewer LocustTests at a time (in pages: limit, "
        "e.g. kubectl get --chunk-size=500)"
    )
    log.warning("refused a conversion review: %s", message)
    if uid is None:
        return web.json_response({"error": message}, status=413)
    failure = {"status": "Failure", "message": message}
    return web.json_response(review_answer(uid, failure))


async def _read_prefix(request: web.Request) -> bytes:
    prefix = b""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            while len(prefix) < PREFIX_BYTES:
                chunk = await request.content.read(PREFIX_BYTES - len(prefix))
                if not chunk:
                    break
                prefix += chunk
    return prefix


async def _feed(request: web.Request, stdin: asyncio.StreamWriter) -> tuple[int, bytes]:
    """Passes the body on as it arrives, until it passes MAX_CONVERSION_BODY_BYTES:
    (the bytes received, the body's first PREFIX_BYTES)."""
    received, prefix = 0, b""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            async for chunk in request.content.iter_chunked(CHUNK_BYTES):
                received += len(chunk)
                if len(prefix) < PREFIX_BYTES:
                    prefix += chunk[: PREFIX_BYTES - len(prefix)]
                if received > MAX_CONVERSION_BODY_BYTES:
                    break
                stdin.write(chunk)
                await stdin.drain()
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="request body not received in time") from None
    except (BrokenPipeError, ConnectionResetError):
        pass  # the converting process has stopped: its answer says why
    stdin.close()
    return received, prefix


async def _convert_in_process(request: web.Request) -> web.StreamResponse:
    """Converts a large review in a process of its own (webhook/large_conversion.py)."""
    length = request.content_length
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CONVERTER,
        str(-1 if length is None else length),
        str(MAX_CONVERSION_BODY_BYTES),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        # The same modules as this process's, wherever they came from.
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        received, prefix = await _feed(request, process.stdin)
        if received > MAX_CONVERSION_BODY_BYTES:
            return _too_large(uid_in(prefix), None)
        try:
            async with asyncio.timeout(CONVERSION_TIMEOUT_SECONDS):
                header = (await process.stdout.readline()).split()
                status, size = int(header[0]), int(header[1])
                if status != 200:
                    body = await process.stdout.readexactly(size)
                    reason = json.loads(body).get("error")
                    log.info("refused a review on %s (%d): %s", request.path, status, reason)
                    return web.Response(body=body, status=status, content_type="application/json")
        except TimeoutError:
            log.warning("a conversion took longer than %.0f s: stopped", CONVERSION_TIMEOUT_SECONDS)
            return web.json_response({"error": "the conversion took too long"}, status=503)
        except (ValueError, IndexError, asyncio.IncompleteReadError):
            log.error("the conversion process failed (exit code %s)", await process.wait())
            return web.json_response({"error": "the conversion process failed"}, status=500)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = size
        await response.prepare(request)
        while chunk := await process.stdout.read(CHUNK_BYTES):
            await response.write(chunk)
        await response.write_eof()
        await process.wait()
        return response
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def _convert_handler(
    small: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    at_once = asyncio.Semaphore(LARGE_CONVERSIONS_AT_ONCE)

    async def handle(request: web.Request) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length <= LARGE_REVIEW_BYTES:
            return await small(request)
        if length is not None and length > MAX_CONVERSION_BODY_BYTES:
            return _too_large(uid_in(await _read_prefix(request)), length)
        async with at_once:
            return await _convert_in_process(request)

    return handle


def create_app(
    is_ready: Callable[[], bool] = lambda: True,
    check_children: ChildrenCheck | None = None,
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_request: web.Request) -> web.Response:
        if is_ready():
            return web.Response(text="ok")
        return web.Response(text="not ready", status=503)

    async def convert(body: Any) -> dict[str, Any]:
        return await asyncio.to_thread(convert_review, body)

    async def admit(body: Any) -> dict[str, Any]:
        return await review_admission_with_children(body, validate, check_children)

    app.router.add_post("/convert", _convert_handler(_review_handler(convert, (BadReview,))))
    app.router.add_post("/validate", _review_handler(admit, (BadAdmissionReview,)))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


@dataclass
class WebhookServer:
    """Serves the webhook app over TLS on host:port until stopped."""

    host: str
    port: int
    tls: ReloadingTLSContext
    is_ready: Callable[[], bool] = lambda: True
    check_children: ChildrenCheck | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(
            create_app(self.is_ready, self.check_children),
            access_log=None,
            keepalive_timeout=KEEPALIVE_TIMEOUT_SECONDS,
        )
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.tls.context)
        await self._site.start()
        # With port 0 the OS picks one; report the real port.
        server = self._site._server
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("webhook server listening on https://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()
