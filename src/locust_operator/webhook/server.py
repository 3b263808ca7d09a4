"""The webhook HTTPS server: /convert, /validate, /healthz, /readyz. Runs on every replica."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from locust_operator.api.conversion import BadReview, convert_review
from locust_operator.api.validation import validate
from locust_operator.webhook.admission import (
    BadAdmissionReview,
    ChildrenCheck,
    review_admission_with_children,
)
from locust_operator.webhook.tls import ReloadingTLSContext

log = logging.getLogger(__name__)

# Review bodies carry one object (admission) or a batch of objects (conversion).
MAX_BODY_BYTES = 8 * 1024 * 1024
# A client that takes longer than this to send its body is answered 408 and dropped.
BODY_TIMEOUT_SECONDS = 10.0
# Idle keep-alive connections are closed after this long (the apiserver reconnects).
KEEPALIVE_TIMEOUT_SECONDS = 15.0
# A conversion review larger than this (a list of hundreds of tests) is parsed, converted
# and serialized in a short-lived process: json's C parser and encoder hold the GIL for
# their whole call, so in a thread a 20,000-object review still stalled the event loop
# for seconds (make bench). The process also hands its memory back when it exits.
LARGE_REVIEW_BYTES = 1024 * 1024


def _bad_request(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=400)


class _Malformed(Exception):
    pass


def _parse(raw: bytes) -> Any:
    """JSON of a review body; _Malformed for anything that is not (also JSON nested too
    deep for the parser, and integers too long to convert)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise _Malformed(f"body is not valid JSON: {str(error)[:200]}") from None


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
            body = await asyncio.to_thread(_parse, raw)
            reply = await answer(body)
            text = await asyncio.to_thread(json.dumps, reply)
        except _Malformed as error:
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


def convert_raw(raw: bytes) -> tuple[int, bytes, str | None]:
    """One conversion review from body to answer: (HTTP status, body, why it is malformed
    or None). Runs in another process for large reviews, hence bytes in and out."""
    try:
        reply = convert_review(_parse(raw))
    except (_Malformed, BadReview) as error:
        reason = str(error)
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as error:
        reason = f"the review cannot be processed: {str(error)[:200]}"
    else:
        return 200, json.dumps(reply).encode(), None
    return 400, json.dumps({"error": reason}).encode(), reason


def _large_convert_handler(
    small: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        if (request.content_length or 0) <= LARGE_REVIEW_BYTES:
            return await small(request)
        raw = await _read_body(request)
        # One task per process (max_tasks_per_child): its memory goes when it exits.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1)
        try:
            status, body, reason = await asyncio.get_running_loop().run_in_executor(
                pool, convert_raw, raw
            )
        finally:
            pool.shutdown(wait=False)  # waiting would block the event loop
        if reason is not None:
            log.info("rejected malformed review on %s: %s", request.path, reason)
        return web.Response(body=body, status=status, content_type="application/json")

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

    app.router.add_post("/convert", _large_convert_handler(_review_handler(convert, (BadReview,))))
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
