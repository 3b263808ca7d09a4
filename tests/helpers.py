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
    """A namespace of the test's own, deleted afterwards (without waiting for it to go).
    Its pods run on the kwok nodes unless ``on_kwok`` is False (the real node)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await kube.create(placement.namespace(name, on_kwok=on_kwok))
    try:
        yield name
    finally:
        await kube.delete(Namespace, name)


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
    return subprocess.run(
        [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:port/path: (status, body); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""
