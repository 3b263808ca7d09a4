"""Where the operator's start to ready goes, against the local control plane.

Starts `locust-operator run` (controller, no webhooks) --runs times, polling /readyz
every --poll-ms from Popen as `make bench` does, and prints the start-to-ready figures
and, for the median run, a timeline: interpreter up, imports, configuration, probe
server, API client, informers started, each informer's first list, caches synced,
/readyz 200, the background import done. The timeline comes from the operator process
itself (a bootstrap wraps a few functions and writes CLOCK_MONOTONIC marks to a file);
the wrapped functions are looked up by name, so an older tree (--src) still runs, with
the marks it has.

    PYTHONPATH=hack:benchmarks .venv/bin/python benchmarks/startup.py --runs 10
    ... --src /path/to/another/checkout/src   # the same against another tree
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_controller import install_crd
from lightkube import AsyncClient, KubeConfig

from localcluster import LocalCluster
from localcluster.cluster import build_tools, free_port

# Runs in the operator process before `locust_operator.cli.main()`.
BOOTSTRAP = r"""
import json, os, sys, time
MARKS = [("interpreter up", time.monotonic(), time.process_time())]
def mark(what):
    MARKS.append((what, time.monotonic(), time.process_time()))
def save():
    with open(os.environ["STARTUP_MARKS"], "w") as out:
        json.dump(MARKS, out)
import locust_operator.cli as cli
mark("imported cli")
import locust_operator.runtime as runtime
mark("imported runtime (main() imports it after parsing)")

def wrap(owner, name, label, is_async=False):
    original = getattr(owner, name, None)
    if original is None:
        return
    if is_async:
        async def wrapper(*args, **kwargs):
            result = await original(*args, **kwargs)
            mark(label(*args) if callable(label) else label)
            return result
    else:
        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            mark(label(*args) if callable(label) else label)
            return result
    setattr(owner, name, wrapper)

import locust_operator.config as config
original_from_env = config.OperatorConfig.from_env.__func__
def from_env(cls, env):
    result = original_from_env(cls, env)
    mark("configuration read")
    return result
config.OperatorConfig.from_env = classmethod(from_env)
original_run = runtime.run_operator
async def run_operator(options):
    mark("event loop running")
    return await original_run(options)
runtime.run_operator = run_operator
wrap(runtime, "_kube_config", "kubeconfig loaded")
wrap(runtime, "async_client", "API client created")
wrap(runtime.HttpServer, "start", lambda server: f"serving {', '.join(server._routes)}", True)
from locust_operator.kube.informer import Informer
wrap(Informer, "_relist", lambda informer: f"listed {informer.name}", True)
from locust_operator.controller.controller import Controller
wrap(Controller, "__init__", "controller created")
original_informers = Controller.run_informers
async def run_informers(self):
    mark("informers started")
    return await original_informers(self)
Controller.run_informers = run_informers
try:
    from locust_operator.kube.background_import import BackgroundImport
except ImportError:
    pass
else:
    wrap(BackgroundImport, "_run", "background import done")
original_probes = runtime.probe_routes
def probe_routes(unready):
    routes = original_probes(unready)
    readyz = routes["/readyz"]
    def first_ready():
        answer = readyz()
        if answer[0] == 200 and not any(m[0] == "/readyz 200" for m in MARKS):
            mark("/readyz 200")
            save()
        return answer
    routes["/readyz"] = first_ready
    return routes
runtime.probe_routes = probe_routes
try:
    sys.exit(cli.main(sys.argv[1:]))
finally:
    save()
"""


def get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return int(r.status)
    except OSError as error:
        return int(getattr(error, "code", 0) or 0)


Mark = tuple[str, float, float]  # what, when (s after Popen), CPU seconds of the process


def one_run(
    kubeconfig: Path, work: Path, src: str | None, poll: float, timeline: bool, bytecode: bool
) -> tuple[float, list[Mark]]:
    """(start to /readyz 200 in s, the process's marks)."""
    probe_port = free_port()
    marks_file = work / "marks.json"
    marks_file.unlink(missing_ok=True)
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    if bytecode:  # written by the first (uncounted) run, outside the checkout
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "bytecode" / str(abs(hash(src))))
    if timeline:
        env["STARTUP_MARKS"] = str(marks_file)
        head = [sys.executable, "-c", BOOTSTRAP]
    else:
        head = [sys.executable, "-m", "locust_operator.cli"]
    argv = [
        *head,
        "run",
        f"--kubeconfig={kubeconfig}",
        f"--metrics-bind-address=127.0.0.1:{free_port()}",
        f"--health-probe-bind-address=127.0.0.1:{probe_port}",
    ]
    with (work / "operator.log").open("ab") as log:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"operator exited: {(work / 'operator.log').read_text()}")
            if get(probe_port, "/readyz") == 200:
                ready = time.monotonic() - started
                break
            if time.monotonic() - started > 60:
                raise SystemExit("operator never became ready")
            time.sleep(poll)
        time.sleep(1.0)  # the background import ends
    finally:
        process.terminate()
        process.wait(30)
    marks: list[Mark] = []
    if timeline and marks_file.exists():
        marks = [(what, at - started, cpu) for what, at, cpu in json.loads(marks_file.read_text())]
    return ready, marks


def measure(kubeconfig: Path, work: Path, args: argparse.Namespace) -> None:
    trees: list[str | None] = [None, *args.src]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results: dict[str | None, list[tuple[float, list[Mark]]]] = {tree: [] for tree in trees}
    for _ in range(args.runs + 1):  # the first round warms caches, not counted
        for tree in trees:  # interleaved: drift in the machine's load hits all alike
            timeline = not args.no_timeline
            poll = args.poll_ms / 1000
            run = one_run(kubeconfig, work, tree, poll, timeline, args.bytecode)
            results[tree].append(run)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    for tree, runs in results.items():
        counted = runs[1:]
        readies = sorted(ready for ready, _ in counted)
        print(f"\n{tree or 'this tree'}: start to /readyz 200 over {len(readies)} runs: "
              f"min {readies[0]:.3f} s, median {statistics.median(readies):.3f} s, "
              f"max {readies[-1]:.3f} s")  # fmt: skip
        print("  " + " ".join(f"{r:.3f}" for r in readies))
        median_run = sorted(counted, key=lambda run: run[0])[len(counted) // 2]
        if median_run[1]:
            print("     after Popen   CPU used (process)")
        for what, at, cpu in median_run[1]:
            print(f"  {at * 1000:7.1f} ms  {cpu * 1000:7.1f} ms  {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--poll-ms", type=float, default=10.0, help="/readyz polling period")
    parser.add_argument("--src", action="append", default=[],
                        help="another tree's src/ to compare (repeatable)")  # fmt: skip
    parser.add_argument("--no-timeline", action="store_true",
                        help="run `python -m locust_operator.cli` as is")  # fmt: skip
    parser.add_argument("--bytecode", action="store_true",
                        help="let the operator use a bytecode cache, as the image's install "
                        "compiles one (this checkout, with PYTHONDONTWRITEBYTECODE=1, has none: "
                        "every start compiles each module it imports)")  # fmt: skip
    parser.add_argument("--kubeconfig", type=Path,
                        help="a running cluster with the CRD (default: start one)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="locust-startup-") as data_dir:
        work = Path(data_dir)
        if args.kubeconfig:
            measure(args.kubeconfig, work, args)
            return 0
        cluster = LocalCluster(work / "cluster", bin_dir=build_tools(), log=lambda m: None)
        cluster.start()
        try:

            async def crd() -> None:
                kube = AsyncClient(config=KubeConfig.from_file(str(cluster.kubeconfig)))
                try:
                    await install_crd(kube)
                finally:
                    await kube.close()

            asyncio.run(crd())
            measure(cluster.kubeconfig, work, args)
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
