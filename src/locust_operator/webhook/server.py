"""The webhook HTTPS server: /convert, /validate, /healthz, /readyz. Runs on every replica."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from locust_operator.api.conversion import BadReview, convert_review
from locust_operator.api.validation import validate
from locust_operator.webhook.admission import BadAdmissionReview, review_admission
from locust_operator.webhook.tls import ReloadingTLSContext

log = logging.getLogger(__name__)

# Review bodies carry one object (admission) or a batch of objects (conversion).
MAX_BODY_BYTES = 8 * 1024 * 1024


def _bad_request(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=400)


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _Malformed(f"body is not valid JSON: {error}") from None


class _Malformed(Exception):
    pass


def _review_handler(
    answer: Callable[[Any], dict[str, Any]], malformed: tuple[type[Exception], ...]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        try:
            body = await _json_body(request)
            return web.json_response(answer(body))
        except _Malformed as error:
            return _bad_request(str(error))
        except malformed as error:
            log.info("rejected malformed review on %s: %s", request.path, error)
            return _bad_request(str(error))

    return handle


def create_app(is_ready: Callable[[], bool] = lambda: True) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_request: web.Request) -> web.Response:
        if is_ready():
            return web.Response(text="ok")
        return web.Response(text="not ready", status=503)

    app.router.add_post("/convert", _review_handler(convert_review, (BadReview,)))
    app.router.add_post(
        "/validate",
        _review_handler(lambda body: review_admission(body, validate), (BadAdmissionReview,)),
    )
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

    async def start(self) -> None:
        self._runner = web.AppRunner(create_app(self.is_ready), access_log=None)
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
