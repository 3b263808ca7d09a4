"""End-to-end fixtures: the operator runs as a separate process (`locust-operator run`)
against the local control plane, with its webhooks. kwok plays the kubelet, except in
`real_namespace`, whose pods run on the real node."""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Pod

from localcluster.workloads import http_target
from tests.helpers import eventually, new_namespace
from tests.locusttests import LocustTestV2
from tests.operator_process import OperatorProcess
from tests.real_node import create_all, wait_available

# Short so the PodsHealthy tests see failures "after the grace period" quickly; the
# default (2 minutes) is covered by the unit tests.
GRACE_PERIOD_SECONDS = "4"
OPERATOR_ENV = {"POD_HEALTH_GRACE_PERIOD_SECONDS": GRACE_PERIOD_SECONDS}


class RestartableOperator:
    """One operator for the whole e2e session, which a test may kill and start again."""

    def __init__(self, kubeconfig: Path, log_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.port = 0
        self.starts = 0
        self.process: OperatorProcess | None = None

    def start(self) -> OperatorProcess:
        self.starts += 1
        process = OperatorProcess(
            kubeconfig=self.kubeconfig,
            log_path=self.log_dir / f"operator-{self.starts}.log",
            webhooks=True,
            webhook_port=self.port,
            env=OPERATOR_ENV,
        )
        process.start()
        self.port = process.webhook_port
        process.wait_for_log("controller started")
        self.process = process
        return process

    def stop(self, sig: int | None = None) -> int | None:
        assert self.process is not None
        return self.process.stop() if sig is None else self.process.stop(sig)

    def log_tail(self) -> str:
        return self.process.log_tail() if self.process else ""


@pytest.fixture(scope="session")
def operator(
    kubeconfig: Path, crd: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestartableOperator]:
    handle = RestartableOperator(kubeconfig, tmp_path_factory.mktemp("operator"))
    handle.start()
    try:
        yield handle
    finally:
        code = handle.stop()
        assert code == 0, handle.log_tail()


@pytest.fixture
async def namespace(kube: AsyncClient, operator: RestartableOperator) -> AsyncIterator[str]:
    async with new_namespace(kube, "e2e") as name:
        yield name


@pytest.fixture(scope="module")
async def real_namespace(kube: AsyncClient, operator: RestartableOperator) -> AsyncIterator[str]:
    """A namespace whose pods run on the real node, with the HTTP target (Service `target`)
    ready to be loaded; one per test module."""
    async with new_namespace(kube, "real", on_kwok=False) as name:
        await create_all(kube, name, http_target())
        await wait_available(kube, name, "target")
        yield name


@pytest.fixture(autouse=True)
async def _failed_tests_free_the_real_node(
    request: pytest.FixtureRequest,
) -> AsyncIterator[None]:
    """After each test on the real node, a LocustTest that failed while its pods still wait
    (an image that cannot be pulled, a missing ConfigMap) is deleted with its pods: their
    CPU requests would keep a later test's pods from being scheduled, and with the short
    grace period here that later test would fail. Finished pods request nothing."""
    if "real_namespace" not in request.fixturenames:
        yield
        return
    kube: AsyncClient = request.getfixturevalue("kube")
    namespace: str = request.getfixturevalue("real_namespace")
    yield
    failed = [
        test.metadata.name
        async for test in kube.list(LocustTestV2, namespace=namespace)
        if (test.get("status") or {}).get("phase") == "Failed"
    ]
    for name in failed:
        labels = {"performance-test-name": name}
        waiting = [
            pod.metadata.name
            async for pod in kube.list(Pod, namespace=namespace, labels=labels)
            if pod.metadata and pod.status and pod.status.phase in ("Pending", "Running")
        ]
        if not waiting:
            continue
        await kube.delete(LocustTestV2, name, namespace=namespace)
        for pod_name in waiting:
            with contextlib.suppress(ApiError):  # gone with its Job already
                await kube.delete(Pod, pod_name, namespace=namespace, grace_period=0)

        async def pods_gone(labels: dict[str, str] = labels) -> bool:
            return not [pod async for pod in kube.list(Pod, namespace=namespace, labels=labels)]

        await eventually(pods_gone, within=120, what=f"the pods of the failed test {name} go")


def locusttest(name: str, **spec: Any) -> dict[str, Any]:
    """A valid v2 LocustTest; keyword arguments replace top-level spec fields."""
    body: dict[str, Any] = {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name},
        "spec": {
            "image": "locustio/locust:2.43.1",
            "master": {"command": "--locustfile /lotest/src/test.py --host http://127.0.0.1"},
            "worker": {"command": "--locustfile /lotest/src/test.py", "replicas": 2},
            "testFiles": {"configMapRef": "scripts"},
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    return body


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def create_scripts(kube: AsyncClient, namespace: str, name: str = "scripts") -> None:
    await kube.create(
        ConfigMap(
            metadata=ObjectMeta(name=name, namespace=namespace),
            data={"test.py": "from locust import HttpUser\n"},
        )
    )


async def create_test(kube: AsyncClient, namespace: str, body: dict[str, Any]) -> None:
    await kube.create(LocustTestV2(copy.deepcopy(body)), namespace=namespace)


async def get_status(kube: AsyncClient, namespace: str, name: str) -> dict[str, Any]:
    obj = await kube.get(LocustTestV2, name, namespace=namespace)
    return dict(obj.get("status") or {})


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in status.get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return {}


async def wait_for_phase(
    kube: AsyncClient, namespace: str, name: str, phase: str, within: float = 60.0
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await get_status(kube, namespace, name))
        return seen.get("phase") == phase

    try:
        await eventually(reached, within=within, what=f"{name} reaches phase {phase}")
    except AssertionError as never:  # the status as last seen, not as it was at the start
        raise AssertionError(f"{never} (last status: {seen})") from None
    return seen


async def wait_for_condition(
    kube: AsyncClient,
    namespace: str,
    name: str,
    kind: str,
    status: str,
    reason: str,
    within: float = 60.0,
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def holds() -> bool:
        seen.clear()
        seen.update(condition(await get_status(kube, namespace, name), kind))
        return seen.get("status") == status and seen.get("reason") == reason

    await eventually(
        holds, within=within, what=f"{name}: {kind}={status} ({reason}); last seen {seen}"
    )
    return seen


async def pods_of(kube: AsyncClient, namespace: str, name: str, role: str) -> list[Pod]:
    return [
        pod
        async for pod in kube.list(
            Pod,
            namespace=namespace,
            labels={"performance-test-name": name, "locust-role": role},
        )
    ]


async def jobs_of(kube: AsyncClient, namespace: str, name: str) -> list[Job]:
    return [
        job
        async for job in kube.list(Job, namespace=namespace, labels={"performance-test-name": name})
    ]
