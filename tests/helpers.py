"""Helpers for tests that talk to the local control plane."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace, Pod

from localcluster import LocalCluster
from tests import placement

# How long a condition may take to hold on the local control plane. Generous: tests
# assert that something happens, not how fast.
EVENTUALLY_TIMEOUT = 60.0


async def eventually(
    condition: Callable[[], Awaitable[bool]],
    within: float = EVENTUALLY_TIMEOUT,
    interval: float = 0.2,
    what: str | None = None,
) -> None:
    """Polls ``condition`` until it returns True; fails the test if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if await condition():
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition never held: {what or condition.__name__}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def new_namespace(
    kube: AsyncClient, prefix: str, *, on_kwok: bool = True
) -> AsyncIterator[str]:
    """A namespace of the test's own, deleted afterwards. Its pods run on the kwok nodes
    unless ``on_kwok`` is False (the real node). A kwok namespace is left to go in its own
    time; a real-node one is waited for until its pods are gone, because their CPU
    requests would otherwise keep the next test's pods from being scheduled."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await kube.create(placement.namespace(name, on_kwok=on_kwok))
    try:
        yield name
    finally:
        await kube.delete(Namespace, name)
        if not on_kwok:
            await wait_pods_gone(kube, name)


async def wait_pods_gone(kube: AsyncClient, namespace: str, within: float = 180) -> None:
    """Deletes the namespace's pods at once (no grace) and waits until none is left."""
    with contextlib.suppress(ApiError):  # the namespace may be gone already
        await kube.deletecollection(Pod, namespace=namespace, grace_period=0)
    left: list[str] = []

    async def no_pods() -> bool:
        left[:] = [p.metadata.name for p in await _list(kube, namespace) if p.metadata]
        return not left

    try:
        await eventually(no_pods, within=within, interval=1)
    except AssertionError:
        raise AssertionError(f"pods of namespace {namespace} still there: {left}") from None


async def _list(kube: AsyncClient, namespace: str) -> list[Pod]:
    return [pod async for pod in kube.list(Pod, namespace=namespace)]


async def pod_outcome(kube: AsyncClient, pod: Pod, outcome: str) -> None:
    """Makes kwok finish the pod's containers: outcome is "Succeeded" or "Failed"."""
    assert pod.metadata and pod.metadata.name
    await kube.patch(
        Pod,
        pod.metadata.name,
        {"metadata": {"annotations": {"kwok.locust.io/outcome": outcome}}},
        namespace=pod.metadata.namespace,
    )


def kubectl(cluster: LocalCluster, *args: str) -> str:
    """Runs the cluster's own kubectl against it; returns stdout, raises on failure."""
    assert cluster.bin_dir is not None
    done = subprocess.run(
        [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise KubectlFailed(done.returncode, done.args, done.stdout, done.stderr)
    return done.stdout


class KubectlFailed(subprocess.CalledProcessError):
    """A failed kubectl that says what kubectl said (CalledProcessError alone does not)."""

    def __str__(self) -> str:
        return (
            f"kubectl {' '.join(self.cmd[2:6])} ... exited {self.returncode}\n"
            f"stdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}"
        )


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:port/path: (status, body); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""
