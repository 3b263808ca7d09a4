"""Whether the apiserver answers, logged once per outage.

When the cluster goes away every informer, reconcile and Lease renewal fails at once and
keeps failing on each backoff step. Those failures say the same thing, so they report
here: the first connection failure logs one warning naming the server, the first answer
afterwards logs one line saying it is back, and the failures in between are debug lines.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

import httpx2

log = logging.getLogger(__name__)


def is_connection_error(error: BaseException) -> bool:
    """The request got no HTTP answer: refused, reset, timed out, or cut mid-stream."""
    return isinstance(error, (httpx2.TransportError, ConnectionError, TimeoutError))


class ApiReachability:
    def __init__(self, server: str) -> None:
        self.server = server
        self._down_since: float | None = None
        self.outages = 0

    @property
    def reachable(self) -> bool:
        return self._down_since is None

    def failed(self, error: BaseException, what: str) -> bool:
        """Records that ``what`` failed with ``error``. True if it was a connection
        failure, which is then logged here (so the caller logs nothing more)."""
        if not is_connection_error(error):
            return False
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.outages += 1
            log.warning(
                "apiserver %s unreachable (%s); retrying quietly until it answers",
                self.server,
                _describe(error),
            )
        else:
            log.debug("%s: apiserver still unreachable: %s", what, _describe(error))
        return True

    def answered(self) -> None:
        """Records an HTTP answer (any status) from the apiserver."""
        if self._down_since is not None:
            down = time.monotonic() - self._down_since
            self._down_since = None
            log.info("apiserver %s answers again (unreachable for %.0fs)", self.server, down)


def _describe(error: BaseException) -> str:
    detail = str(error).strip()
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


_BY_CLIENT: weakref.WeakKeyDictionary[Any, ApiReachability] = weakref.WeakKeyDictionary()


def reachability(client: Any) -> ApiReachability:
    """The one tracker of the apiserver behind ``client`` (a lightkube AsyncClient), shared
    by everything that uses that client."""
    tracker = _BY_CLIENT.get(client) if client is not None else None
    if tracker is None:
        # lightkube (pinned <2) keeps its httpx client at _client._client.
        http = getattr(getattr(client, "_client", None), "_client", None)
        server = str(getattr(http, "base_url", "")).rstrip("/") or "(unknown)"
        tracker = ApiReachability(server)
        if client is not None:  # a test's stand-in client may be None: not shared then
            _BY_CLIENT[client] = tracker
    return tracker
