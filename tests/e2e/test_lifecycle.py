"""A LocustTest's life on the real control plane: children, phases, conditions, events."""

from __future__ import annotations

import asyncio

import pytest
from lightkube import AsyncClient
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Event, Service

from tests.e2e.conftest import (
    condition,
    create_scripts,
    create_test,
    get_status,
    jobs_of,
    locusttest,
    pods_of,
    unique,
    wait_for_condition,
    wait_for_phase,
)
from tests.helpers import eventually, pod_outcome
from tests.locusttests import LocustTestV2

pytestmark = pytest.mark.cluster


async def event_reasons(kube: AsyncClient, namespace: str, name: str) -> list[str]:
    return [
        e.reason or ""
        async for e in kube.list(
            Event,
            namespace=namespace,
            fields={"involvedObject.kind": "LocustTest", "involvedObject.name": name},
        )
    ]


async def run_until_running(kube: AsyncClient, namespace: str, name: str) -> dict[str, object]:
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name))
    status = await wait_for_phase(kube, namespace, name, "Running")
    await wait_for_condition(
        kube, namespace, name, "WorkersConnected", "True", "AllWorkersConnected"
    )
    return status


async def test_children_are_created_with_owner_references(
    kube: AsyncClient, namespace: str
) -> None:
    name = unique("children")
    await run_until_running(kube, namespace, name)

    service = await kube.get(Service, f"{name}-master", namespace=namespace)
    master = await kube.get(Job, f"{name}-master", namespace=namespace)
    worker = await kube.get(Job, f"{name}-worker", namespace=namespace)
    for obj in (service, master, worker):
        assert obj.metadata and obj.metadata.ownerReferences
        (owner,) = obj.metadata.ownerReferences
        assert (owner.kind, owner.name, owner.controller) == ("LocustTest", name, True)
    assert service.spec and {p.port for p in service.spec.ports or []} >= {5557, 8089}
    assert master.spec and master.spec.parallelism == 1 and master.spec.backoffLimit == 0
    assert worker.spec and worker.spec.parallelism == 2
    assert len(await pods_of(kube, namespace, name, "worker")) == 2
    assert len(await pods_of(kube, namespace, name, "master")) == 1


async def test_lifecycle_to_succeeded(kube: AsyncClient, namespace: str) -> None:
    name = unique("success")
    running = await run_until_running(kube, namespace, name)
    assert running["startTime"]
    assert condition(running, "Ready")["reason"] == "ResourcesCreated"
    assert condition(running, "TestCompleted")["reason"] == "TestInProgress"
    assert running["expectedWorkers"] == 2

    (master_pod,) = await pods_of(kube, namespace, name, "master")
    await pod_outcome(kube, master_pod, "Succeeded")
    done = await wait_for_phase(kube, namespace, name, "Succeeded")
    assert done["completionTime"]
    assert done["startTime"] == running["startTime"]
    assert condition(done, "TestCompleted")["status"] == "True"
    assert condition(done, "TestCompleted")["reason"] == "TestSucceeded"

    async def events_recorded() -> bool:
        reasons = await event_reasons(kube, namespace, name)
        return {"TestStarted", "TestCompleted"} <= set(reasons)

    await eventually(events_recorded, what="TestStarted and TestCompleted events")

    # Terminal phases are final: the workers finishing later changes nothing.
    for worker_pod in await pods_of(kube, namespace, name, "worker"):
        await pod_outcome(kube, worker_pod, "Failed")
    await eventually(lambda: _worker_job_failed(kube, namespace, name), what="worker Job failed")
    assert (await get_status(kube, namespace, name))["phase"] == "Succeeded"


async def _worker_job_failed(kube: AsyncClient, namespace: str, name: str) -> bool:
    job = await kube.get(Job, f"{name}-worker", namespace=namespace)
    return bool(job.status and (job.status.failed or 0) > 0)


async def test_lifecycle_to_failed(kube: AsyncClient, namespace: str) -> None:
    name = unique("failure")
    await run_until_running(kube, namespace, name)
    (master_pod,) = await pods_of(kube, namespace, name, "master")
    await pod_outcome(kube, master_pod, "Failed")
    failed = await wait_for_phase(kube, namespace, name, "Failed")
    assert failed["completionTime"]
    assert condition(failed, "TestCompleted")["reason"] == "TestFailed"

    async def failure_event() -> bool:
        return "TestFailed" in await event_reasons(kube, namespace, name)

    await eventually(failure_event, what="a TestFailed event")


async def test_no_writes_and_no_events_while_nothing_changes(
    kube: AsyncClient, namespace: str
) -> None:
    name = unique("quiet")
    await run_until_running(kube, namespace, name)

    # Settle, then watch the resourceVersion: a status rewrite would change it.
    await wait_for_condition(kube, namespace, name, "Ready", "True", "ResourcesCreated")
    await wait_for_condition(kube, namespace, name, "PodsHealthy", "True", "PodsHealthy")
    first = await kube.get(LocustTestV2, name, namespace=namespace)
    events_before = len(await event_reasons(kube, namespace, name))

    await asyncio.sleep(3)  # several reconciles' worth of pod heartbeats and resyncs
    second = await kube.get(LocustTestV2, name, namespace=namespace)
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert len(await event_reasons(kube, namespace, name)) == events_before
    assert len(await jobs_of(kube, namespace, name)) == 2
