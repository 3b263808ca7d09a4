"""Ctrl-C while following a test: noted, and acted on between two polls.

Raised at an arbitrary point, KeyboardInterrupt can land inside an API request and leave
the HTTP client's connection pool locked; the cleanup that follows (deleting the test)
then hangs. So the first Ctrl-C only sets a flag, which the follow loop's sleep turns into
KeyboardInterrupt at a safe point; a second Ctrl-C interrupts at once, as usual.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class DeferredInterrupt:
    def __init__(self) -> None:
        self._requested = threading.Event()
        self._previous: Any = None

    def __enter__(self) -> DeferredInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._note)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self._requested.is_set():
            raise KeyboardInterrupt  # pressed twice: do not wait for a safe point
        self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def sleep(self, seconds: float) -> None:
        """Sleep, or raise KeyboardInterrupt as soon as Ctrl-C was pressed."""
        if self._requested.wait(seconds):
            raise KeyboardInterrupt
