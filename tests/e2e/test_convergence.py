"""The operator converges whatever happened: spec edits (ignored, reported), children
deleted by someone else (healed), the test deleted (garbage collected), and the operator
itself killed mid-test (restarted without duplicates)."""

from __future__ import annotations

import signal

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Event, Pod, Service
from lightkube.types import CascadeType, PatchType

from tests.e2e.conftest import (
    RestartableOperator,
    condition,
    create_scripts,
    create_test,
    get_status,
    jobs_of,
    locusttest,
    unique,
    wait_for_condition,
    wait_for_phase,
)
from tests.helpers import eventually
from tests.locusttests import LocustTestV2

pytestmark = pytest.mark.cluster


async def start_test(kube: AsyncClient, namespace: str, name: str) -> None:
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name))
    await wait_for_phase(kube, namespace, name, "Running")


async def uid_of(
    kube: AsyncClient, kind: type[Job] | type[Service], namespace: str, name: str
) -> str | None:
    try:
        obj = await kube.get(kind, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    return obj.metadata.uid if obj.metadata else None


async def test_spec_edits_are_ignored_and_reported(kube: AsyncClient, namespace: str) -> None:
    name = unique("drift")
    await start_test(kube, namespace, name)
    worker_before = await kube.get(Job, f"{name}-worker", namespace=namespace)

    await kube.patch(
        LocustTestV2,
        name,
        {"spec": {"worker": {"replicas": 5}, "master": {"command": "--locustfile /x.py"}}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    seen = await wait_for_condition(
        kube, namespace, name, "SpecDrifted", "True", "SpecChangeIgnored"
    )
    assert seen["message"]
    worker_after = await kube.get(Job, f"{name}-worker", namespace=namespace)
    assert worker_after.spec and worker_before.spec
    assert worker_after.spec.parallelism == 2
    assert worker_after.spec.template.to_dict() == worker_before.spec.template.to_dict()
    master = await kube.get(Job, f"{name}-master", namespace=namespace)
    assert master.spec and master.spec.template.spec
    assert "/x.py" not in " ".join(master.spec.template.spec.containers[0].args or [])
    status = await get_status(kube, namespace, name)
    assert status["phase"] == "Running"
    assert status["expectedWorkers"] == 2


@pytest.mark.parametrize(
    ("kind", "suffix"), [(Service, "-master"), (Job, "-master"), (Job, "-worker")]
)
async def test_deleted_children_are_recreated(
    kube: AsyncClient, namespace: str, kind: type[Job] | type[Service], suffix: str
) -> None:
    name = unique("heal")
    await start_test(kube, namespace, name)
    # A later spec edit must not leak into the recreated child.
    await kube.patch(
        LocustTestV2,
        name,
        {"spec": {"worker": {"replicas": 4}}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    await wait_for_condition(kube, namespace, name, "SpecDrifted", "True", "SpecChangeIgnored")

    child = f"{name}{suffix}"
    old_uid = await uid_of(kube, kind, namespace, child)
    assert old_uid
    await kube.delete(kind, child, namespace=namespace, cascade=CascadeType.BACKGROUND)

    async def recreated() -> bool:
        uid = await uid_of(kube, kind, namespace, child)
        return uid is not None and uid != old_uid

    await eventually(recreated, what=f"{kind.__name__} {child} recreated")
    if kind is Job and suffix == "-worker":
        job = await kube.get(Job, child, namespace=namespace)
        assert job.spec and job.spec.parallelism == 2  # the original spec, not the edit

    async def warned() -> bool:
        events = [
            e
            async for e in kube.list(
                Event, namespace=namespace, fields={"involvedObject.name": name}
            )
        ]
        return any(e.type == "Warning" and child in (e.message or "") for e in events)

    await eventually(warned, what="a warning event naming the recreated child")
    await wait_for_phase(kube, namespace, name, "Running")


async def test_deleting_the_test_removes_every_child(kube: AsyncClient, namespace: str) -> None:
    name = unique("gc")
    await start_test(kube, namespace, name)
    test = await kube.get(LocustTestV2, name, namespace=namespace)
    assert not test["metadata"].get("finalizers")  # nothing waits for an operator

    await kube.delete(LocustTestV2, name, namespace=namespace)

    async def all_gone() -> bool:
        jobs = await jobs_of(kube, namespace, name)
        services = [s async for s in kube.list(Service, namespace=namespace)]
        pods = [
            p
            async for p in kube.list(
                Pod, namespace=namespace, labels={"performance-test-name": name}
            )
        ]
        tests = [t async for t in kube.list(LocustTestV2, namespace=namespace)]
        return not jobs and not services and not pods and not tests

    await eventually(all_gone, what="the test, its Jobs, Service and pods all gone")

    events = [
        e async for e in kube.list(Event, namespace=namespace, fields={"involvedObject.name": name})
    ]
    assert any(e.reason == "Deleting" for e in events)


async def test_same_name_recreated_right_after_delete(kube: AsyncClient, namespace: str) -> None:
    """The FAQ's delete-and-recreate pattern: the new test gets fresh children, never the
    old test's ones (which the garbage collector is still removing)."""
    name = unique("rerun")
    await start_test(kube, namespace, name)
    old_job = await uid_of(kube, Job, namespace, f"{name}-master")
    await kube.delete(LocustTestV2, name, namespace=namespace)

    async def deleted() -> bool:
        return not [t async for t in kube.list(LocustTestV2, namespace=namespace)]

    await eventually(deleted, what="the first test deleted")
    await create_test(kube, namespace, locusttest(name))
    await wait_for_phase(kube, namespace, name, "Running")
    new_job = await uid_of(kube, Job, namespace, f"{name}-master")
    assert new_job and new_job != old_job
    test = await kube.get(LocustTestV2, name, namespace=namespace)
    job = await kube.get(Job, f"{name}-master", namespace=namespace)
    assert job.metadata and job.metadata.ownerReferences
    assert job.metadata.ownerReferences[0].uid == test["metadata"]["uid"]


async def test_operator_killed_mid_test_restarts_without_duplicates(
    kube: AsyncClient, namespace: str, operator: RestartableOperator
) -> None:
    name = unique("killed")
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name))

    async def children_started() -> bool:
        return bool(await jobs_of(kube, namespace, name))

    await eventually(children_started, what="the operator started creating children")
    assert operator.stop(signal.SIGKILL) == -signal.SIGKILL
    operator.start()
    status = await wait_for_phase(kube, namespace, name, "Running")
    assert condition(status, "Ready")["status"] == "True"
    assert sorted(j.metadata.name for j in await jobs_of(kube, namespace, name) if j.metadata) == [
        f"{name}-master",
        f"{name}-worker",
    ]
    services = [s async for s in kube.list(Service, namespace=namespace)]
    assert [s.metadata.name for s in services if s.metadata] == [f"{name}-master"]
    events = [
        e async for e in kube.list(Event, namespace=namespace, fields={"involvedObject.name": name})
    ]
    assert [e.reason for e in events].count("TestStarted") <= 1  # never twice


async def test_a_foreign_object_with_a_childs_name_is_never_taken_over(
    kube: AsyncClient, namespace: str
) -> None:
    """Someone's own Service already has the name the test's Service needs: the operator
    reports it and leaves it alone, then proceeds once it is gone."""
    from lightkube.models.core_v1 import ServicePort, ServiceSpec
    from lightkube.models.meta_v1 import ObjectMeta

    name = unique("taken")
    theirs = Service(
        metadata=ObjectMeta(name=f"{name}-master", labels={"team": "payments"}),
        spec=ServiceSpec(selector={"app": "payments"}, ports=[ServicePort(port=80)]),
    )
    await kube.create(theirs, namespace=namespace)
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name))
    seen = await wait_for_condition(kube, namespace, name, "Ready", "False", "ResourcesFailed")
    assert f"Service {name}-master already exists" in seen["message"]
    untouched = await kube.get(Service, f"{name}-master", namespace=namespace)
    assert untouched.metadata and untouched.metadata.labels == {"team": "payments"}
    assert untouched.spec and untouched.spec.selector == {"app": "payments"}
    assert not untouched.metadata.ownerReferences

    await kube.delete(Service, f"{name}-master", namespace=namespace)
    await wait_for_condition(kube, namespace, name, "Ready", "True", "ResourcesCreated")
    await wait_for_phase(kube, namespace, name, "Running")
