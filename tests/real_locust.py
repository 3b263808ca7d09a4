"""Runs the Locust container of an operator-generated pod template as a local process.

Only what a pod provides and a laptop does not is translated: ConfigMap volumes become
directories, the master Service name becomes 127.0.0.1 and, because local processes share
one network namespace where pods each have their own, the pod's fixed ports become free
ones. Everything else (flags, environment) is taken from the pod template as generated.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locust_operator.cli_test.localize import LOOPBACK

WORKER_INDEX_HEADER = "X-Worker-Index"


def write_config_maps(root: Path, config_maps: Mapping[str, Mapping[str, str]]) -> dict[str, Path]:
    """Each ConfigMap's data as files in its own directory, as the kubelet mounts it."""
    directories = {}
    for name, data in config_maps.items():
        directory = root / name
        directory.mkdir(parents=True)
        for key, content in data.items():
            (directory / key).write_text(content)
        directories[name] = directory
    return directories


class LocustProcess:
    """A `locust` process with its stdout and stderr in one log file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path, log: Path):
        self.name = name
        self.argv = argv
        self.log_path = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )

    def wait(self, deadline: float) -> int | None:
        """The exit code, or None if the process is still running at the monotonic deadline."""
        try:
            return self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def report(self) -> str:
        return f"--- {self.name}: {' '.join(self.argv)}\n{self.log()}"


@dataclass
class HttpTarget:
    """A local HTTP server answering 200 to every GET, counting (path, worker index) pairs."""

    url: str
    hits: Counter[tuple[str, str | None]]


@contextmanager
def http_target() -> Iterator[HttpTarget]:
    hits: Counter[tuple[str, str | None]] = Counter()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                hits[(self.path, self.headers.get(WORKER_INDEX_HEADER))] += 1
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # hundreds of requests; the counts say all that matters

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            # Users stopped mid-request close their connections; that is no server error.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpTarget(url=f"http://{LOOPBACK}:{server.server_port}", hits=hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def inherited_env() -> dict[str, str]:
    """The test process's environment minus what could stand in for the pod's: no
    PYTHONPATH and no LOCUST_* settings leak into the Locust processes."""
    return {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith("LOCUST_")
    }
