"""`make cluster` / `make cluster-down` (python -m localcluster up|down): the cluster comes
up in the background, and stopping it, or killing its supervisor, leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.cluster


def _localcluster(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcluster", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT / "hack")),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _processes_using(data_dir: Path) -> list[int]:
    """Pids whose command line names the data dir (every component's does)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(data_dir) in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def _wait_until_gone(data_dir: Path, within: float = 30.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := _processes_using(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_up_then_down_leaves_no_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    up = _localcluster("up", f"--dir={data_dir}", "--no-real-node")
    assert up.returncode == 0, up.stdout + up.stderr
    assert (data_dir / "kubeconfig").exists()
    # etcd, apiserver, controller manager, scheduler, kwok and the supervisor.
    assert len(_processes_using(data_dir)) == 6

    again = _localcluster("up", f"--dir={data_dir}")
    assert "already running" in again.stdout

    down = _localcluster("down", f"--dir={data_dir}")
    assert down.returncode == 0, down.stderr
    assert _wait_until_gone(data_dir) == []


def test_killing_the_supervisor_takes_every_component_with_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    up = _localcluster("up", f"--dir={data_dir}", "--no-real-node")
    assert up.returncode == 0, up.stdout + up.stderr
    supervisor = int((data_dir / "supervisor.pid").read_text())
    os.kill(supervisor, signal.SIGKILL)
    assert _wait_until_gone(data_dir) == []
    # `down` after a crash is still safe and quiet about it.
    assert _localcluster("down", f"--dir={data_dir}").returncode == 0
