"""`make demo`: the main job on the embedded local control plane, narrated.

Builds the control-plane binaries (first time only), starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok on loopback, shows a workload go through
its phases, installs the LocustTest CRD, runs the operator with its webhooks, applies v2
and v1 tests (converted by the operator) and a bad one (rejected), and stops everything
it started.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Node, Pod

from localcluster import LocalCluster
from localcluster.cluster import build_tools


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


async def show_job_lifecycle(kube: AsyncClient) -> None:
    say("creating a Job with 2 pods; kwok plays the kubelet on the fake nodes")
    job = Job.from_dict(
        {
            "metadata": {"name": "demo"},
            "spec": {
                "parallelism": 2,
                "completions": 2,
                "backoffLimit": 0,
                "template": {
                    "metadata": {"labels": {"demo": "job"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "main", "image": "locustio/locust:2.43.1"}],
                    },
                },
            },
        }
    )
    await kube.create(job, namespace="default")
    last = ""
    deadline = time.monotonic() + 60
    finished = False
    while time.monotonic() < deadline:
        pods = [p async for p in kube.list(Pod, namespace="default", labels={"demo": "job"})]
        phases = ", ".join(
            f"{p.metadata.name} on {p.spec.nodeName or '-'}: {p.status.phase if p.status else '?'}"
            for p in pods
            if p.metadata and p.spec
        )
        if phases != last:
            print(f"    pods: {phases}", flush=True)
            last = phases
        if pods and all(p.status and p.status.phase == "Running" for p in pods) and not finished:
            say("pods are Running; finishing their containers (kwok.locust.io/outcome=Succeeded)")
            for pod in pods:
                assert pod.metadata and pod.metadata.name
                await kube.patch(
                    Pod,
                    pod.metadata.name,
                    {"metadata": {"annotations": {"kwok.locust.io/outcome": "Succeeded"}}},
                    namespace="default",
                )
            finished = True
        current = await kube.get(Job, "demo", namespace="default")
        if current.status and current.status.succeeded == 2:
            say(f"Job complete: {current.status.succeeded} pods succeeded")
            return
        await asyncio.sleep(0.3)
    raise SystemExit("the demo Job did not complete in time")


REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_V2 = """
apiVersion: locust.io/v2
kind: LocustTest
metadata: {name: demo-v2}
spec:
  image: locustio/locust:2.43.1
  master: {command: "--locustfile /lotest/src/demo.py --host http://127.0.0.1:8080"}
  worker: {command: "--locustfile /lotest/src/demo.py", replicas: 3}
  testFiles: {configMapRef: demo-scripts}
"""
EXAMPLE_V1 = """
apiVersion: locust.io/v1
kind: LocustTest
metadata: {name: demo-v1}
spec:
  masterCommandSeed: "--locustfile /lotest/src/demo.py"
  workerCommandSeed: "--locustfile /lotest/src/demo.py"
  workerReplicas: 2
  image: locustio/locust:2.20.0
  configMap: demo-scripts
"""
EXAMPLE_INVALID = EXAMPLE_V2.replace("demo-v2", "demo-bad").replace("replicas: 3", "replicas: 0")


def kubectl(cluster: LocalCluster, *args: str, stdin: str | None = None) -> None:
    assert cluster.bin_dir is not None
    command = [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args]
    print(f"    $ kubectl {' '.join(args)}", flush=True)
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    for line in (result.stdout + result.stderr).splitlines():
        print(f"      {line}", flush=True)


def show_locusttest_api(cluster: LocalCluster, work_dir: Path) -> None:
    say("installing the LocustTest CRD (generated from the Python types)")
    kubectl(
        cluster,
        "apply",
        "--server-side",
        "-f",
        str(REPO_ROOT / "config/crd/locust.io_locusttests.yaml"),
    )
    kubectl(cluster, "wait", "--for=condition=Established", "crd/locusttests.locust.io")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    say(f"running the operator with its webhooks on https://127.0.0.1:{port}")
    log_path = work_dir / "operator.log"
    with log_path.open("wb") as log:
        operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust_operator.cli",
                "run",
                f"--kubeconfig={cluster.kubeconfig}",
                "--enable-webhooks",
                f"--webhook-url=https://127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        deadline = time.monotonic() + 30
        while "webhooks registered" not in log_path.read_text():
            if operator.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the operator did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        time.sleep(2)  # the apiserver picks up new webhook registrations asynchronously
        say("applying a v2 LocustTest and a deprecated v1 one (stored as v2 by conversion)")
        kubectl(cluster, "apply", "-f", "-", stdin=EXAMPLE_V2)
        kubectl(cluster, "apply", "-f", "-", stdin=EXAMPLE_V1)
        kubectl(cluster, "get", "lotest")
        say("the v1 test read back as v2")
        kubectl(cluster, "get", "locusttests.v2.locust.io", "demo-v1", "-o", "jsonpath={.spec}")
        say("a bad test (worker.replicas: 0) is rejected with the field and the fix")
        kubectl(cluster, "apply", "-f", "-", stdin=EXAMPLE_INVALID)
    finally:
        operator.terminate()
        operator.wait(30)


async def run(cluster: LocalCluster) -> None:
    kube = AsyncClient(config=KubeConfig.from_file(str(cluster.kubeconfig)))
    try:
        nodes = [n.metadata.name async for n in kube.list(Node) if n.metadata]
        say(f"nodes: {', '.join(str(n) for n in nodes)}")
        await show_job_lifecycle(kube)
    finally:
        await kube.close()


def main() -> int:
    say("building the control-plane binaries from the Go module proxy")
    say("(the first build takes several minutes on 2 cores; later runs reuse the cache)")
    started = time.monotonic()
    bin_dir = build_tools()
    say(f"binaries ready in {time.monotonic() - started:.0f}s: {bin_dir}")
    with tempfile.TemporaryDirectory(prefix="locust-demo-") as data_dir:
        cluster = LocalCluster(Path(data_dir), bin_dir=bin_dir, log=lambda m: print(f"    {m}"))
        say("starting the local control plane on 127.0.0.1")
        cluster.start()
        try:
            asyncio.run(run(cluster))
            show_locusttest_api(cluster, Path(data_dir))
        finally:
            say("stopping the control plane")
            cluster.stop()
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
