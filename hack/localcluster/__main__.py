"""`python -m localcluster up|down|serve --dir DIR` (PYTHONPATH=hack).

up    builds the binaries if needed, starts a supervisor in the background that runs the
      control plane and the real node (unless --no-real-node), waits until it is ready and
      writes DIR/kubeconfig.
down  stops the supervisor and exactly the processes it started, and removes what the
      real node left on the host (mounts, its network namespace and link, cgroups).
serve the supervisor itself (foreground); stops everything on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .cluster import ComponentFailed, LocalCluster, build_tools
from .network import SlotNetwork
from .node import NodeUnavailable, cleanup_slot
from .slots import LOCK_DIR

SUPERVISOR_PID = "supervisor.pid"
COMPONENT_PIDS = "pids.json"
READY_MARK = "ready"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _started_by_us(pid: int, data_dir: Path) -> bool:
    """Only signal a pid whose command line still names our data dir (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return str(data_dir) in cmdline


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def up(data_dir: Path, nodes: int, real_node: bool = True) -> int:
    data_dir = data_dir.resolve()
    pid = _read_pid(data_dir / SUPERVISOR_PID)
    if pid and _alive(pid) and (data_dir / READY_MARK).exists():
        print(f"local cluster already running; kubeconfig: {data_dir / 'kubeconfig'}")
        return 0
    down(data_dir, quiet=True)
    print("[localcluster] building control-plane binaries (cached after the first build)")
    bin_dir = build_tools()
    data_dir.mkdir(parents=True, exist_ok=True)
    supervisor_log = data_dir / "supervisor.log"
    with supervisor_log.open("wb") as log:
        supervisor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localcluster",
                "serve",
                f"--dir={data_dir}",
                f"--bin-dir={bin_dir}",
                f"--nodes={nodes}",
                "--real-node" if real_node else "--no-real-node",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)),
        )
    deadline = time.monotonic() + 300
    while not (data_dir / READY_MARK).exists():
        if supervisor.poll() is not None or time.monotonic() > deadline:
            print(supervisor_log.read_text(errors="replace"), file=sys.stderr)
            print("[localcluster] failed to start; see the log above", file=sys.stderr)
            down(data_dir, quiet=True)
            return 1
        time.sleep(0.2)
    print(f"[localcluster] ready; kubeconfig: {data_dir / 'kubeconfig'}")
    print(f"  kubectl --kubeconfig {data_dir / 'kubeconfig'} get nodes")
    return 0


def serve(data_dir: Path, bin_dir: Path | None, nodes: int, real_node: bool = True) -> int:
    data_dir = data_dir.resolve()
    # A fresh cluster each time: only our own files live here.
    for child in ("etcd", "pki", "logs", "kubeconfig", READY_MARK, COMPONENT_PIDS):
        path = data_dir / child
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    (data_dir / SUPERVISOR_PID).write_text(str(os.getpid()))
    cluster = LocalCluster(data_dir, bin_dir=bin_dir, nodes=nodes, real_node=real_node)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        (data_dir / COMPONENT_PIDS).write_text(json.dumps(cluster.pids()))
        (data_dir / READY_MARK).write_text("ready\n")
        while not stopping:
            cluster.check()
            time.sleep(0.5)
        return 0
    except (ComponentFailed, NodeUnavailable) as failure:
        print(f"[localcluster] {failure}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
        for child in (READY_MARK, COMPONENT_PIDS, SUPERVISOR_PID):
            (data_dir / child).unlink(missing_ok=True)
        print("[localcluster] stopped", flush=True)


def down(data_dir: Path, quiet: bool = False) -> int:
    data_dir = data_dir.resolve()
    supervisor = _read_pid(data_dir / SUPERVISOR_PID)
    if supervisor and _alive(supervisor) and _started_by_us(supervisor, data_dir):
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(supervisor):
            os.kill(supervisor, signal.SIGKILL)
    # Whatever the supervisor left behind (it was SIGKILLed, say): the recorded pids only.
    with contextlib.suppress(OSError, ValueError):
        for pid in json.loads((data_dir / COMPONENT_PIDS).read_text()).values():
            if _alive(pid) and _started_by_us(pid, data_dir):
                os.kill(pid, signal.SIGKILL)
    _clean_abandoned_slot(data_dir)
    for child in (READY_MARK, COMPONENT_PIDS, SUPERVISOR_PID):
        (data_dir / child).unlink(missing_ok=True)
    if not quiet:
        print("[localcluster] stopped")
    return 0


def _clean_abandoned_slot(data_dir: Path) -> None:
    """A supervisor that was SIGKILLed could not tear its real node down; its slot lock
    died with it, so taking the lock proves nobody runs that slot now."""
    import fcntl

    try:
        slot = int((data_dir / "slot").read_text())
    except (OSError, ValueError):
        return
    lock = LOCK_DIR / f"slot-{slot}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return
    try:
        cleanup_slot(SlotNetwork(slot))
        (data_dir / "slot").unlink(missing_ok=True)
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster")
    parser.add_argument("command", choices=["up", "down", "serve"])
    parser.add_argument("--dir", type=Path, default=Path(".cluster"))
    parser.add_argument("--bin-dir", type=Path, default=None)
    parser.add_argument("--nodes", type=int, default=2, help="kwok (fake) nodes")
    parser.add_argument(
        "--real-node",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run one real node (kubelet, containerd, kube-proxy, DNS; needs root)",
    )
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.dir, args.nodes, args.real_node)
    if args.command == "down":
        return down(args.dir)
    return serve(args.dir, args.bin_dir, args.nodes, args.real_node)


if __name__ == "__main__":
    sys.exit(main())
