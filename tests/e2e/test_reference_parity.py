"""Parity with the reference operator on the local control plane: `kubectl wait` for a
failed test, and a test whose children the reference created (switching over while it
runs) adopted and finished without recreating anything."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Event, Pod, Service
from lightkube.types import PatchType

from localcluster import LocalCluster
from tests.conftest import COMPAT_DIR
from tests.e2e.conftest import (
    RestartableOperator,
    condition,
    create_scripts,
    create_test,
    locusttest,
    pods_of,
    unique,
    wait_for_phase,
)
from tests.helpers import eventually, kubectl, pod_outcome
from tests.locusttests import LocustTestV2

pytestmark = pytest.mark.cluster

REFERENCE_CHILDREN = COMPAT_DIR / "reference-children"
GENERATED_LABELS = (
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "batch.kubernetes.io/job-name",
)


async def test_kubectl_wait_for_test_completed_returns_for_a_failed_test(
    kube: AsyncClient, namespace: str, cluster: LocalCluster
) -> None:
    name = unique("waitfail")
    await create_scripts(kube, namespace)
    body = locusttest(name, scheduling={"nodeSelector": {"no-such-node-label": "x"}})
    await create_test(kube, namespace, body)
    out = await asyncio.to_thread(
        kubectl,
        cluster,
        "wait",
        f"--namespace={namespace}",
        "--for=condition=TestCompleted",
        f"locusttest/{name}",
        "--timeout=90s",
    )
    assert "condition met" in out
    status = dict((await kube.get(LocustTestV2, name, namespace=namespace)).get("status") or {})
    assert status["phase"] == "Failed"
    assert condition(status, "TestCompleted")["reason"] == "TestFailed"


def _recorded(name: str) -> dict[str, Any]:
    source = REFERENCE_CHILDREN / f"{name}.json"
    if not source.is_file():
        pytest.skip("../shared/compat/reference-children is not present")
    return dict(json.loads(source.read_text()))


def _as_the_reference_left_it(child: dict[str, Any], namespace: str, uid: str) -> dict[str, Any]:
    """A child from reference-children, re-owned to our test: what the apiserver would
    accept from the reference's create (no uid, resourceVersion, status, generated
    selector or labels)."""
    child = json.loads(json.dumps(child))
    meta = child["metadata"]
    for key in ("creationTimestamp", "generation", "resourceVersion", "uid", "managedFields"):
        meta.pop(key, None)
    meta["namespace"] = namespace
    meta["ownerReferences"][0]["uid"] = uid
    child.pop("status", None)
    if child["kind"] == "Job":
        child["spec"].pop("selector", None)
        child["spec"]["manualSelector"] = None
        for labels in (meta.get("labels"), child["spec"]["template"]["metadata"].get("labels")):
            for key in GENERATED_LABELS:
                (labels or {}).pop(key, None)
    else:
        for key in ("clusterIP", "clusterIPs"):
            child["spec"].pop(key, None)
    return child


async def test_a_test_the_reference_was_running_is_adopted_and_finishes(
    kube: AsyncClient, namespace: str, operator: RestartableOperator
) -> None:
    recorded = _recorded("e2e-test-basic")
    name = "e2e-test-basic"  # the children's names carry it
    test_body = locusttest(name)
    test_body["spec"]["worker"]["replicas"] = 2
    test_body["spec"]["testFiles"] = {"configMapRef": "e2e-test-configmap"}
    await create_scripts(kube, namespace, "e2e-test-configmap")

    # Switching over: no operator runs while the reference's children appear.
    operator.stop()
    try:
        await create_test(kube, namespace, test_body)
        test = await kube.get(LocustTestV2, name, namespace=namespace)
        uid = test["metadata"]["uid"]
        created: dict[str, str] = {}
        for key, resource in (("Service", Service), ("MasterJob", Job), ("WorkerJob", Job)):
            child = _as_the_reference_left_it(recorded[key], namespace, uid)
            made = await kube.create(resource.from_dict(child))
            assert made.metadata and made.metadata.uid
            created[key] = made.metadata.uid
        # The reference wrote its status: Running with its children created.
        await kube.patch(
            LocustTestV2.Status,
            name,
            {
                "status": {
                    "phase": "Running",
                    "expectedWorkers": 2,
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "ResourcesCreated",
                            "message": "All resources created",
                            "lastTransitionTime": "2026-01-01T00:00:00Z",
                        }
                    ],
                }
            },
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

        async def master_pod_runs() -> bool:
            pods = await pods_of_reference(kube, namespace, f"{name}-master")
            return any(p.status and p.status.phase == "Running" for p in pods)

        await eventually(master_pod_runs, what="the reference's master pod runs")
    finally:
        operator.start()

    running = await wait_for_phase(kube, namespace, name, "Running")
    assert condition(running, "Ready")["reason"] == "ResourcesCreated"
    (master_pod,) = await pods_of_reference(kube, namespace, f"{name}-master")
    await pod_outcome(kube, master_pod, "Succeeded")
    done = await wait_for_phase(kube, namespace, name, "Succeeded")
    assert condition(done, "TestCompleted")["reason"] == "TestSucceeded"

    # Nothing recreated: the same objects, and no event saying otherwise.
    service = await kube.get(Service, f"{name}-master", namespace=namespace)
    master = await kube.get(Job, f"{name}-master", namespace=namespace)
    worker = await kube.get(Job, f"{name}-worker", namespace=namespace)
    assert [o.metadata.uid for o in (service, master, worker) if o.metadata] == [
        created["Service"],
        created["MasterJob"],
        created["WorkerJob"],
    ]
    reasons = [
        e.reason
        async for e in kube.list(Event, namespace=namespace, fields={"involvedObject.name": name})
    ]
    assert "ResourceDeleted" not in reasons
    assert "Created" not in reasons
    assert "TestCompleted" in reasons
    assert not await pods_of(kube, namespace, name, "master")  # no pod of ours: none made


async def pods_of_reference(kube: AsyncClient, namespace: str, pod_name_label: str) -> list[Pod]:
    """The reference's pods carry no locust-role label; select on its own."""
    return [
        pod
        async for pod in kube.list(
            Pod, namespace=namespace, labels={"performance-test-pod-name": pod_name_label}
        )
    ]
