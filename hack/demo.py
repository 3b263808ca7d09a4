"""`make demo`: the main job on the embedded local control plane, narrated.

Builds the control-plane binaries (first time only), starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok on loopback, then shows a workload go
through its phases, and stops everything it started.
"""

from __future__ import annotations

import asyncio
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
        finally:
            say("stopping the control plane")
            cluster.stop()
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
