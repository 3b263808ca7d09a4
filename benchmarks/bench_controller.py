"""`make bench`: the operator's speed and memory on the local control plane.

Prints: start-to-ready time, idle RSS, and for a burst of LocustTests (default 200 of 10
workers each): creation-to-children latency p50/p99, time until all are Running, RSS
with them cached, API write requests per test lifecycle, and writes while nothing
changes. Each figure is printed next to the target the operator aims for; nothing here
asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod, Service

from localcluster import LocalCluster
from localcluster.cluster import FAKE_NODE_LABEL, FAKE_NODE_TAINT, build_tools, free_port
from locust_operator.controller.reconciler import LocustTestResource
from locust_operator.metrics import WRITE_METHODS

REPO_ROOT = Path(__file__).resolve().parent.parent
CRD_FILE = REPO_ROOT / "config" / "crd" / "locust.io_locusttests.yaml"
NAMESPACE = "bench"
ON_KWOK = {
    "scheduler.alpha.kubernetes.io/node-selector": "=".join(FAKE_NODE_LABEL),
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [{"operator": "Equal", **FAKE_NODE_TAINT}]
    ),
}


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def apiserver_writes(cluster: LocalCluster) -> int:
    """Mutating requests the apiserver has served, from every client."""
    assert cluster.bin_dir is not None
    text = subprocess.run(
        [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", "get", "--raw",
         "/metrics"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    total = 0.0
    for line in text.splitlines():
        if line.startswith("apiserver_request_total{") and any(
            f'verb="{verb}"' in line for verb in (*WRITE_METHODS, "APPLY", "CREATE", "UPDATE")
        ):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


class Operator:
    def __init__(self, kubeconfig: Path, log_path: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.probe_port = free_port()
        self.log_path = log_path
        self.started = time.monotonic()
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "locust_operator.cli",
                    "run",
                    f"--kubeconfig={kubeconfig}",
                    f"--metrics-bind-address=127.0.0.1:{self.port}",
                    f"--health-probe-bind-address=127.0.0.1:{self.probe_port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
            )

    def get(self, path: str, port: int | None = None) -> tuple[int, str]:
        url = f"http://127.0.0.1:{port or self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode()
        except OSError as error:
            return getattr(error, "code", 0) or 0, ""

    def wait_ready(self, within: float = 60) -> float:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"operator exited:\n{self.log_path.read_text()}")
            if self.get("/readyz", self.probe_port)[0] == 200:
                return time.monotonic() - self.started
            time.sleep(0.01)
        raise SystemExit("operator never became ready")

    def writes(self) -> int:
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith("locust_operator_kube_requests_total{") and any(
                f'method="{m}"' in line for m in WRITE_METHODS
            ):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def histogram_mean(self, name: str, label: str = "") -> tuple[float, float]:
        """(count, mean) of a histogram on /metrics, summed over label values matching."""
        _, text = self.get("/metrics")
        count = total = 0.0
        for line in text.splitlines():
            if label not in line:
                continue
            if line.startswith(f"{name}_count"):
                count += float(line.rsplit(" ", 1)[1])
            elif line.startswith(f"{name}_sum"):
                total += float(line.rsplit(" ", 1)[1])
        return count, (total / count if count else 0.0)

    def rss(self) -> float:
        return rss_mib(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def locusttest(name: str, workers: int) -> Any:
    return LocustTestResource(
        {
            "apiVersion": "locust.io/v2",
            "kind": "LocustTest",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "image": "locustio/locust:2.43.1",
                "master": {"command": "--locustfile /lotest/src/test.py --host http://127.0.0.1"},
                "worker": {"command": "--locustfile /lotest/src/test.py", "replicas": workers},
                "testFiles": {"configMapRef": "scripts"},
            },
        }
    )


async def install_crd(kube: AsyncClient) -> None:
    (definition,) = codecs.load_all_yaml(CRD_FILE.read_text())
    await kube.apply(definition, field_manager="bench", force=True)
    while True:
        crd = await kube.get(CustomResourceDefinition, "locusttests.locust.io")
        conditions = (crd.status.conditions if crd.status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        await asyncio.sleep(0.1)


async def watch_children(kube: AsyncClient, seen: dict[str, float]) -> None:
    """First time each child (Service or Job) name appears."""

    async def follow(resource: Any, prefix: str) -> None:
        async for _, obj in kube.watch(resource, namespace=NAMESPACE):
            key = f"{prefix}/{obj.metadata.name}"
            seen.setdefault(key, time.monotonic())

    await asyncio.gather(follow(Service, "svc"), follow(Job, "job"))


async def phases(kube: AsyncClient) -> dict[str, str]:
    return {
        t["metadata"]["name"]: (t.get("status") or {}).get("phase", "")
        async for t in kube.list(LocustTestResource, namespace=NAMESPACE)
    }


async def wait_all(kube: AsyncClient, phase: str, count: int, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        current = await phases(kube)
        if len(current) == count and all(p == phase for p in current.values()):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    done = sum(p == phase for p in (await phases(kube)).values())
    raise SystemExit(f"only {done}/{count} tests reached {phase} within {within:.0f}s")


async def finish_masters(kube: AsyncClient) -> None:
    masters = [
        p async for p in kube.list(Pod, namespace=NAMESPACE, labels={"locust-role": "master"})
    ]
    semaphore = asyncio.Semaphore(32)

    async def finish(pod: Pod) -> None:
        assert pod.metadata and pod.metadata.name
        async with semaphore:
            await kube.patch(
                Pod,
                pod.metadata.name,
                {"metadata": {"annotations": {"kwok.locust.io/outcome": "Succeeded"}}},
                namespace=NAMESPACE,
            )

    await asyncio.gather(*(finish(p) for p in masters))


async def bench(
    cluster: LocalCluster, work_dir: Path, tests: int, workers: int, settings: dict[str, str]
) -> None:
    kube = AsyncClient(config=KubeConfig.from_file(str(cluster.kubeconfig)), field_manager="bench")
    figures: list[tuple[str, str, str]] = []
    await install_crd(kube)
    # kwok nodes are tainted: the benchmark's namespace asks for them (PodNodeSelector and
    # PodTolerationRestriction turn these annotations into each pod's selector/toleration).
    await kube.create(Namespace(metadata=ObjectMeta(name=NAMESPACE, annotations=ON_KWOK)))
    await kube.create(
        ConfigMap(metadata=ObjectMeta(name="scripts", namespace=NAMESPACE), data={"test.py": ""})
    )
    # A short resync so that the idle window below spans several of them.
    env = {"RESYNC_PERIOD_SECONDS": "5", **settings}
    operator = Operator(cluster.kubeconfig, work_dir / "operator.log", env)
    try:
        ready = operator.wait_ready()
        figures.append(("start to ready", f"{ready:.2f} s", "<= 1 s"))
        await asyncio.sleep(5)
        figures.append(("idle RSS", f"{operator.rss():.1f} MiB", "<= 60 MiB"))

        # A warm apiserver, as in any cluster that has run a test before: the first
        # writes to a new CRD compile its validation rules (seconds on 2 cores).
        await kube.create(locusttest("warm-up", 1), namespace=NAMESPACE)
        await wait_all(kube, "Running", 1, within=60)
        await kube.delete(LocustTestResource, "warm-up", namespace=NAMESPACE)
        # Polling the apiserver: there is no local event to wait on.
        while await phases(kube):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        while [p async for p in kube.list(Pod, namespace=NAMESPACE)]:  # noqa: ASYNC110
            await asyncio.sleep(0.2)

        say(f"burst: {tests} LocustTests of {workers} workers each")
        seen: dict[str, float] = {}
        watcher = asyncio.create_task(watch_children(kube, seen))
        await asyncio.sleep(1)  # the watches are open
        writes_before = operator.writes()
        created: dict[str, float] = {}
        semaphore = asyncio.Semaphore(50)

        async def create(index: int) -> None:
            name = f"burst-{index:03d}"
            async with semaphore:
                await kube.create(locusttest(name, workers), namespace=NAMESPACE)
                created[name] = time.monotonic()

        pids = {**cluster.pids(), "operator": operator.process.pid, "bench": os.getpid()}
        cpu_before = cpu_by_process(pids)
        all_writes_before = apiserver_writes(cluster)
        burst_started = time.monotonic()
        await asyncio.gather(*(create(i) for i in range(tests)))
        say(f"created in {time.monotonic() - burst_started:.1f}s; waiting for Running")
        all_running = await wait_all(kube, "Running", tests, within=900)
        figures.append(
            (f"all {tests} Running after", f"{time.monotonic() - burst_started:.1f} s", "-")
        )
        del all_running
        cpu_after = cpu_by_process(pids)
        operator_writes = operator.writes() - writes_before
        figures.append(
            (
                "profile: API writes until all Running",
                f"{apiserver_writes(cluster) - all_writes_before} in all, "
                f"{operator_writes} by the operator",
                "-",
            )
        )
        busy = sorted(((cpu_after[n] - cpu_before[n], n) for n in pids), reverse=True)
        figures.append(
            (
                "profile: CPU s during the burst",
                ", ".join(f"{name} {used:.0f}" for used, name in busy),
                "(2 cores)",
            )
        )
        latencies = []
        for name, at in created.items():
            keys = (f"svc/{name}-master", f"job/{name}-master", f"job/{name}-worker")
            if all(k in seen for k in keys):
                latencies.append(max(seen[k] for k in keys) - at)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        figures.append(
            (
                "creation to children p50 / p99",
                f"{statistics.median(latencies):.3f} s / {percentile(latencies, 0.99):.3f} s "
                f"({len(latencies)} tests)",
                "p99 <= 1 s",
            )
        )
        reconciles, reconcile_mean = operator.histogram_mean(
            "locust_operator_reconcile_duration_seconds"
        )
        writes, write_mean = operator.histogram_mean(
            "locust_operator_kube_request_duration_seconds"
        )
        figures.append(
            (
                "profile: reconciles / mean duration",
                f"{reconciles:.0f} / {reconcile_mean * 1000:.0f} ms",
                "-",
            )
        )
        seen, seen_mean = operator.histogram_mean("locust_operator_children_created_seconds")
        figures.append(
            (
                "profile: operator-side seen to children",
                f"mean {seen_mean:.3f} s ({seen:.0f} tests)",
                "-",
            )
        )
        figures.append(
            (
                "profile: API writes / mean latency",
                f"{writes:.0f} / {write_mean * 1000:.0f} ms",
                "-",
            )
        )
        figures.append(
            (f"RSS with {tests} tests cached", f"{operator.rss():.1f} MiB", "<= 150 MiB")
        )

        say("finishing every master pod (kwok); waiting for Succeeded")
        await finish_masters(kube)
        await wait_all(kube, "Succeeded", tests, within=600)
        await asyncio.sleep(3)  # let the last status writes and events land
        writes_lifecycle = operator.writes() - writes_before
        figures.append(
            ("API writes per test lifecycle", f"{writes_lifecycle / tests:.1f}", "no idle writes")
        )
        quiet_start = operator.writes()
        await asyncio.sleep(12)
        figures.append(
            ("writes while nothing changed (12 s)", str(operator.writes() - quiet_start), "0")
        )
    finally:
        operator.stop()
        await kube.close()
    say("figures")
    for what, value, target in figures:
        print(f"    {what:<40} {value:<32} target {target}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="operator setting"
    )
    args = parser.parse_args()
    bin_dir = build_tools()
    with tempfile.TemporaryDirectory(prefix="locust-bench-") as data_dir:
        cluster = LocalCluster(Path(data_dir), bin_dir=bin_dir, log=lambda m: print(f"    {m}"))
        say("starting the local control plane")
        cluster.start()
        try:
            settings = dict(item.split("=", 1) for item in args.env)
            asyncio.run(bench(cluster, Path(data_dir), args.tests, args.workers, settings))
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
