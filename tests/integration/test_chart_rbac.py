"""The chart's RBAC is enough, and no more: the operator runs as the chart's ServiceAccount
(a TokenRequest token in a kubeconfig of its own) against the local control plane, takes
LocustTests through their lifecycle, and is refused what the chart does not grant.

Two releases: one cluster-wide (leader election on, webhooks on with the self-generated
certificate, so their rules are rendered and checked with SubjectAccessReviews), one that
watches a single namespace. The operator runs as a local process, controller only: the
apiserver could not reach webhooks served from the kwok "pods".
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.batch_v1 import Job
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Event, Namespace, Pod, Secret
from lightkube.resources.rbac_authorization_v1 import ClusterRole

from localcluster import LocalCluster
from locust_operator.webhook.registration import VALIDATING_CONFIGURATION_NAME
from tests import placement
from tests.chart_helpers import (
    CHART_DIR,
    can_i,
    helm,
    service_account_token,
    service_account_user,
    status_code,
    token_client,
    tools_bin,
    values_args,
    write_token_kubeconfig,
)
from tests.e2e.conftest import create_scripts, create_test, locusttest, pods_of, wait_for_phase
from tests.helpers import eventually, new_namespace, pod_outcome
from tests.locusttests import LocustTestV2
from tests.operator_process import OperatorProcess, free_port

pytestmark = pytest.mark.cluster

LEASE = "lko-rbac-leader"


@dataclass
class Release:
    name: str  # also the full name: the ServiceAccount, Roles and bindings
    namespace: str
    kubeconfig: Path  # authenticates as the release's ServiceAccount
    watched: str | None = None  # the one namespace a namespaced release watches

    @property
    def user(self) -> str:
        return service_account_user(self.name, self.namespace)


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    return tools_bin()


@pytest.fixture(scope="module")
async def releases(
    cluster: LocalCluster,
    kube: AsyncClient,
    crd: str,
    bin_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[dict[str, Release]]:
    """Installs both releases (with --wait); uninstalls them and deletes their namespaces."""
    tmp = tmp_path_factory.mktemp("chart-rbac")
    suffix = uuid.uuid4().hex[:6]
    cluster_wide = Release("lko-cluster", f"lko-cluster-{suffix}", tmp / "cluster.kubeconfig")
    scoped = Release(
        "lko-scoped", f"lko-scoped-{suffix}", tmp / "scoped.kubeconfig", f"lko-watched-{suffix}"
    )
    # The session's CRD belongs to the test fixtures: the releases do not install it.
    common = {
        "crds": {"install": False},
        "rbac": {"aggregateToDefaultRoles": False},
        **placement.KWOK_HELM_VALUES,
    }
    values = {
        cluster_wide.name: {
            **common,
            "fullnameOverride": cluster_wide.name,
            "leaderElection": {"enabled": True, "id": LEASE},
            "webhook": {"enabled": True},
        },
        scoped.name: {
            **common,
            "fullnameOverride": scoped.name,
            "replicaCount": 1,
            "leaderElection": {"enabled": False},
            "watchNamespaces": [scoped.watched],
        },
    }
    await kube.create(placement.namespace(scoped.watched))
    # An operator that earlier suites ran outside the cluster may have registered the
    # validating webhook by URL; the webhook release brings its own.
    with contextlib.suppress(ApiError):
        await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    installed: list[Release] = []
    try:
        for release in (cluster_wide, scoped):
            helm(
                bin_dir,
                "install",
                release.name,
                str(CHART_DIR),
                "--namespace",
                release.namespace,
                "--create-namespace",
                "--wait",
                "--timeout=120s",
                *values_args(tmp, values[release.name], release.name),
                kubeconfig=cluster.kubeconfig,
            )
            installed.append(release)
            if values[release.name].get("webhook", {}).get("enabled"):
                # The release's ValidatingWebhookConfiguration calls pods that kwok only
                # pretends to run: it would refuse every LocustTest write in the cluster.
                await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
            token = await service_account_token(kube, release.name, release.namespace)
            write_token_kubeconfig(cluster.kubeconfig, token, release.kubeconfig)
        yield {"cluster": cluster_wide, "scoped": scoped}
    finally:
        for release in installed:
            helm(
                bin_dir,
                "uninstall",
                release.name,
                "--namespace",
                release.namespace,
                "--wait",
                kubeconfig=cluster.kubeconfig,
                check=False,
            )
        for namespace in (cluster_wide.namespace, scoped.namespace, scoped.watched):
            with contextlib.suppress(ApiError):
                await kube.delete(Namespace, namespace)


@contextlib.contextmanager
def operator_as(release: Release, log_path: Path, *args: str) -> Iterator[OperatorProcess]:
    """The operator as a local process with the release's identity; it must exit 0."""
    process = OperatorProcess(
        kubeconfig=release.kubeconfig,
        log_path=log_path,
        args=[f"--health-probe-bind-address=127.0.0.1:{free_port()}", *args],
        env={"POD_NAMESPACE": release.namespace, "POD_NAME": f"{release.name}-local"},
    )
    process.start()
    try:
        process.wait_for_log("operator running")
        yield process
    finally:
        code = process.stop()
        assert code == 0, process.log_tail()
        log = process.log_path.read_text(errors="replace")
        # RBAC refused it nothing ("User ... cannot <verb> resource ..."). Other refusals
        # can happen: tests left by other modules in namespaces being deleted.
        denied = [line for line in log.splitlines() if f'User "{release.user}" cannot' in line]
        assert not denied, "\n".join(denied)


async def run_lifecycle(kube: AsyncClient, namespace: str) -> None:
    """A test goes Running -> Succeeded; it carries no finalizer and is deleted at once."""
    name = f"rbac-{uuid.uuid4().hex[:6]}"
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name))
    await wait_for_phase(kube, namespace, name, "Running")
    test = await kube.get(LocustTestV2, name, namespace=namespace)
    assert not test["metadata"].get("finalizers")
    jobs = [j async for j in kube.list(Job, namespace=namespace)]
    assert sorted(j.metadata.name for j in jobs if j.metadata) == [
        f"{name}-master",
        f"{name}-worker",
    ]

    (master,) = await pods_of(kube, namespace, name, "master")
    await pod_outcome(kube, master, "Succeeded")
    await wait_for_phase(kube, namespace, name, "Succeeded")

    events = [
        e
        async for e in kube.list(Event, namespace=namespace)
        if e.involvedObject.name == name and e.source and e.source.component
    ]
    assert events, "the operator recorded no events"

    await kube.delete(LocustTestV2, name, namespace=namespace)

    async def gone() -> bool:
        try:
            await kube.get(LocustTestV2, name, namespace=namespace)
        except ApiError as error:
            return error.status.code == 404
        return False

    await eventually(gone, what=f"{name} deleted")


async def test_cluster_wide_release_runs_a_test_through_its_lifecycle(
    kube: AsyncClient, releases: dict[str, Release], tmp_path: Path
) -> None:
    release = releases["cluster"]
    leader_args = [
        "--leader-elect",
        f"--leader-election-namespace={release.namespace}",
        f"--leader-election-id={LEASE}",
    ]
    with operator_as(release, tmp_path / "operator.log", *leader_args):
        # It leads through the Lease its Role allows (acquired right after it started).
        async def leading() -> bool:
            try:
                lease = await kube.get(Lease, LEASE, namespace=release.namespace)
            except ApiError as error:
                if error.status.code == 404:
                    return False
                raise
            return lease.spec is not None and bool(lease.spec.holderIdentity)

        await eventually(leading, what=f"the operator holds the Lease {LEASE}")
        async with new_namespace(kube, "rbac") as namespace:
            await run_lifecycle(kube, namespace)


async def test_namespaced_release_runs_a_test_in_its_namespace(
    kube: AsyncClient, releases: dict[str, Release], tmp_path: Path
) -> None:
    release = releases["scoped"]
    assert release.watched
    with operator_as(release, tmp_path / "operator.log", f"--namespace={release.watched}"):
        await run_lifecycle(kube, release.watched)


async def test_what_the_chart_does_not_grant_is_refused(releases: dict[str, Release]) -> None:
    release = releases["cluster"]
    client = token_client(release.kubeconfig)
    try:
        # Allowed: what the controller does.
        assert await status_code(_first(client.list(Job))) == 200
        assert await status_code(client.get(Lease, LEASE, namespace=release.namespace)) in (
            200,
            404,
        )
        # Results: the Jobs of a run the operator ended are deleted (404: allowed, absent),
        # the report ConfigMap is created (a dry run: nothing is left behind).
        assert await status_code(client.delete(Job, "any", namespace="default")) == 404
        report = ConfigMap(metadata=ObjectMeta(name="any-report", namespace="default"))
        assert await status_code(client.create(report, dry_run=True)) == 200
        # Refused: everything else.
        refused = {
            "patch a Job": client.patch(Job, "any", {"metadata": {}}, namespace="default"),
            "delete a ConfigMap": client.delete(ConfigMap, "any", namespace="default"),
            "list Secrets cluster-wide": _first(client.list(Secret)),
            "list Secrets in its namespace": _first(
                client.list(Secret, namespace=release.namespace)
            ),
            "list ConfigMaps": _first(client.list(ConfigMap, namespace="default")),
            "delete a Pod": client.delete(Pod, "any", namespace="default"),
            "read another Lease": client.get(Lease, "other", namespace=release.namespace),
            "watch every Lease": _watch(client, Lease, release.namespace, None),
            "list ClusterRoles": _first(client.list(ClusterRole)),
        }
        codes = {what: await status_code(call) for what, call in refused.items()}
        assert codes == dict.fromkeys(refused, 403)
    finally:
        await client.close()


async def test_namespaced_release_is_confined_to_its_namespace(
    kube: AsyncClient, releases: dict[str, Release]
) -> None:
    release = releases["scoped"]
    client = token_client(release.kubeconfig)
    try:
        assert (
            await status_code(_first(client.list(LocustTestV2, namespace=release.watched))) == 200
        )
        assert await status_code(_first(client.list(LocustTestV2))) == 403
        assert await status_code(_first(client.list(LocustTestV2, namespace="default"))) == 403
        assert await status_code(_first(client.list(Job, namespace=release.namespace))) == 403
    finally:
        await client.close()
    # No leader election, no webhooks: nothing in its own namespace, nothing cluster-wide.
    assert not await can_i(
        kube,
        release.user,
        "create",
        "leases",
        group="coordination.k8s.io",
        namespace=release.namespace,
    )
    assert not await can_i(
        kube,
        release.user,
        "patch",
        "customresourcedefinitions",
        group="apiextensions.k8s.io",
        name="locusttests.locust.io",
    )


async def test_webhook_rules_are_by_name(kube: AsyncClient, releases: dict[str, Release]) -> None:
    release = releases["cluster"]
    user, namespace = release.user, release.namespace
    crds, vwcs = "customresourcedefinitions", "validatingwebhookconfigurations"
    ours = "locust-k8s-operator-validating-webhook"
    secret = f"{release.name}-webhook-certs"
    allowed = [
        ("patch", crds, "apiextensions.k8s.io", None, "locusttests.locust.io"),
        ("get", crds, "apiextensions.k8s.io", None, "locusttests.locust.io"),
        ("create", vwcs, "admissionregistration.k8s.io", None, None),
        ("patch", vwcs, "admissionregistration.k8s.io", None, ours),
        ("get", "priorityclasses", "scheduling.k8s.io", None, "any-class"),
        ("create", "locusttests", "locust.io", "default", None),  # admission's dry run
        ("create", "secrets", "", namespace, None),
        ("get", "secrets", "", namespace, secret),
        ("update", "secrets", "", namespace, secret),
        ("watch", "leases", "coordination.k8s.io", namespace, LEASE),
        ("update", "leases", "coordination.k8s.io", namespace, LEASE),
    ]
    refused = [
        ("patch", crds, "apiextensions.k8s.io", None, "other.example.com"),
        ("list", crds, "apiextensions.k8s.io", None, None),
        ("patch", vwcs, "admissionregistration.k8s.io", None, "someone-elses"),
        ("delete", vwcs, "admissionregistration.k8s.io", None, ours),
        ("list", "priorityclasses", "scheduling.k8s.io", None, None),
        ("get", "secrets", "", namespace, "other-secret"),
        ("create", "secrets", "", "default", None),
        ("update", "leases", "coordination.k8s.io", namespace, "other-lease"),
    ]
    for verb, resource, group, ns, name in allowed:
        assert await can_i(kube, user, verb, resource, group=group, namespace=ns, name=name), (
            verb,
            resource,
            name,
        )
    for verb, resource, group, ns, name in refused:
        assert not await can_i(kube, user, verb, resource, group=group, namespace=ns, name=name), (
            verb,
            resource,
            name,
        )


async def _watch(
    client: AsyncClient, kind: type[Lease], namespace: str, fields: dict[str, str] | None
) -> None:
    """Starts a watch; returns after its first event or a few quiet seconds."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_first(client.watch(kind, namespace=namespace, fields=fields)), 3)


async def _first(listing: AsyncIterator[object]) -> None:
    """Starts a list call (the request is made on the first item)."""
    async for _ in listing:
        return
