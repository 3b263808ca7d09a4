"""`locust-operator run --namespace A` reconciles tests in A and leaves every other
namespace alone (no informer outside A, so no children and no status there)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.resources.batch_v1 import Job

from tests import placement
from tests.helpers import eventually, new_namespace
from tests.locusttests import LocustTestV2, minimal_v2
from tests.operator_process import OperatorProcess, operator_running

pytestmark = pytest.mark.cluster

WATCHED = "watched-ns"


@pytest.fixture(scope="module")
def namespaced_operator(
    kubeconfig: Path, crd: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    with operator_running(
        kubeconfig,
        tmp_path_factory.mktemp("operator") / "operator.log",
        args=[f"--namespace={WATCHED}"],
        ready_log="controller started",
    ) as process:
        yield process


async def test_only_the_watched_namespace_is_reconciled(
    kube: AsyncClient, namespaced_operator: OperatorProcess
) -> None:
    from lightkube.resources.core_v1 import Namespace

    await kube.create(placement.namespace(WATCHED))
    try:
        async with new_namespace(kube, "unwatched") as other:
            for namespace in (WATCHED, other):
                await kube.create(LocustTestV2(minimal_v2("scoped")), namespace=namespace)

            async def reconciled() -> bool:
                test = await kube.get(LocustTestV2, "scoped", namespace=WATCHED)
                return bool((test.get("status") or {}).get("phase"))

            await eventually(reconciled, what="the test in the watched namespace has a phase")
            jobs = [j async for j in kube.list(Job, namespace=WATCHED)]
            assert len(jobs) == 2
            await asyncio.sleep(1)  # the other test was created at the same time
            untouched = await kube.get(LocustTestV2, "scoped", namespace=other)
            assert not untouched.get("status")
            assert not untouched["metadata"].get("finalizers")
            assert not [j async for j in kube.list(Job, namespace=other)]
    finally:
        # Let the operator remove its finalizer before it stops.
        await kube.delete(LocustTestV2, "scoped", namespace=WATCHED)

        async def gone() -> bool:
            return not [t async for t in kube.list(LocustTestV2, namespace=WATCHED)]

        await eventually(gone, what="the watched test deleted")
        await kube.delete(Namespace, WATCHED)
