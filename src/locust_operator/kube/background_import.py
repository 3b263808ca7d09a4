"""Imports modules in a thread of their own while the event loop goes on.

The operator is ready once its informers have listed; what only the reconciles need
(the reconciler, the resource builders, the API types, prometheus_client) is imported
then, in the background, so that readiness does not wait for it and the loop keeps
answering probes and watch events meanwhile. Imports hold the interpreter lock: the
thread gives way to the loop every ``SWITCH_INTERVAL_SECONDS`` while both run (except
inside long C calls, such as compiling a module that has no bytecode cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import sys
import threading
from collections.abc import Sequence

log = logging.getLogger(__name__)

# While the imports run, the loop waits at most this long for the interpreter lock when
# an answer arrives (Python's default is 5 ms).
SWITCH_INTERVAL_SECONDS = 0.0005


class BackgroundImport:
    """``start()`` imports ``modules`` in order in a thread; ``await wait()`` returns once
    they are imported. An import that fails is only logged (debug): the code that needs
    the module imports it again and gets the error where it belongs."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = tuple(modules)
        self._done = threading.Event()
        self._loaded: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Starts the thread (once); call it from the event loop that will ``wait()``."""
        if self._thread is not None:
            return
        loop = asyncio.get_running_loop()
        self._loaded = asyncio.Event()
        self._thread = threading.Thread(
            target=self._run, args=(loop, self._loaded), name="background import"
        )
        self._thread.start()

    async def wait(self) -> None:
        """Returns once every module is imported (at once if the thread never started)."""
        if self._loaded is not None and not self._done.is_set():
            await self._loaded.wait()

    def _run(self, loop: asyncio.AbstractEventLoop, loaded: asyncio.Event) -> None:
        _lower_switch_interval()
        try:
            for name in self.modules:
                try:
                    importlib.import_module(name)
                except Exception as error:
                    log.debug("background import of %s failed: %r", name, error)
        finally:
            _restore_switch_interval()
            self._done.set()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(loaded.set)


# The switch interval is the process's: lowered while any background import runs.
_switch_lock = threading.Lock()
_running = 0
_saved_interval = 0.0


def _lower_switch_interval() -> None:
    global _running, _saved_interval
    with _switch_lock:
        if _running == 0:
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved_interval, SWITCH_INTERVAL_SECONDS))
        _running += 1


def _restore_switch_interval() -> None:
    global _running
    with _switch_lock:
        _running -= 1
        if _running == 0:
            sys.setswitchinterval(_saved_interval)
