"""Fixtures shared by every suite. The control plane starts only when a test asks for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from lightkube import AsyncClient, KubeConfig
from localcluster import LocalCluster

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPAT_DIR = REPO_ROOT.parent / "shared" / "compat"


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A real control plane with a fresh data directory for this test session."""
    local = LocalCluster(tmp_path_factory.mktemp("cluster"))
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(autouse=True)
def _control_plane_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    # A crashed component fails the test that saw it, loudly, with its log tail.
    if "cluster" not in request.fixturenames:
        yield
        return
    local: LocalCluster = request.getfixturevalue("cluster")
    local.check()
    yield
    local.check()


@pytest.fixture(scope="session")
def kubeconfig(cluster: LocalCluster) -> Path:
    return cluster.kubeconfig


@pytest.fixture(scope="session")
async def kube(kubeconfig: Path) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(config=KubeConfig.from_file(str(kubeconfig)), field_manager="tests")
    yield client
    await client.close()
