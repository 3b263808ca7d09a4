"""The production path: the operator's image (built from the Dockerfile) installed with the
Helm chart onto the real node, with the chart's defaults (two replicas, leader election)
and webhooks on. No operator runs on this machine: whatever happens to LocustTests here is
done by the pods, through in-cluster config, the chart's RBAC, the webhook Service with the
certificate the replicas share through their Secret, and the probes.

One release for the module; the tests run in file order and each leaves it with two ready
replicas, until the last one uninstalls it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod, Service

from localcluster import LocalCluster
from localcluster.images import LOCUST_IMAGE, TARGET_PORT, ensure_operator_image
from localcluster.network import NODE_NAME
from localcluster.workloads import http_target, proxy_path, service_url, target_count_path
from locust_operator.webhook.registration import (
    CRD_NAME,
    VALIDATING_CONFIGURATION_NAME,
    VALIDATING_WEBHOOK_NAME,
)
from tests.chart_helpers import CHART_DIR, helm, values_args
from tests.e2e.conftest import get_status, jobs_of, wait_for_phase
from tests.helpers import eventually, kubectl, new_namespace
from tests.locusttests import BAD_CASES, LocustTestV1, LocustTestV2
from tests.real_node import (
    create_all,
    get_json,
    get_raw,
    master_log,
    summary_counts,
    wait_available,
)

pytestmark = pytest.mark.cluster

RELEASE = "locust-operator"  # the chart's fullnameOverride names every object after it
DEPLOYMENT = "locust-operator"
METRICS_SERVICE = "locust-operator-metrics"
WEBHOOK_SERVICE = "locust-operator-webhook"
LEASE_NAME = "locust-k8s-operator.locust.io"
REPLICAS = 2
# What the tests set on top of the chart's defaults.
INSTALL_VALUES = {"webhook": {"enabled": True}}
UPGRADE_VALUES = {**INSTALL_VALUES, "metrics": {"enabled": True}}
ROLLOUT_SECONDS = 180.0
RUN_SECONDS = 8

LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.2)

    @task
    def index(self):
        self.client.get("/in-cluster")
"""


@dataclass
class Release:
    namespace: str  # the operator's (the release's)
    tests_namespace: str  # where LocustTests run, with the HTTP target
    cluster: LocalCluster
    bin_dir: Path
    values_dir: Path

    def helm(self, *args: str) -> str:
        return helm(self.bin_dir, *args, kubeconfig=self.cluster.kubeconfig).stdout


def local_operator_processes() -> list[int]:
    """Operator processes this test session started (tests/operator_process.py)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and "locust_operator" in cmdline:
            found.append(int(entry.name))
    return found


async def adopt_crd_if_present(kube: AsyncClient, namespace: str) -> None:
    """A CRD applied before the chart (the session's, from config/crd) is handed to the
    release the way the chart's README says, so the chart installs with its defaults."""
    try:
        await kube.get(CustomResourceDefinition, CRD_NAME)
    except ApiError as error:
        if error.status.code == 404:
            return
        raise
    patch = {
        "metadata": {
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {
                "meta.helm.sh/release-name": RELEASE,
                "meta.helm.sh/release-namespace": namespace,
            },
        }
    }
    await kube.patch(CustomResourceDefinition, CRD_NAME, patch)


async def remove_out_of_cluster_registration(kube: AsyncClient) -> None:
    """An operator run outside the cluster (earlier suites) registers the validating
    webhook by URL; the release creates its own, as on a cluster that never had one."""
    try:
        await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    except ApiError as error:
        if error.status.code != 404:
            raise


async def operator_pods(kube: AsyncClient, namespace: str) -> list[Pod]:
    return [
        pod
        async for pod in kube.list(
            Pod, namespace=namespace, labels={"app.kubernetes.io/instance": RELEASE}
        )
        if pod.metadata and not pod.metadata.deletionTimestamp
    ]


def pod_name(pod: Pod) -> str:
    assert pod.metadata and pod.metadata.name
    return pod.metadata.name


def is_ready(pod: Pod) -> bool:
    conditions = (pod.status and pod.status.conditions) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


async def wait_rolled_out(kube: AsyncClient, namespace: str) -> list[Pod]:
    """Until the Deployment has REPLICAS ready pods of its current template, and no other."""
    pods: list[Pod] = []

    async def rolled_out() -> bool:
        deployment = await kube.get(Deployment, DEPLOYMENT, namespace=namespace)
        status = deployment.status
        pods[:] = await operator_pods(kube, namespace)
        return (
            status is not None
            and status.observedGeneration
            == (deployment.metadata.generation if deployment.metadata else None)
            and status.updatedReplicas == REPLICAS
            and status.readyReplicas == REPLICAS
            and (status.replicas or 0) == REPLICAS
            and len(pods) == REPLICAS
            and all(is_ready(pod) for pod in pods)
        )

    await eventually(
        rolled_out, within=ROLLOUT_SECONDS, what="the operator Deployment is rolled out"
    )
    return pods


async def leader_pod(kube: AsyncClient, namespace: str) -> str:
    """The pod holding the leader Lease (identity "<pod name>_<random>")."""
    lease = await kube.get(Lease, LEASE_NAME, namespace=namespace)
    holder = (lease.spec and lease.spec.holderIdentity) or ""
    return holder.rpartition("_")[0]


def locust_run(name: str, namespace: str, *, workers: int, run_seconds: int) -> dict[str, Any]:
    host = service_url(namespace, "target", TARGET_PORT)
    return {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name},
        "spec": {
            "image": LOCUST_IMAGE,
            "master": {
                "command": (
                    f"--locustfile /lotest/src/locustfile.py --host {host} --users 2 "
                    f"--spawn-rate 2 --run-time {run_seconds}s"
                ),
                "autoquit": {"enabled": True, "timeout": 2},
            },
            "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": workers},
            "testFiles": {"configMapRef": "scripts"},
        },
    }


async def children_uids(kube: AsyncClient, namespace: str, name: str) -> dict[str, str]:
    """The test's Service and Jobs by kind/name, with their UIDs."""
    found = {}
    for job in await jobs_of(kube, namespace, name):
        assert job.metadata and job.metadata.name and job.metadata.uid
        found[f"Job/{job.metadata.name}"] = job.metadata.uid
    try:
        service = await kube.get(Service, f"{name}-master", namespace=namespace)
    except ApiError:
        return found
    assert service.metadata and service.metadata.uid
    found[f"Service/{name}-master"] = service.metadata.uid
    return found


async def wait_for_children(kube: AsyncClient, namespace: str, name: str) -> dict[str, str]:
    found: dict[str, str] = {}

    async def created() -> bool:
        found.update(await children_uids(kube, namespace, name))
        return set(found) == {
            f"Job/{name}-master",
            f"Job/{name}-worker",
            f"Service/{name}-master",
        }

    await eventually(created, within=60, what=f"{name}'s Service and Jobs exist (saw {found})")
    return found


def seconds_between(start: str | datetime, end: str | datetime) -> float:
    def parse(value: str | datetime) -> datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)

    return (parse(end) - parse(start)).total_seconds()


def measure_pod(cluster: LocalCluster, namespace: str, pod: Pod) -> dict[str, float]:
    """Start-to-ready (the kubelet's view, 1 s resolution, quantised by the readiness
    probe's period; and the operator's own log, ms) and the operator process's RSS."""
    name = pod_name(pod)
    assert pod.status and pod.status.containerStatuses and pod.metadata
    state = pod.status.containerStatuses[0].state
    assert state and state.running and state.running.startedAt
    ready = next(c for c in pod.status.conditions or [] if c.type == "Ready")
    log_lines = [
        json.loads(line)
        for line in kubectl(cluster, "-n", namespace, "logs", name).splitlines()
        if line.startswith("{")
    ]
    running = next(line for line in log_lines if line["message"].startswith("operator running"))
    rss_kib = kubectl(
        cluster,
        "-n",
        namespace,
        "exec",
        name,
        "--",
        "python",
        "-c",
        "import re; print(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/1/status').read())[1])",
    )
    return {
        "pod_created_to_ready_s": seconds_between(
            pod.metadata.creationTimestamp, ready.lastTransitionTime
        ),
        "container_started_to_ready_s": seconds_between(
            state.running.startedAt, ready.lastTransitionTime
        ),
        "first_log_to_running_s": seconds_between(
            log_lines[0]["time"].replace("Z", "+00:00"), running["time"].replace("Z", "+00:00")
        ),
        "rss_mib": int(rss_kib) / 1024,
    }


@pytest.fixture(scope="module")
async def release(
    cluster: LocalCluster, kube: AsyncClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Release]:
    assert not local_operator_processes(), (
        "an operator process started by this test session is running: this suite needs the "
        "in-cluster operator alone (run it before suites that start one)"
    )
    assert cluster.bin_dir is not None
    cluster.import_images([ensure_operator_image()])
    namespace = f"lko-system-{uuid.uuid4().hex[:6]}"
    await adopt_crd_if_present(kube, namespace)
    await remove_out_of_cluster_registration(kube)
    handle = Release(
        namespace=namespace,
        tests_namespace="",
        cluster=cluster,
        bin_dir=cluster.bin_dir,
        values_dir=tmp_path_factory.mktemp("chart-values"),
    )
    installed = False
    try:
        handle.helm(
            "install",
            RELEASE,
            str(CHART_DIR),
            "--namespace",
            namespace,
            "--create-namespace",
            "--wait",
            f"--timeout={int(ROLLOUT_SECONDS)}s",
            *values_args(handle.values_dir, INSTALL_VALUES, "install"),
        )
        installed = True
        async with new_namespace(kube, "chart-tests", on_kwok=False) as tests_namespace:
            handle.tests_namespace = tests_namespace
            await create_all(kube, tests_namespace, http_target())
            await kube.create(
                ConfigMap(
                    metadata=ObjectMeta(name="scripts", namespace=tests_namespace),
                    data={"locustfile.py": LOCUSTFILE},
                )
            )
            yield handle
    finally:
        if installed:
            helm(
                handle.bin_dir,
                "uninstall",
                RELEASE,
                "--namespace",
                namespace,
                "--wait",
                kubeconfig=cluster.kubeconfig,
                check=False,
            )
        with contextlib.suppress(ApiError):
            await kube.delete(Namespace, namespace)


async def test_the_release_runs_on_the_real_node_and_one_replica_leads(
    release: Release, kube: AsyncClient
) -> None:
    pods = await wait_rolled_out(kube, release.namespace)
    assert all(pod.spec and pod.spec.nodeName == NODE_NAME for pod in pods)
    assert {pod.spec.serviceAccountName for pod in pods if pod.spec} == {RELEASE}
    names = {pod_name(pod) for pod in pods}

    async def one_leads() -> bool:
        return await leader_pod(kube, release.namespace) in names

    await eventually(one_leads, what="one of the release's pods holds the leader Lease")
    for pod in pods:
        log = kubectl(release.cluster, "-n", release.namespace, "logs", pod_name(pod))
        assert "webhooks registered (in-cluster Service)" in log, log
        measured = measure_pod(release.cluster, release.namespace, pod)
        print(f"[in-cluster operator] {pod_name(pod)}: {measured}")
        assert measured["rss_mib"] > 0

    # The registrations point at the release's Service, with the shared certificate's CA.
    config = await kube.get(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    (webhook,) = config.webhooks or []
    assert webhook.clientConfig.service is not None
    assert (webhook.clientConfig.service.name, webhook.clientConfig.service.namespace) == (
        WEBHOOK_SERVICE,
        release.namespace,
    )
    assert webhook.clientConfig.caBundle
    assert config.metadata and config.metadata.labels
    assert config.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"
    crd = await kube.get(CustomResourceDefinition, CRD_NAME)
    assert crd.spec.conversion and crd.spec.conversion.webhook
    conversion = crd.spec.conversion.webhook.clientConfig
    assert conversion and conversion.service and conversion.service.name == WEBHOOK_SERVICE
    assert conversion.caBundle == webhook.clientConfig.caBundle


async def test_a_locusttest_runs_to_succeeded(release: Release, kube: AsyncClient) -> None:
    namespace = release.tests_namespace
    await wait_available(kube, namespace, "target")
    await kube.create(
        LocustTestV2(locust_run("first", namespace, workers=2, run_seconds=RUN_SECONDS)),
        namespace=namespace,
    )
    status = await wait_for_phase(kube, namespace, "first", "Succeeded", within=180)
    assert status["expectedWorkers"] == 2
    requests, failures = summary_counts(master_log(release.cluster, namespace, "first"))
    assert requests > 0 and failures == 0
    counts = get_json(release.cluster, target_count_path(namespace))
    assert counts["paths"].get("/in-cluster", 0) >= requests


async def test_a_v1_object_is_converted_by_the_pods(release: Release, kube: AsyncClient) -> None:
    namespace = release.tests_namespace
    v1 = {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": "from-v1"},
        "spec": {
            "masterCommandSeed": "--locustfile /lotest/src/locustfile.py --run-time 1s",
            "workerCommandSeed": "--locustfile /lotest/src/locustfile.py",
            "workerReplicas": 1,
            "image": LOCUST_IMAGE,
            "configMap": "scripts",
        },
    }
    # Stored as v2: the apiserver asks the conversion webhook behind the release's Service.
    await kube.create(LocustTestV1.from_dict(copy.deepcopy(v1)), namespace=namespace)
    try:
        as_v2 = await kube.get(LocustTestV2, "from-v1", namespace=namespace)
        assert as_v2.spec["master"]["command"] == v1["spec"]["masterCommandSeed"]
        assert as_v2.spec["worker"]["replicas"] == 1
        assert as_v2.spec["testFiles"]["configMapRef"] == "scripts"
        as_v1 = await kube.get(LocustTestV1, "from-v1", namespace=namespace)
        assert as_v1.spec == v1["spec"]
    finally:
        await kube.delete(LocustTestV2, "from-v1", namespace=namespace)


async def test_a_bad_object_is_rejected_by_the_validating_webhook(
    release: Release, kube: AsyncClient
) -> None:
    # The CRD's schema accepts it; only the webhook normalises paths before comparing.
    case = next(c for c in BAD_CASES if not c.in_schema)
    with pytest.raises(ApiError) as rejected:
        await kube.create(LocustTestV2(case.object("bad")), namespace=release.tests_namespace)
    message = rejected.value.status.message or ""
    assert f'admission webhook "{VALIDATING_WEBHOOK_NAME}" denied the request' in message
    assert case.field in message


async def test_deleting_the_leader_hands_over_to_the_other_replica(
    release: Release, kube: AsyncClient
) -> None:
    namespace = release.tests_namespace
    pods = await wait_rolled_out(kube, release.namespace)
    leader = await leader_pod(kube, release.namespace)
    (standby,) = {pod_name(pod) for pod in pods} - {leader}
    await kube.delete(Pod, leader, namespace=release.namespace)
    # Right after: the standby must take the Lease to give this test its children.
    await kube.create(
        LocustTestV2(locust_run("after-handover", namespace, workers=1, run_seconds=1)),
        namespace=namespace,
    )
    try:
        await wait_for_children(kube, namespace, "after-handover")
        assert await leader_pod(kube, release.namespace) == standby
    finally:
        await kube.delete(LocustTestV2, "after-handover", namespace=namespace)
    await wait_rolled_out(kube, release.namespace)  # the Deployment replaced the old leader


async def test_helm_upgrade_rolls_the_pods_without_losing_a_test(
    release: Release, kube: AsyncClient
) -> None:
    namespace = release.tests_namespace
    before = {pod_name(pod) for pod in await wait_rolled_out(kube, release.namespace)}
    await kube.create(
        LocustTestV2(locust_run("across-upgrade", namespace, workers=1, run_seconds=20)),
        namespace=namespace,
    )
    children = await wait_for_children(kube, namespace, "across-upgrade")
    await wait_for_phase(kube, namespace, "across-upgrade", "Running", within=120)

    release.helm(
        "upgrade",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        release.namespace,
        "--wait",
        f"--timeout={int(ROLLOUT_SECONDS)}s",
        *values_args(release.values_dir, UPGRADE_VALUES, "upgrade"),
    )
    after = await wait_rolled_out(kube, release.namespace)
    assert not before & {pod_name(pod) for pod in after}, "the upgrade did not replace the pods"
    for pod in after:
        assert pod.spec and "--metrics-bind-address=0.0.0.0:8080" in (
            pod.spec.containers[0].args or []
        )

    status = await wait_for_phase(kube, namespace, "across-upgrade", "Succeeded", within=180)
    assert status.get("startTime") and status.get("completionTime")
    # The same children carried it through: nothing was recreated by the new replicas.
    assert await children_uids(kube, namespace, "across-upgrade") == children


async def test_metrics_are_scraped_through_the_metrics_service(
    release: Release, kube: AsyncClient
) -> None:
    # Any replica answers behind the Service; each counts the tests in its own cache.
    metrics = get_raw(
        release.cluster, proxy_path(release.namespace, METRICS_SERVICE, "metrics", "/metrics")
    )
    succeeded = re.search(
        r'^locust_operator_locusttests\{phase="Succeeded"\} (\S+)$', metrics, re.M
    )
    assert succeeded and float(succeeded.group(1)) >= 2, metrics[-2000:]
    # Exactly one replica reconciles.
    leaders = []
    for pod in await operator_pods(kube, release.namespace):
        per_pod = get_raw(
            release.cluster,
            f"/api/v1/namespaces/{release.namespace}/pods/{pod_name(pod)}:8080/proxy/metrics",
        )
        found = re.search(r"^locust_operator_leader (\S+)$", per_pod, re.M)
        assert found, per_pod[-2000:]
        leaders.append(float(found.group(1)))
    assert sorted(leaders) == [0.0, 1.0]


async def test_helm_uninstall_leaves_the_cluster_usable(
    release: Release, kube: AsyncClient
) -> None:
    namespace = release.tests_namespace
    await kube.delete(LocustTestV2, "across-upgrade", namespace=namespace)
    # A test left behind: it carries no finalizer (none waits for an operator).
    left = await kube.get(LocustTestV2, "first", namespace=namespace)
    assert not left.metadata.finalizers

    async def deleted_by_the_operator() -> bool:
        names = {t.metadata.name async for t in kube.list(LocustTestV2, namespace=namespace)}
        return "across-upgrade" not in names

    await eventually(deleted_by_the_operator, what="the operator let across-upgrade go")

    uninstalled = release.helm("uninstall", RELEASE, "--namespace", release.namespace, "--wait")
    assert "CustomResourceDefinition] locusttests.locust.io" in uninstalled  # kept
    assert not await operator_pods(kube, release.namespace)
    with pytest.raises(ApiError) as gone:
        await kube.get(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    assert gone.value.status.code == 404

    # Writes go through: a new test is created (nobody reconciles it now) ...
    fresh = locust_run("after-uninstall", namespace, workers=1, run_seconds=1)
    await kube.create(LocustTestV2(fresh), namespace=namespace)
    assert await get_status(kube, namespace, "after-uninstall") == {}
    await kube.delete(LocustTestV2, "after-uninstall", namespace=namespace)
    # ... and the test left behind is deleted as it is, with no operator.
    await kube.delete(LocustTestV2, "first", namespace=namespace)

    async def deleted() -> bool:
        names = {t.metadata.name async for t in kube.list(LocustTestV2, namespace=namespace)}
        return not names & {"first", "after-uninstall"}

    await eventually(deleted, what="the tests are deleted without an operator")
    assert await kube.get(CustomResourceDefinition, CRD_NAME)  # kept, tests and all
