"""Smoke tests proving the local control plane is a real one: a real apiserver (CRDs,
admission webhooks over TLS), a real scheduler and controller manager (Jobs, garbage
collection) and kwok nodes that run pods."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Pod

from localcluster import LocalCluster
from localcluster.certs import CertificateAuthority
from tests.helpers import eventually, kubectl, new_namespace, pod_outcome

pytestmark = pytest.mark.cluster


@pytest.fixture
async def namespace(kube: AsyncClient) -> AsyncIterator[str]:
    async with new_namespace(kube, "smoke") as name:
        yield name


def test_kubectl_reports_the_real_server_version(cluster: LocalCluster) -> None:
    out = kubectl(cluster, "version", "-o=json")
    server = json.loads(out)["serverVersion"]
    assert server["gitVersion"] == "v1.34.4"
    assert (server["major"], server["minor"]) == ("1", "34")


def test_kubectl_lists_the_kwok_nodes_and_the_real_node(cluster: LocalCluster) -> None:
    out = kubectl(cluster, "get", "nodes", "-o=name").split()
    assert out == ["node/kwok-node-0", "node/kwok-node-1", "node/real-node"]


async def test_custom_resource_definition_and_object(kube: AsyncClient, namespace: str) -> None:
    crd = CustomResourceDefinition.from_dict(
        {
            "metadata": {"name": "widgets.smoke.example.com"},
            "spec": {
                "group": "smoke.example.com",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {"size": {"type": "integer", "minimum": 1}},
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    await kube.create(crd)
    try:

        async def established() -> bool:
            got = await kube.get(CustomResourceDefinition, "widgets.smoke.example.com")
            conditions = (got.status.conditions if got.status else None) or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        await eventually(established)
        widget = create_namespaced_resource("smoke.example.com", "v1", "Widget", "widgets")
        await kube.create(
            widget(metadata=ObjectMeta(name="w1"), spec={"size": 3}), namespace=namespace
        )
        got = await kube.get(widget, "w1", namespace=namespace)
        assert got.spec == {"size": 3}
        with pytest.raises(ApiError) as rejected:
            await kube.create(
                widget(metadata=ObjectMeta(name="w2"), spec={"size": 0}), namespace=namespace
            )
        assert rejected.value.status.code == 422
        assert "spec.size" in (rejected.value.status.message or "")
    finally:
        await kube.delete(CustomResourceDefinition, "widgets.smoke.example.com")


def _job(name: str, parallelism: int) -> Job:
    return Job.from_dict(
        {
            "metadata": {"name": name},
            "spec": {
                "parallelism": parallelism,
                "completions": parallelism,
                "backoffLimit": 0,
                "template": {
                    "metadata": {"labels": {"smoke": name}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "main", "image": "busybox:1.36"}],
                    },
                },
            },
        }
    )


async def _pods(kube: AsyncClient, namespace: str, job: str) -> list[Pod]:
    return [p async for p in kube.list(Pod, namespace=namespace, labels={"smoke": job})]


async def test_job_pods_are_scheduled_onto_kwok_nodes_and_run(
    kube: AsyncClient, namespace: str
) -> None:
    await kube.create(_job("runs", parallelism=2), namespace=namespace)

    async def two_running() -> bool:
        pods = await _pods(kube, namespace, "runs")
        return len(pods) == 2 and all(p.status and p.status.phase == "Running" for p in pods)

    await eventually(two_running)
    pods = await _pods(kube, namespace, "runs")
    assert {p.spec.nodeName for p in pods if p.spec} <= {"kwok-node-0", "kwok-node-1"}

    # Driven to completion under the test's control.
    for pod in pods:
        await pod_outcome(kube, pod, "Succeeded")

    async def job_complete() -> bool:
        job = await kube.get(Job, "runs", namespace=namespace)
        return bool(job.status and job.status.succeeded == 2 and job.status.completionTime)

    await eventually(job_complete)


async def test_a_failed_pod_fails_the_job(kube: AsyncClient, namespace: str) -> None:
    await kube.create(_job("fails", parallelism=1), namespace=namespace)

    async def running() -> bool:
        pods = await _pods(kube, namespace, "fails")
        return len(pods) == 1 and bool(pods[0].status and pods[0].status.phase == "Running")

    await eventually(running)
    await pod_outcome(kube, (await _pods(kube, namespace, "fails"))[0], "Failed")

    async def job_failed() -> bool:
        job = await kube.get(Job, "fails", namespace=namespace)
        conditions = (job.status.conditions if job.status else None) or []
        return any(c.type == "Failed" and c.status == "True" for c in conditions)

    await eventually(job_failed)


async def test_garbage_collector_removes_dependents(kube: AsyncClient, namespace: str) -> None:
    owner = await kube.create(ConfigMap(metadata=ObjectMeta(name="owner")), namespace=namespace)
    assert owner.metadata and owner.metadata.uid
    reference = OwnerReference(
        apiVersion="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid, controller=True
    )
    await kube.create(
        ConfigMap(metadata=ObjectMeta(name="dependent", ownerReferences=[reference])),
        namespace=namespace,
    )
    await kube.delete(ConfigMap, "owner", namespace=namespace)

    async def dependent_gone() -> bool:
        try:
            await kube.get(ConfigMap, "dependent", namespace=namespace)
        except ApiError as error:
            return error.status.code == 404
        return False

    await eventually(dependent_gone)


async def test_apiserver_calls_a_registered_webhook_over_tls(
    kube: AsyncClient, namespace: str, tmp_path: Path
) -> None:
    ca = CertificateAuthority(tmp_path, name="smoke-webhook-ca")
    serving = ca.issue("webhook", "127.0.0.1", ip_addresses=("127.0.0.1",), server=True)
    seen: list[dict[str, Any]] = []

    async def validate(request: web.Request) -> web.Response:
        review = await request.json()
        seen.append(review)
        name = review["request"]["name"]
        allowed = not name.startswith("forbidden")
        response: dict[str, Any] = {"uid": review["request"]["uid"], "allowed": allowed}
        if not allowed:
            response["status"] = {"code": 403, "message": f"smoke webhook denies {name}"}
        return web.json_response({**review, "response": response})

    app = web.Application()
    app.router.add_post("/validate", validate)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(serving.cert), str(serving.key))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config_name = f"smoke-{namespace}"
    webhook = ValidatingWebhookConfiguration.from_dict(
        {
            "metadata": {"name": config_name},
            "webhooks": [
                {
                    "name": "smoke.locust.io",
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": "Fail",
                    "clientConfig": {
                        "url": f"https://127.0.0.1:{port}/validate",
                        "caBundle": base64.b64encode(ca.pair.cert.read_bytes()).decode(),
                    },
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": namespace}
                    },
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                }
            ],
        }
    )
    await kube.create(webhook)
    try:
        # Registration takes effect asynchronously in the apiserver.
        async def denied() -> bool:
            try:
                await kube.create(
                    ConfigMap(metadata=ObjectMeta(name="forbidden-1")), namespace=namespace
                )
            except ApiError as error:
                return "smoke webhook denies forbidden-1" in (error.status.message or "")
            await kube.delete(ConfigMap, "forbidden-1", namespace=namespace)
            return False

        await eventually(denied)
        await kube.create(ConfigMap(metadata=ObjectMeta(name="allowed")), namespace=namespace)
        names = [r["request"]["name"] for r in seen]
        assert "forbidden-1" in names and "allowed" in names
        assert all(r["request"]["namespace"] == namespace for r in seen)
    finally:
        await kube.delete(ValidatingWebhookConfiguration, config_name)
        await runner.cleanup()
