"""Helpers for tests whose pods really run on the local cluster's real node: creating the
in-cluster workloads (localcluster.workloads), reading what happened inside pods (logs,
exit codes, counts served by pods through the apiserver's Service proxy)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Pod

from localcluster import LocalCluster
from localcluster.cluster import free_port
from localcluster.network import NODE_NAME
from tests.helpers import eventually, kubectl

# The Aggregated row of Locust's summary table: "Aggregated   123   4(3.25%) | ...".
AGGREGATED_ROW = re.compile(r"^\s*Aggregated\s+(\d+)\s+(\d+)\(", re.M)


async def create_all(
    kube: AsyncClient, namespace: str, manifests: Sequence[dict[str, Any]]
) -> None:
    for manifest in manifests:
        await kube.create(codecs.from_dict(manifest), namespace=namespace)


async def wait_available(
    kube: AsyncClient, namespace: str, name: str, within: float = 120.0
) -> None:
    """Until the Deployment's pod is ready (its Service has an endpoint)."""

    async def available() -> bool:
        deployment = await kube.get(Deployment, name, namespace=namespace)
        return bool(deployment.status and deployment.status.readyReplicas)

    await eventually(available, within=within, what=f"deployment {namespace}/{name} is ready")


def get_raw(cluster: LocalCluster, path: str) -> str:
    """GET through the apiserver (kubectl get --raw), e.g. a Service proxy path."""
    return kubectl(cluster, "get", "--raw", path)


def get_json(cluster: LocalCluster, path: str) -> Any:
    return json.loads(get_raw(cluster, path))


def master_log(cluster: LocalCluster, namespace: str, test_name: str) -> str:
    """The Locust container's log of the test's master pod (running or finished)."""
    container = f"{test_name}-master"
    return kubectl(cluster, "logs", "-n", namespace, f"job/{container}", "-c", container)


def summary_counts(log: str) -> tuple[int, int]:
    """(requests, failures) from the last Aggregated row Locust printed."""
    rows = AGGREGATED_ROW.findall(log)
    assert rows, f"no Aggregated row in the master's log:\n{log[-3000:]}"
    requests, failures = rows[-1]
    return int(requests), int(failures)


def terminated_exit_code(pod: Pod, container: str) -> int | None:
    """The exit code of a finished container of the pod, None while it has not finished."""
    for status in (pod.status and pod.status.containerStatuses) or []:
        if status.name == container and status.state and status.state.terminated:
            return int(status.state.terminated.exitCode)
    return None


def on_real_node(pods: Sequence[Pod]) -> bool:
    return bool(pods) and all(pod.spec and pod.spec.nodeName == NODE_NAME for pod in pods)


@contextmanager
def port_forward(
    cluster: LocalCluster, namespace: str, target: str, remote_port: int, within: float = 30.0
) -> Iterator[int]:
    """`kubectl port-forward TARGET LOCAL:REMOTE` for the block; yields the local port once
    kubectl says it forwards."""
    assert cluster.bin_dir is not None
    local_port = free_port()
    process = subprocess.Popen(
        [
            str(cluster.bin_dir / "kubectl"),
            f"--kubeconfig={cluster.kubeconfig}",
            "-n",
            namespace,
            "port-forward",
            target,
            f"{local_port}:{remote_port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + within
        output = ""
        while "Forwarding from" not in output:
            line = process.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise AssertionError(f"kubectl port-forward did not start:\n{output}{line}")
            output += line
        yield local_port
    finally:
        process.terminate()
        process.wait(10)
