"""Conversion through the real apiserver at scale (issue 19): a v1 list of thousands of
tests; an object over 1 MiB, converted by the webhook's converting process; and a review
over the webhook's bound, which fails with a message naming the bound.

(kube-apiserver 1.34 converts what its locust.io/v1 watch cache holds one object per
review, as each object is written or when that cache first fills; reviews of a whole list
at once, which the webhook also reads up to its bound, are tested in
tests/unit/webhook/test_large_reviews.py.)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration

from localcluster import LocalCluster
from locust_operator.webhook.registration import VALIDATING_CONFIGURATION_NAME
from locust_operator.webhook.server import LARGE_REVIEW_BYTES
from tests.helpers import eventually, kubectl, new_namespace
from tests.locusttests import LocustTestV1, LocustTestV2, minimal_v2
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.cluster

COUNT = 3000
BOUND = 512 * 1024  # the webhook's conversion bound, lowered for the last test


class _Operator(OperatorProcess):
    """The operator; its webhook's conversion bound set to ``bound`` bytes if given."""

    bound: int | None = None

    def command(self) -> list[str]:
        argv = super().command()
        if self.bound is None:
            return argv
        assert argv[1:3] == ["-m", "locust_operator.cli"]
        prelude = (
            "import sys; from locust_operator.webhook import server; "
            f"server.MAX_CONVERSION_BODY_BYTES = {self.bound}; "
            "from locust_operator.cli import main; sys.exit(main(sys.argv[1:]))"
        )
        return [argv[0], "-c", prelude, *argv[3:]]


@pytest.fixture(scope="module")
def run_operator(
    kubeconfig: Path, crd: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """Starts the operator (webhooks only), stopping the one started before."""
    started: list[_Operator] = []

    def run(bound: int | None = None) -> _Operator:
        for running in started:
            assert running.stop() == 0, running.log_tail()
        started.clear()
        process = _Operator(
            kubeconfig=kubeconfig,
            log_path=tmp_path_factory.mktemp("operator") / "operator.log",
            webhooks=True,
            args=["--no-controller"],
        )
        process.bound = bound
        process.start()
        started.append(process)
        process.wait_until_ready()
        return process

    yield run
    for running in started:
        assert running.stop() == 0, running.log_tail()


@pytest.fixture(scope="module", autouse=True)
async def _unregister_afterwards(kube: AsyncClient) -> AsyncIterator[None]:
    yield
    # Later modules run without this operator: leave no registration pointing at it.
    await _unregister_validation(kube)


async def _unregister_validation(kube: AsyncClient) -> None:
    try:
        await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    except ApiError as error:
        assert error.status.code == 404


async def _v1_reads_work(kube: AsyncClient, namespace: str) -> bool:
    try:
        async for _ in kube.list(LocustTestV1, namespace=namespace, chunk_size=1):
            break
    except ApiError:
        return False
    return True


def big_test(name: str) -> dict[str, Any]:
    """A test whose review is larger than LARGE_REVIEW_BYTES (a long command line)."""
    test = minimal_v2(name)
    test["spec"]["master"]["command"] += " --tag x" * (LARGE_REVIEW_BYTES // 7)
    return test


@pytest.fixture(scope="module")
async def namespace(kube: AsyncClient, run_operator: Any) -> AsyncIterator[str]:
    run_operator()
    # Creates skip the validating webhook: it is not what is tested here, and its dry run
    # of each test's children makes a create cost about 0.4 s on a busy machine.
    await _unregister_validation(kube)
    async with new_namespace(kube, "lists") as name:
        await eventually(lambda: _v1_reads_work(kube, name), what="v1 reads work")
        yield name


async def test_a_v1_list_of_thousands_of_tests(
    kube: AsyncClient, cluster: LocalCluster, namespace: str
) -> None:
    gate = asyncio.Semaphore(16)

    async def create(index: int) -> None:
        test = minimal_v2(f"t-{index:05d}")
        test["spec"]["worker"]["replicas"] = 1 + index % 7
        async with gate:
            await kube.create(LocustTestV2.from_dict(test), namespace=namespace)

    started = time.monotonic()
    await asyncio.gather(*(create(i) for i in range(COUNT)))
    created = time.monotonic() - started
    started = time.monotonic()
    # Unpaged, as an informer lists.
    raw = kubectl(cluster, "get", "--raw", f"/apis/locust.io/v1/namespaces/{namespace}/locusttests")
    print(
        f"\ncreated {COUNT} tests in {created:.1f}s; listed them as v1 in "
        f"{time.monotonic() - started:.1f}s ({len(raw) / 2**20:.1f} MiB)"
    )
    items = json.loads(raw)["items"]
    assert len(items) == COUNT
    assert {i["apiVersion"] for i in items} == {"locust.io/v1"}
    by_name = {i["metadata"]["name"]: i for i in items}
    assert by_name["t-00006"]["spec"]["workerReplicas"] == 7
    assert by_name["t-02999"]["spec"]["masterCommandSeed"] == "--locustfile /lotest/src/test.py"
    names = kubectl(
        cluster, "get", "locusttests.v1.locust.io", "-n", namespace, "--chunk-size=0", "-o", "name"
    ).split()
    assert len(names) == COUNT


async def test_an_object_over_a_mib_is_converted_by_the_converting_process(
    kube: AsyncClient, namespace: str
) -> None:
    test = big_test("big")
    await kube.create(LocustTestV2.from_dict(test), namespace=namespace)
    as_v1 = await kube.get(LocustTestV1, "big", namespace=namespace)
    assert len(json.dumps(as_v1.to_dict())) > LARGE_REVIEW_BYTES
    assert as_v1.spec["masterCommandSeed"] == test["spec"]["master"]["command"]
    assert as_v1.spec["workerReplicas"] == 2


async def test_a_review_over_the_bound_fails_naming_it(
    kube: AsyncClient, cluster: LocalCluster, run_operator: Any
) -> None:
    run_operator(bound=BOUND)
    await _unregister_validation(kube)
    async with new_namespace(kube, "bound") as name:
        await eventually(lambda: _v1_reads_work(kube, name), what="v1 reads work")
        await kube.create(LocustTestV2.from_dict(big_test("big")), namespace=name)
        with pytest.raises(subprocess.CalledProcessError) as failed:
            kubectl(cluster, "get", "locusttests.v1.locust.io", "big", "-n", name)
        said = failed.value.stderr
        print(f"\nkubectl says: {said.strip()}")
        assert "conversion webhook for locust.io/v2, Kind=LocustTest failed" in said
        assert "more than the 0.5 MiB" in said and "MAX_CONVERSION_BODY_BYTES" in said
