"""Runs `locust-operator run` as a separate process against the local control plane."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from localcluster.cluster import free_port
from tests.helpers import http_get

__all__ = ["OperatorProcess", "free_port", "operator_running"]


@dataclass
class OperatorProcess:
    kubeconfig: Path
    log_path: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    webhooks: bool = False
    webhook_port: int = 0
    probe_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def webhook_url(self) -> str:
        return f"https://127.0.0.1:{self.webhook_port}"

    def command(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "locust_operator.cli",
            "run",
            f"--kubeconfig={self.kubeconfig}",
            # Probes on a port of its own: test sessions and operators run side by side.
            f"--health-probe-bind-address=127.0.0.1:{self.probe_port}",
        ]
        if self.webhooks:
            self.webhook_port = self.webhook_port or free_port()
            argv += ["--enable-webhooks", f"--webhook-url={self.webhook_url}"]
        return [*argv, *self.args]

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
        )
        log.close()

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_log(self, needle: str, within: float = 60.0) -> None:
        """Waits until the operator logs ``needle``; fails with its log if it exits first."""
        deadline = time.monotonic() + within
        while True:
            if self.log_path.exists() and needle in self.log_path.read_text(errors="replace"):
                return
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"operator exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"operator never logged {needle!r}:\n{self.log_tail()}")
            time.sleep(0.1)

    def wait_until_ready(self, within: float = 60.0) -> None:
        """Waits until the operator's /readyz answers 200; fails with its log if it exits
        first."""
        deadline = time.monotonic() + within
        while http_get(self.probe_port, "/readyz")[0] != 200:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"operator exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"operator never became ready:\n{self.log_tail()}")
            time.sleep(0.1)

    def webhook_ready(self) -> bool:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(
                f"{self.webhook_url}/readyz", context=context, timeout=2
            ) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, sig: int = signal.SIGTERM, within: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(within)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextmanager
def operator_running(
    kubeconfig: Path,
    log_path: Path,
    *,
    args: Sequence[str] = (),
    webhooks: bool = False,
    ready_log: str | None = None,
) -> Iterator[OperatorProcess]:
    """An operator process for the duration of the block, once /readyz answers 200 (or,
    with ``ready_log``, once it logged that); it must exit cleanly (0)."""
    process = OperatorProcess(
        kubeconfig=kubeconfig, log_path=log_path, args=list(args), webhooks=webhooks
    )
    process.start()
    try:
        if ready_log is None:
            process.wait_until_ready()
        else:
            process.wait_for_log(ready_log)
        yield process
    finally:
        assert process.stop() == 0, process.log_tail()
