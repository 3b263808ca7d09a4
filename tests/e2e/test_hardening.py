"""Hardening on the real control plane (issue 12): what users can edit or write never
makes the operator act beyond the test's own admitted spec."""

from __future__ import annotations

import json

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Service
from lightkube.types import CascadeType, PatchType

from locust_operator.config import OperatorConfig
from locust_operator.resources import APPLIED_SPEC_ANNOTATION, build_children, spec_digest
from tests.e2e.conftest import (
    create_scripts,
    create_test,
    get_status,
    locusttest,
    unique,
    wait_for_phase,
)
from tests.e2e.test_convergence import uid_of
from tests.helpers import eventually
from tests.locusttests import LocustTestV1, LocustTestV2

pytestmark = pytest.mark.cluster


async def test_a_worker_job_is_rebuilt_from_the_trusted_spec_not_an_edited_annotation(
    kube: AsyncClient, namespace: str
) -> None:
    """Finding 5: an annotation edited on the test's Service (by anyone who may edit
    Services) is not what a deleted worker Job is rebuilt from."""
    name = unique("trust")
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name))
    await wait_for_phase(kube, namespace, name, "Running")
    test = await kube.get(LocustTestV2, name, namespace=namespace)
    status = await get_status(kube, namespace, name)
    assert status["appliedSpecDigest"] == spec_digest(test["spec"])

    service = await kube.get(Service, f"{name}-master", namespace=namespace)
    assert service.metadata and service.metadata.annotations
    evil = json.loads(service.metadata.annotations[APPLIED_SPEC_ANNOTATION])
    evil["image"] = "evil.example.com/locust:latest"
    evil["worker"]["extraArgs"] = ["--master-host=evil.example.com"]
    evil["security"] = {"containerSecurityContext": {"privileged": True}}
    for kind in (Service, Job):
        await kube.patch(
            kind,
            f"{name}-master",
            {"metadata": {"annotations": {APPLIED_SPEC_ANNOTATION: json.dumps(evil)}}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

    worker = f"{name}-worker"
    old_uid = await uid_of(kube, Job, namespace, worker)
    await kube.delete(Job, worker, namespace=namespace, cascade=CascadeType.BACKGROUND)

    async def recreated() -> bool:
        uid = await uid_of(kube, Job, namespace, worker)
        return uid is not None and uid != old_uid

    await eventually(recreated, what=f"Job {worker} recreated")
    job = await kube.get(Job, worker, namespace=namespace)
    assert job.spec and job.spec.template.spec
    container = job.spec.template.spec.containers[0]
    print("recreated worker:", container.image, container.args)
    assert container.image == test["spec"]["image"]
    assert f"--master-host={name}-master" in (container.args or [])
    assert "evil.example.com" not in json.dumps(job.to_dict())
    assert not (container.securityContext and container.securityContext.privileged)
    await wait_for_phase(kube, namespace, name, "Running")


TRAVERSAL = "../../kube-system/configmaps/coredns"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"testFiles": {"configMapRef": TRAVERSAL}}, "spec.testFiles.configMapRef"),
        ({"env": {"configMapRefs": [{"name": TRAVERSAL}]}}, "spec.env.configMapRefs[0].name"),
        ({"env": {"secretRefs": [{"name": "../x"}]}}, "spec.env.secretRefs[0].name"),
        (
            {"env": {"secretMounts": [{"name": "a/b", "mountPath": "/s"}]}},
            "spec.env.secretMounts[0].name",
        ),
        ({"volumes": [{"name": "Data", "emptyDir": {}}]}, "spec.volumes[0].name"),
    ],
)
async def test_a_name_that_is_a_path_is_rejected_at_admission(
    kube: AsyncClient, namespace: str, spec: dict[str, object], field: str
) -> None:
    """Finding 4: a reference like ../../kube-system/configmaps/x is no name; it is refused
    before it is stored, so the operator never reads another namespace with it."""
    name = unique("names")
    with pytest.raises(ApiError) as refused:
        await create_test(kube, namespace, locusttest(name, **spec))
    print(refused.value.status.message)
    assert refused.value.status.code in (400, 422)
    assert field in (refused.value.status.message or "")


async def test_a_v1_config_map_that_is_a_path_is_rejected(
    kube: AsyncClient, namespace: str
) -> None:
    body = {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": unique("names-v1")},
        "spec": {
            "masterCommandSeed": "--locustfile /lotest/src/t.py",
            "workerCommandSeed": "--locustfile /lotest/src/t.py",
            "workerReplicas": 1,
            "image": "locustio/locust:2.43.1",
            "configMap": TRAVERSAL,
        },
    }
    with pytest.raises(ApiError) as refused:
        await kube.create(LocustTestV1(body), namespace=namespace)
    assert "configMap" in (refused.value.status.message or "")
    assert TRAVERSAL in (refused.value.status.message or "")


async def test_a_name_differing_only_by_dot_and_dash_is_denied(
    kube: AsyncClient, namespace: str
) -> None:
    """Finding 9: 'x.y' and 'x-y' would share their Service and Jobs; the second is denied
    at creation, naming the first, and the first runs untouched."""
    base = unique("dc")
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(f"{base}-x"))
    with pytest.raises(ApiError) as denied:
        await create_test(kube, namespace, locusttest(f"{base}.x"))
    message = denied.value.status.message or ""
    print(message)
    assert "metadata.name" in message and f"'{base}-x'" in message
    await wait_for_phase(kube, namespace, f"{base}-x", "Running")


async def test_a_kafka_password_from_a_secret_is_accepted_and_stored_nowhere(
    kube: AsyncClient, namespace: str
) -> None:
    """Finding 11: with KAFKA_PASSWORD_SECRET the Jobs the apiserver accepts reference the
    Secret; the password is in no Job."""
    config = OperatorConfig.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKA_PASSWORD_SECRET": "kafka-creds/pw"}
    )
    test = locusttest(unique("kafka"))
    test["metadata"].update(namespace=namespace, uid="0000-kafka", generation=1)
    children = build_children(test, config)
    created = await kube.create(children.worker_job, dry_run=True)
    assert created.spec and created.spec.template.spec
    [password] = [
        v for v in created.spec.template.spec.containers[0].env or [] if v.name == "KAFKA_PASSWORD"
    ]
    assert password.value is None
    assert password.valueFrom and password.valueFrom.secretKeyRef
    assert password.valueFrom.secretKeyRef.name == "kafka-creds"
