"""The Helm chart (charts/locust-k8s-operator): lint, render, schema, the CRD copy, the
configuration it hands the operator, the manifests' validity for the apiserver, and a real
install / upgrade / uninstall on the local control plane.

The RBAC the chart grants is exercised by running the operator as the chart's
ServiceAccount: tests/integration/test_chart_rbac.py.
"""

from __future__ import annotations

import contextlib
import copy
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace, Pod, Service
from lightkube.resources.policy_v1 import PodDisruptionBudget
from lightkube.resources.rbac_authorization_v1 import ClusterRole

from localcluster import LocalCluster
from locust_operator.cli import build_parser
from locust_operator.config import OperatorConfig
from locust_operator.webhook.registration import WebhookEndpoint, validating_configuration
from tests import placement
from tests.chart_helpers import (
    CHART_CRD,
    CHART_DIR,
    CONFIG_CRD,
    KUBE_VERSION,
    find,
    helm,
    one,
    operator_container,
    plain_env,
    render,
    tools_bin,
    values_args,
)
from tests.helpers import eventually

VARIANTS = sorted(p.name.removesuffix("-values.yaml") for p in CHART_DIR.glob("ci/*-values.yaml"))
# Kinds whose CRDs (cert-manager, prometheus-operator) the local control plane does not have:
# the server-side dry run leaves them out.
FOREIGN_GROUPS = ("cert-manager.io/", "monitoring.coreos.com/")


def variant_values(variant: str) -> dict[str, Any]:
    return dict(yaml.safe_load((CHART_DIR / "ci" / f"{variant}-values.yaml").read_text()) or {})


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    return tools_bin()


def test_ci_variants_cover_every_install_mode() -> None:
    assert set(VARIANTS) >= {"default", "webhook", "cert-manager", "metrics", "namespaced"}


# --- the CRD -------------------------------------------------------------------------------


def test_chart_crd_is_the_committed_crd() -> None:
    assert CHART_CRD.read_bytes() == CONFIG_CRD.read_bytes(), (
        f"{CHART_CRD} differs from {CONFIG_CRD}: run `make crd`"
    )


def test_rendered_crd_is_the_committed_crd_pointed_at_the_release(
    bin_dir: Path, tmp_path: Path
) -> None:
    docs = render(bin_dir, tmp_path, namespace="ops")
    rendered = one(docs, "CustomResourceDefinition")
    committed = yaml.safe_load(CONFIG_CRD.read_text())

    # Only the metadata and the conversion webhook's Service differ.
    assert rendered["metadata"]["name"] == committed["metadata"]["name"]
    assert rendered["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert rendered["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    service = rendered["spec"]["conversion"]["webhook"]["clientConfig"]["service"]
    assert service == {
        "name": "locust-operator-webhook",
        "namespace": "ops",
        "path": "/convert",
        "port": 443,
    }
    expected = copy.deepcopy(committed["spec"])
    expected["conversion"]["webhook"]["clientConfig"]["service"] = service
    assert rendered["spec"] == expected


def test_crd_install_and_keep_are_switches(bin_dir: Path, tmp_path: Path) -> None:
    assert not find(
        render(bin_dir, tmp_path, {"crds": {"install": False}}), "CustomResourceDefinition"
    )
    unkept = one(render(bin_dir, tmp_path, {"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "annotations" not in unkept["metadata"]


# --- lint and render -----------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_helm_lint(bin_dir: Path, variant: str) -> None:
    result = helm(
        bin_dir,
        "lint",
        str(CHART_DIR),
        "--strict",
        "--kube-version",
        KUBE_VERSION,
        "--values",
        str(CHART_DIR / "ci" / f"{variant}-values.yaml"),
    )
    assert "0 chart(s) failed" in result.stdout


def test_default_render(bin_dir: Path, tmp_path: Path) -> None:
    docs = render(bin_dir, tmp_path, release="lko", namespace="ops")
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Deployment",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ]
    for doc in docs:
        if doc["kind"] not in ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
            assert doc["metadata"]["namespace"] == "ops", doc["kind"]

    deployment = one(docs, "Deployment", "locust-operator")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "locust-operator"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = operator_container(docs)
    assert container["image"] == "locust-k8s-operator:0.1.0"  # appVersion
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["args"] == [
        "--log-level=info",
        "--log-format=json",
        "--health-probe-bind-address=0.0.0.0:8081",
        "--leader-elect",
        "--leader-election-namespace=ops",
        "--leader-election-id=locust-k8s-operator.locust.io",
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert {"name": "health", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    # A read-only root file system needs a writable /tmp.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    downward = {
        e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
        for e in container["env"]
        if "valueFrom" in e
    }
    assert downward == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}

    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_single_replica_has_no_disruption_budget(bin_dir: Path, tmp_path: Path) -> None:
    docs = render(bin_dir, tmp_path, {"replicaCount": 1, "leaderElection": {"enabled": False}})
    assert not find(docs, "PodDisruptionBudget")
    assert "--leader-elect" not in operator_container(docs)["args"]
    # Without leader election the operator needs no Role in its own namespace.
    assert not find(docs, "Role")


def rules_of(role: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """(apiGroup, resource, resourceNames, verbs) for every rule, one resource each."""
    flat = []
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                flat.append(
                    (group, resource, tuple(rule.get("resourceNames", ())), tuple(rule["verbs"]))
                )
    return flat


CONTROLLER_RULES = [
    ("locust.io", "locusttests", (), ("list", "watch", "patch")),
    ("locust.io", "locusttests/status", (), ("patch",)),
    ("locust.io", "locusttests/finalizers", (), ("update",)),
    ("batch", "jobs", (), ("get", "list", "watch", "create")),
    ("", "services", (), ("get", "list", "watch", "create")),
    ("", "pods", (), ("list", "watch")),
    ("", "configmaps", (), ("get",)),
    # Results: the kept report ConfigMap (created once, patched when a run ends again) and
    # the Jobs of a run the operator ended (controller/results_poller.py).
    ("", "configmaps", (), ("create", "patch")),
    ("batch", "jobs", (), ("delete",)),
    ("", "events", (), ("create",)),
]


def test_default_rbac_is_least_privilege(bin_dir: Path, tmp_path: Path) -> None:
    docs = render(bin_dir, tmp_path, namespace="ops")
    assert rules_of(one(docs, "ClusterRole", "locust-operator")) == CONTROLLER_RULES
    binding = one(docs, "ClusterRoleBinding", "locust-operator")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "locust-operator", "namespace": "ops"}
    ]
    assert rules_of(one(docs, "Role", "locust-operator-self")) == [
        ("coordination.k8s.io", "leases", (), ("create",)),
        (
            "coordination.k8s.io",
            "leases",
            ("locust-k8s-operator.locust.io",),
            ("get", "watch", "update"),
        ),
    ]
    # No webhook rules, no Secrets; the only deletion is of Jobs (a run the operator ended).
    assert not find(docs, "ClusterRole", "locust-operator-webhook")
    for role in find(docs, "ClusterRole", "locust-operator") + find(docs, "Role"):
        for group, resource, _, verbs in rules_of(role):
            assert resource != "secrets", (resource, verbs)
            assert "delete" not in verbs or (group, resource) == ("batch", "jobs"), (
                resource,
                verbs,
            )
    # The built-in roles get LocustTests through aggregation.
    edit = one(docs, "ClusterRole", "locust-operator-locusttests-edit")
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"


def test_webhook_variant(bin_dir: Path, tmp_path: Path) -> None:
    docs = render(bin_dir, tmp_path, variant_values("webhook"), namespace="ops")
    service = one(docs, "Service", "locust-operator-webhook")
    assert service["spec"]["ports"] == [
        {"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"}
    ]
    container = operator_container(docs)
    assert container["args"][-5:] == [
        "--enable-webhooks",
        "--webhook-bind-address=0.0.0.0:9443",
        "--webhook-service-name=locust-operator-webhook",
        "--webhook-service-namespace=ops",
        "--webhook-cert-secret=locust-operator-webhook-certs",
    ]
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in container["ports"]
    # The release owns the ValidatingWebhookConfiguration (uninstall removes it): the same
    # object the operator applies, less the caBundle the operator fills in.
    rendered = one(docs, "ValidatingWebhookConfiguration")
    applied = validating_configuration(
        WebhookEndpoint(service_name="locust-operator-webhook", service_namespace="ops"), b""
    )
    del applied["webhooks"][0]["clientConfig"]["caBundle"]
    assert rendered["webhooks"] == applied["webhooks"]
    assert rendered["metadata"]["name"] == applied["metadata"]["name"]
    assert rendered["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert rules_of(one(docs, "ClusterRole", "locust-operator-webhook")) == [
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            ("locusttests.locust.io",),
            ("get", "patch"),
        ),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", (), ("create",)),
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            ("locust-k8s-operator-validating-webhook",),
            ("get", "patch"),
        ),
        # Admission looks up the PriorityClasses a test names (webhook/priority_classes.py).
        ("scheduling.k8s.io", "priorityclasses", (), ("get",)),
        # Admission dry-runs the v2 form of a v1 test (webhook/children.py).
        ("locust.io", "locusttests", (), ("create",)),
    ]
    assert rules_of(one(docs, "Role", "locust-operator-self"))[2:] == [
        ("", "secrets", (), ("create",)),
        ("", "secrets", ("locust-operator-webhook-certs",), ("get", "update")),
    ]
    assert not [d for d in docs if d["apiVersion"].startswith("cert-manager.io/")]


def test_cert_manager_variant(bin_dir: Path, tmp_path: Path) -> None:
    docs = render(bin_dir, tmp_path, variant_values("cert-manager"), namespace="ops")
    issuer = one(docs, "Issuer")
    certificate = one(docs, "Certificate", "locust-operator-webhook")
    assert certificate["spec"]["issuerRef"] == {
        "kind": "Issuer",
        "name": issuer["metadata"]["name"],
    }
    assert certificate["spec"]["secretName"] == "locust-operator-webhook-certs"
    assert certificate["spec"]["dnsNames"] == [
        "locust-operator-webhook.ops.svc",
        "locust-operator-webhook.ops.svc.cluster.local",
    ]
    # cert-manager injects its CA into both registrations.
    for registration in (
        one(docs, "CustomResourceDefinition"),
        one(docs, "ValidatingWebhookConfiguration"),
    ):
        annotations = registration["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == "ops/locust-operator-webhook"

    container = operator_container(docs)
    cert_dir = "/tmp/k8s-webhook-server/serving-certs"
    assert f"--webhook-cert-dir={cert_dir}" in container["args"]
    assert not [a for a in container["args"] if a.startswith("--webhook-cert-secret")]
    assert {"name": "webhook-certs", "mountPath": cert_dir, "readOnly": True} in container[
        "volumeMounts"
    ]
    volumes = one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {
        "name": "webhook-certs",
        "secret": {"secretName": "locust-operator-webhook-certs"},
    } in volumes
    # cert-manager writes the Secret: the operator needs no access to Secrets.
    assert all(r[1] != "secrets" for r in rules_of(one(docs, "Role", "locust-operator-self")))

    external = render(
        bin_dir,
        tmp_path,
        {
            "webhook": {
                "enabled": True,
                "certManager": {
                    "enabled": True,
                    "issuerRef": {"kind": "ClusterIssuer", "name": "corp-ca"},
                },
            }
        },
    )
    assert not find(external, "Issuer")
    assert one(external, "Certificate")["spec"]["issuerRef"] == {
        "kind": "ClusterIssuer",
        "name": "corp-ca",
    }


def test_metrics_variant(bin_dir: Path, tmp_path: Path) -> None:
    docs = render(bin_dir, tmp_path, variant_values("metrics"), namespace="ops")
    container = operator_container(docs)
    assert "--metrics-bind-address=0.0.0.0:8080" in container["args"]
    service = one(docs, "Service", "locust-operator-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert all(service["metadata"]["labels"].get(k) == v for k, v in selector.items())
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_namespaced_variant(bin_dir: Path, tmp_path: Path) -> None:
    docs = render(bin_dir, tmp_path, variant_values("namespaced"), namespace="ops")
    container = operator_container(docs)
    assert [a for a in container["args"] if a.startswith("--namespace")] == [
        "--namespace=locust-team-a",
        "--namespace=locust-team-b",
    ]
    roles = {r["metadata"]["namespace"]: r for r in find(docs, "Role", "locust-operator")}
    assert sorted(roles) == ["locust-team-a", "locust-team-b"]
    for role in roles.values():
        assert rules_of(role) == CONTROLLER_RULES
    bindings = find(docs, "RoleBinding", "locust-operator")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(roles)
    for binding in bindings:
        assert binding["subjects"][0]["namespace"] == "ops"
    # Nothing cluster-wide for the controller (only the aggregation roles for users).
    assert not find(docs, "ClusterRoleBinding")

    # The reference chart's k8s.clusterRole.enabled=false: the release namespace only.
    legacy = render(
        bin_dir, tmp_path, {"k8s": {"clusterRole": {"enabled": False}}}, namespace="ops"
    )
    assert "--namespace=ops" in operator_container(legacy)["args"]
    assert [r["metadata"]["namespace"] for r in find(legacy, "Role", "locust-operator")] == ["ops"]

    # Webhooks with watched namespaces: CRD and webhook registration stay cluster-wide.
    both = render(bin_dir, tmp_path, {**variant_values("namespaced"), "webhook": {"enabled": True}})
    assert one(both, "ClusterRoleBinding", "locust-operator-webhook")


@pytest.mark.parametrize("variant", VARIANTS)
def test_rendered_args_are_the_operators_flags(bin_dir: Path, tmp_path: Path, variant: str) -> None:
    args = operator_container(render(bin_dir, tmp_path, variant_values(variant)))["args"]
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    known = {option for action in run._actions for option in action.option_strings}
    pending = {a.split("=")[0] for a in args} - known
    if pending == {"--webhook-cert-secret"}:
        pytest.skip("the operator's --webhook-cert-secret flag is not there yet")
    parsed = parser.parse_args(["run", *args])
    assert parsed.command == "run"


def test_values_configure_the_operator(bin_dir: Path, tmp_path: Path) -> None:
    """The variables the chart sets are the ones the operator reads, with these values."""
    values = {
        "locustPods": {
            "resources": {"requests": {"cpu": "500m", "memory": 256}, "limits": {"cpu": 2}},
            "masterResources": {"limits": {"memory": "2Gi"}},
            "workerResources": {"requests": {"ephemeralStorage": "40M"}, "limits": {"cpu": ""}},
            "affinityInjection": False,
            "tolerationsInjection": False,
            "runtimeClassName": "gvisor",
            "ttlSecondsAfterFinished": 600,
            "metricsExporter": {
                "image": "example/exporter:1",
                "port": 9999,
                "pullPolicy": "Always",
                "resources": {"limits": {"memory": "256Mi"}},
            },
        },
        "controller": {
            "podHealthGracePeriodSeconds": 60,
            "maxConcurrentReconciles": 4,
            "resyncPeriodSeconds": 90,
        },
        "kafka": {
            "enabled": True,
            "bootstrapServers": "kafka:9092",
            "security": {"enabled": True, "jaasConfig": "jaas"},
            "credentials": {"secretName": "kafka-user"},
        },
    }
    container = operator_container(render(bin_dir, tmp_path, values))
    env = plain_env(container)
    config = OperatorConfig.from_env(env)
    assert config.pod_resources.cpu_request == "500m"
    assert config.pod_resources.memory_request == "256"
    assert config.pod_resources.cpu_limit == "2"
    assert config.pod_resources.memory_limit == "1024Mi"  # the chart's default, kept
    assert config.locust_resources("master").memory_limit == "2Gi"
    assert config.locust_resources("master").cpu_request == "500m"
    assert config.locust_resources("worker").ephemeral_storage_request == "40M"
    assert "WORKER_POD_CPU_LIMIT" not in env  # empty: the unified value applies
    assert not config.enable_affinity_cr_injection
    assert not config.enable_taint_tolerations_cr_injection
    assert config.default_runtime_class_name == "gvisor"
    assert config.job_ttl_seconds_after_finished == 600
    assert config.metrics_exporter.image == "example/exporter:1"
    assert config.metrics_exporter.port == 9999
    assert config.metrics_exporter.pull_policy == "Always"
    assert config.metrics_exporter.resources.memory_limit == "256Mi"
    assert config.metrics_exporter.resources.cpu_request == "100m"
    assert config.pod_health_grace_period_seconds == 60
    assert config.max_concurrent_reconciles == 4
    assert config.resync_period_seconds == 90
    assert config.kafka.bootstrap_servers == "kafka:9092"
    assert config.kafka.security_enabled
    assert config.kafka.security_protocol == "SASL_PLAINTEXT"
    assert config.kafka.sasl_jaas_config == "jaas"
    secret_env = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert secret_env == {
        "KAFKA_USERNAME": {"name": "kafka-user", "key": "username"},
        "KAFKA_PASSWORD": {"name": "kafka-user", "key": "password"},
    }


def test_default_values_are_the_operators_defaults(bin_dir: Path, tmp_path: Path) -> None:
    env = plain_env(operator_container(render(bin_dir, tmp_path)))
    assert OperatorConfig.from_env(env) == OperatorConfig.from_env({})
    assert not [name for name in env if name.startswith("KAFKA_")]


def test_reference_chart_spellings_still_work(bin_dir: Path, tmp_path: Path) -> None:
    docs = render(
        bin_dir,
        tmp_path,
        {
            "image": {"pullSecrets": ["old-style"]},
            "imagePullSecrets": [{"name": "new-style"}, "plain"],
            "containerSecurityContext": {"readOnlyRootFilesystem": False},
        },
    )
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [
        {"name": "new-style"},
        {"name": "plain"},
        {"name": "old-style"},
    ]
    security = pod["containers"][0]["securityContext"]
    assert security["readOnlyRootFilesystem"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


# --- the values schema ---------------------------------------------------------------------

WRONG_VALUES = [
    ({"replicaCount": "two"}, "/replicaCount", "integer"),
    ({"webhook": {"enabled": "yes"}}, "/webhook/enabled", "boolean"),
    ({"metrics": {"port": 70000}}, "/metrics/port", "maximum"),
    ({"watchNamespaces": "team-a"}, "/watchNamespaces", "array"),
    ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0", "pattern"),
    (
        {"locustPods": {"resources": {"requests": {"cpu": "lots"}}}},
        "/locustPods/resources/requests/cpu",
        "pattern",
    ),
    (
        {"locustPods": {"resources": {"limits": {"ephemeral-storage": "1G"}}}},
        "/locustPods/resources/limits",
        "ephemeral-storage",
    ),
    (
        {"locustPods": {"metricsExporter": {"pullPolicy": "Sometimes"}}},
        "/locustPods/metricsExporter/pullPolicy",
        "must be one of",
    ),
    ({"logLevel": "verbose"}, "/logLevel", "must be one of"),
    ({"crds": {"install": "false"}}, "/crds/install", "boolean"),
    ({"leaderElection": {"enabled": 1}}, "/leaderElection/enabled", "boolean"),
]


@pytest.mark.parametrize(
    ("values", "where", "why"), WRONG_VALUES, ids=[w for _, w, _ in WRONG_VALUES]
)
def test_schema_rejects_wrong_types(
    bin_dir: Path, tmp_path: Path, values: dict[str, Any], where: str, why: str
) -> None:
    command = [
        "template",
        "lko",
        str(CHART_DIR),
        "--kube-version",
        KUBE_VERSION,
        *values_args(tmp_path, values),
    ]
    result = helm(bin_dir, *command, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert f"at '{where}'" in result.stderr and why in result.stderr, result.stderr
    lint = helm(
        bin_dir,
        "lint",
        str(CHART_DIR),
        "--kube-version",
        KUBE_VERSION,
        *values_args(tmp_path, values),
        check=False,
    )
    assert lint.returncode != 0 and where in lint.stdout + lint.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"metrics": {"enabled": True, "secure": True}}, "metrics.secure=true is not supported"),
        ({"metrics": {"enabled": True, "port": 8081}}, "give them different ports"),
        ({"kafka": {"enabled": True}}, "kafka.bootstrapServers is empty"),
        ({"metrics": {"serviceMonitor": {"enabled": True}}}, "needs metrics.enabled"),
    ],
)
def test_inconsistent_values_fail_with_a_message(
    bin_dir: Path, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    result = helm(
        bin_dir,
        "template",
        "lko",
        str(CHART_DIR),
        "--kube-version",
        KUBE_VERSION,
        *values_args(tmp_path, values),
        check=False,
    )
    assert result.returncode != 0 and message in result.stderr, result.stderr


# --- on the local control plane ------------------------------------------------------------


def kubectl_stdin(
    cluster: LocalCluster, manifest: str, *args: str
) -> subprocess.CompletedProcess[str]:
    assert cluster.bin_dir is not None
    return subprocess.run(
        [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args, "-f", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def dry_run_namespaces(kube: AsyncClient) -> AsyncIterator[Any]:
    """Creates namespaces on request (namespaced objects need theirs to exist, even in a
    dry run) and deletes them afterwards."""
    created: list[str] = []

    async def ensure(*names: str) -> None:
        existing = {ns.metadata.name async for ns in kube.list(Namespace) if ns.metadata}
        for name in names:
            if name not in existing:
                await kube.create(placement.namespace(name))
                created.append(name)

    yield ensure
    for name in created:
        await kube.delete(Namespace, name)


@pytest.mark.cluster
@pytest.mark.parametrize("variant", VARIANTS)
async def test_manifests_pass_the_apiservers_dry_run(
    cluster: LocalCluster,
    crd: str,
    bin_dir: Path,
    tmp_path: Path,
    dry_run_namespaces: Any,
    variant: str,
) -> None:
    """Every rendered object is valid for this apiserver: a server-side dry-run apply (the
    CRD as a dry-run create under another group, since the real one is in use)."""
    namespace = f"chart-dry-{uuid.uuid4().hex[:6]}"
    values = variant_values(variant)
    docs = render(bin_dir, tmp_path, values, namespace=namespace)
    await dry_run_namespaces(namespace, *values.get("watchNamespaces", []))

    ours = [d for d in docs if not d["apiVersion"].startswith(FOREIGN_GROUPS)]
    skipped = [d["kind"] for d in docs if d["apiVersion"].startswith(FOREIGN_GROUPS)]
    assert sorted(skipped) == {
        "cert-manager": ["Certificate", "Issuer"],
        "metrics": ["ServiceMonitor"],
    }.get(variant, [])
    crds = find(ours, "CustomResourceDefinition")
    others = [d for d in ours if d["kind"] != "CustomResourceDefinition"]

    applied = kubectl_stdin(
        cluster,
        yaml.safe_dump_all(others),
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",
        "--field-manager=chart-test",
    )
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("(server dry run)") == len(others), applied.stdout

    for definition in crds:
        renamed = copy.deepcopy(definition)
        renamed["spec"]["group"] = "chart-dry-run.locust.io"
        renamed["metadata"]["name"] = (
            f"{renamed['spec']['names']['plural']}.chart-dry-run.locust.io"
        )
        created = kubectl_stdin(cluster, yaml.safe_dump(renamed), "create", "--dry-run=server")
        assert created.returncode == 0, created.stderr


@pytest.fixture
async def release(
    cluster: LocalCluster, kube: AsyncClient, bin_dir: Path
) -> AsyncIterator[tuple[str, str]]:
    """A release name and namespace; whatever the test leaves is uninstalled and deleted."""
    name, namespace = "lko-install", f"chart-install-{uuid.uuid4().hex[:6]}"
    yield name, namespace
    helm(
        bin_dir,
        "uninstall",
        name,
        "--namespace",
        namespace,
        "--wait",
        kubeconfig=cluster.kubeconfig,
        check=False,
    )
    with contextlib.suppress(ApiError):
        await kube.delete(Namespace, namespace)


@pytest.mark.cluster
async def test_install_upgrade_uninstall(
    cluster: LocalCluster,
    kube: AsyncClient,
    crd: str,
    bin_dir: Path,
    tmp_path: Path,
    release: tuple[str, str],
) -> None:
    name, namespace = release
    # The session's CRD is applied by the test fixtures, not owned by a release: Helm would
    # refuse to adopt it. A cluster that got the CRD from config/crd installs the same way.
    base = {
        "crds": {"install": False},
        "fullnameOverride": "lko-install",
        **placement.KWOK_HELM_VALUES,
    }
    installed = helm(
        bin_dir,
        "install",
        name,
        str(CHART_DIR),
        "--namespace",
        namespace,
        "--create-namespace",
        "--wait",
        "--timeout=120s",
        *values_args(tmp_path, base),
        kubeconfig=cluster.kubeconfig,
    )
    # NOTES.txt tells what to do next.
    assert "kind: LocustTest" in installed.stdout
    assert (
        "kubectl -n default get locusttest my-test -o jsonpath='{.status.phase}'"
        in installed.stdout
    )
    assert "apply it yourself" in installed.stdout  # crds.install=false

    deployment = await kube.get(Deployment, "lko-install", namespace=namespace)
    assert deployment.status is not None and deployment.status.readyReplicas == 2
    pods = [
        p
        async for p in kube.list(
            Pod, namespace=namespace, labels={"app.kubernetes.io/instance": name}
        )
    ]
    assert len(pods) == 2
    for pod in pods:
        assert pod.status is not None and pod.status.phase == "Running"
        assert (
            pod.spec is not None
            and pod.spec.nodeName
            and pod.spec.nodeName.startswith("kwok-node-")
        )
        # kwok does not run probes; it reports the containers Ready once they run.
        ready = [c for c in pod.status.conditions or [] if c.type == "Ready"]
        assert ready and ready[0].status == "True"
        assert pod.spec.serviceAccountName == "lko-install"
    assert await kube.get(PodDisruptionBudget, "lko-install", namespace=namespace)
    assert await kube.get(ClusterRole, "lko-install")

    # An upgrade rolls out: metrics on.
    helm(
        bin_dir,
        "upgrade",
        name,
        str(CHART_DIR),
        "--namespace",
        namespace,
        "--wait",
        "--timeout=120s",
        *values_args(tmp_path, {**base, "metrics": {"enabled": True}}, "upgrade"),
        kubeconfig=cluster.kubeconfig,
    )
    service = await kube.get(Service, "lko-install-metrics", namespace=namespace)
    assert service.spec is not None and service.spec.ports and service.spec.ports[0].port == 8080

    async def rolled_out() -> bool:
        got = await kube.get(Deployment, "lko-install", namespace=namespace)
        spec = got.spec.template.spec if got.spec and got.spec.template else None
        args = spec.containers[0].args if spec else []
        status = got.status
        return (
            "--metrics-bind-address=0.0.0.0:8080" in (args or [])
            and status is not None
            and status.updatedReplicas == 2
            and status.readyReplicas == 2
        )

    await eventually(rolled_out, what="the upgrade rolled out")

    helm(
        bin_dir,
        "uninstall",
        name,
        "--namespace",
        namespace,
        "--wait",
        kubeconfig=cluster.kubeconfig,
    )
    remaining = [d async for d in kube.list(Deployment, namespace=namespace)]
    assert not remaining
    assert not [
        r async for r in kube.list(ClusterRole, labels={"app.kubernetes.io/instance": name})
    ]


def test_plain_template_renders_without_a_cluster(bin_dir: Path) -> None:
    # GitOps tools and reviewers run `helm template` offline, where Helm reports v1.20.0.
    result = helm(bin_dir, "template", "lko", str(CHART_DIR), check=False)
    assert result.returncode == 0, result.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc}
    assert "Deployment" in kinds


@pytest.mark.parametrize("version", ["1.28.0", "1.27.3"])
def test_an_old_kubernetes_is_refused(bin_dir: Path, version: str) -> None:
    result = helm(
        bin_dir, "template", "lko", str(CHART_DIR), "--kube-version", version, check=False
    )
    assert result.returncode != 0
    assert "needs Kubernetes 1.29 or later" in result.stderr, result.stderr
