"""The webhook server's TLS context: TLS 1.2+, certificates reloaded when their files change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path

log = logging.getLogger(__name__)


class ReloadingTLSContext:
    """An SSLContext whose certificate chain is re-read when the files change.

    Reloading into the same context is enough: OpenSSL uses the newest chain for every
    handshake after it, and connections already open keep theirs.
    """

    def __init__(self, cert_path: Path, key_path: Path) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._stamp: tuple[float, float] | None = None
        self.reload_if_changed()

    def _current_stamp(self) -> tuple[float, float]:
        return (self.cert_path.stat().st_mtime, self.key_path.stat().st_mtime)

    def reload_if_changed(self) -> bool:
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return False
        self.context.load_cert_chain(str(self.cert_path), str(self.key_path))
        self._stamp = stamp
        return True

    async def watch(self, interval: float = 5.0) -> None:
        """Runs until cancelled; a half-written pair is retried on the next tick."""
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(FileNotFoundError):
                try:
                    if self.reload_if_changed():
                        log.info("reloaded webhook certificate from %s", self.cert_path)
                except ssl.SSLError as error:
                    log.warning("webhook certificate not reloaded yet: %s", error)
