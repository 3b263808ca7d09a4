"""What an operator process shows about itself on the real control plane: probes, the
metrics of a test's lifecycle (run to Succeeded with kwok), and JSON log lines that name
the test they concern."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lightkube import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import create_scripts, create_test, locusttest, pods_of, wait_for_phase
from tests.helpers import eventually, http_get, new_namespace, pod_outcome
from tests.locusttests import LocustTestV2
from tests.operator_process import OperatorProcess, free_port

pytestmark = pytest.mark.cluster


@dataclass
class Observed:
    process: OperatorProcess
    namespace: str
    probe_port: int
    metrics_port: int

    async def get(self, port: int, path: str) -> tuple[int, str]:
        return await asyncio.to_thread(http_get, port, path)

    async def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        status, text = await self.get(self.metrics_port, "/metrics")
        assert status == 200, self.process.log_tail()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


def value(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    matching = [
        v for (n, ls), v in metrics.items() if n == name and labels.items() <= dict(ls).items()
    ]
    assert matching, f"{name}{labels} is not exported"
    return sum(matching)


@pytest.fixture(scope="module")
async def operator(
    kube: AsyncClient, kubeconfig: Path, crd: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Observed]:
    async with new_namespace(kube, "observe") as namespace:
        await create_scripts(kube, namespace)
        probe_port, metrics_port = free_port(), free_port()
        process = OperatorProcess(
            kubeconfig=kubeconfig,
            log_path=tmp_path_factory.mktemp("operator") / "operator.log",
            args=[
                f"--namespace={namespace}",
                "--log-format=json",
                f"--health-probe-bind-address=127.0.0.1:{probe_port}",
                f"--metrics-bind-address=127.0.0.1:{metrics_port}",
            ],
        )
        process.start()
        try:
            yield Observed(process, namespace, probe_port, metrics_port)
            # Let the operator remove the finalizers, so that the namespace can go.
            await kube.deletecollection(LocustTestV2, namespace=namespace)

            async def no_tests() -> bool:
                return not [t async for t in kube.list(LocustTestV2, namespace=namespace)]

            await eventually(no_tests, what="the tests are deleted")
        finally:
            assert process.stop(signal.SIGTERM) == 0, process.log_tail()


async def test_probes(operator: Observed) -> None:
    async def healthy() -> bool:
        return (await operator.get(operator.probe_port, "/healthz"))[0] == 200

    async def ready() -> bool:
        return (await operator.get(operator.probe_port, "/readyz")) == (200, "ok")

    await eventually(healthy, what="/healthz answers 200")
    await eventually(ready, what="/readyz answers 200 once the caches are synced")
    # Each address serves its own routes only.
    assert (await operator.get(operator.probe_port, "/metrics"))[0] == 404
    assert (await operator.get(operator.metrics_port, "/readyz"))[0] == 404


async def test_metrics_after_a_test_lifecycle(kube: AsyncClient, operator: Observed) -> None:
    operator.process.wait_for_log("controller started")
    namespace, name = operator.namespace, "observed"
    await create_test(kube, namespace, locusttest(name))
    await wait_for_phase(kube, namespace, name, "Running")

    async def running_in_cache() -> bool:
        # The gauge counts the operator's cache, which sees its own status write a moment
        # after the API server does.
        return value(await operator.metrics(), "locust_operator_locusttests", phase="Running") == 1

    await eventually(running_in_cache, what="the phase gauge counts the test as Running")
    running = await operator.metrics()
    assert value(running, "locust_operator_locusttests", phase="Succeeded") == 0

    (master,) = await pods_of(kube, namespace, name, "master")
    await pod_outcome(kube, master, "Succeeded")
    await wait_for_phase(kube, namespace, name, "Succeeded")

    async def succeeded_in_cache() -> bool:
        return (
            value(await operator.metrics(), "locust_operator_locusttests", phase="Succeeded") == 1
        )

    await eventually(succeeded_in_cache, what="the phase gauge counts the test as Succeeded")
    metrics = await operator.metrics()
    assert value(metrics, "locust_operator_locusttests", phase="Running") == 0
    assert value(metrics, "locust_operator_reconcile_total", result="success") >= 1
    assert value(metrics, "locust_operator_reconcile_total", result="requeue") >= 1  # children
    assert value(metrics, "locust_operator_reconcile_errors_total") == 0
    reconciles = value(metrics, "locust_operator_reconcile_total")
    assert value(metrics, "locust_operator_reconcile_duration_seconds_count") == reconciles
    waited = value(metrics, "locust_operator_workqueue_queue_duration_seconds_count")
    assert waited >= reconciles  # every reconcile took a key that had waited in the queue
    assert value(metrics, "locust_operator_workqueue_depth") >= 0
    assert value(metrics, "locust_operator_leader") == 1  # runs the reconcilers (no election)
    assert value(metrics, "locust_operator_kube_requests_total", method="POST") >= 3  # children
    assert value(metrics, "locust_operator_kube_requests_total", method="PATCH") >= 1  # status


async def test_json_logs_name_the_test(kube: AsyncClient, operator: Observed) -> None:
    namespace, name = operator.namespace, "logged"
    await create_test(kube, namespace, locusttest(name))
    await wait_for_phase(kube, namespace, name, "Running")
    await kube.delete(LocustTestV2, name, namespace=namespace)  # the finalizer logs, at info

    def lines() -> list[dict[str, object]]:
        text = operator.process.log_path.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    async def deletion_logged() -> bool:
        return any(line.get("name") == name for line in lines())

    await eventually(deletion_logged, what="a log line names the deleted test")
    every = lines()  # all of the output is JSON lines
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in every)
    about = [line for line in every if line.get("name") == name]
    assert all(line["namespace"] == namespace for line in about)
    assert any(line["logger"] == "locust_operator.controller.reconciler" for line in about)
    started = [line for line in every if "controller started" in str(line["message"])]
    assert started and "namespace" not in started[0]  # not about any test
