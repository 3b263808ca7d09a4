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
    """A real control plane and a real node, with a fresh data directory for this session."""
    local = LocalCluster(tmp_path_factory.mktemp("cluster"), real_node=True)
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


CRD_FILE = REPO_ROOT / "config" / "crd" / "locust.io_locusttests.yaml"


@pytest.fixture(scope="session")
async def crd(kube: AsyncClient) -> str:
    """The committed LocustTest CRD, applied server-side and Established."""
    from lightkube import codecs
    from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

    from tests.helpers import eventually

    (definition,) = codecs.load_all_yaml(CRD_FILE.read_text())
    await kube.apply(definition, field_manager="tests", force=True)
    name = "locusttests.locust.io"

    async def established() -> bool:
        got = await kube.get(CustomResourceDefinition, name)
        conditions = (got.status.conditions if got.status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    await eventually(established, what="the LocustTest CRD is Established")
    return name


def compat_manifests() -> list[Path]:
    """The reference operator's users' manifests (../shared/compat), if present."""
    folder = COMPAT_DIR / "reference-manifests"
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def require_compat() -> None:
    if not compat_manifests():
        pytest.skip("../shared/compat/reference-manifests is not present")
