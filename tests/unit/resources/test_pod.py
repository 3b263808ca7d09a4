from __future__ import annotations

from typing import Any

from locust_operator.config import (
    MetricsExporterConfig,
    OperatorConfig,
    ResourceDefaults,
)

from .helpers import jobs, locust, locust_test, pod, pod_metadata, with_role

OTEL = {"openTelemetry": {"enabled": True, "endpoint": "collector:4317"}}
AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["amd64"]}]}
            ]
        }
    }
}
TOLERATIONS = [{"key": "load", "operator": "Exists", "effect": "NoSchedule"}]
SCHEDULING = {"affinity": AFFINITY, "tolerations": TOLERATIONS, "nodeSelector": {"pool": "load"}}


def pods(test: dict[str, Any], config: OperatorConfig | None = None) -> list[dict[str, Any]]:
    return [pod(job) for job in jobs(test, config).values()]


# --- containers ----------------------------------------------------------------------------


def test_locust_container_name_image_and_pull_settings() -> None:
    test = locust_test(imagePullPolicy="Always", imagePullSecrets=[{"name": "registry"}])
    for role, job in jobs(test).items():
        container = locust(job)
        assert container["name"] == f"demo-{role}"
        assert container["image"] == "locustio/locust:2.43.1"
        assert container["imagePullPolicy"] == "Always"
        assert pod(job)["imagePullSecrets"] == [{"name": "registry"}]


def test_no_image_pull_secrets_by_default() -> None:
    for spec in pods(locust_test()):
        assert "imagePullSecrets" not in spec


def test_master_exposes_its_ports_workers_none() -> None:
    built = jobs(locust_test())
    assert locust(built["master"])["ports"] == [
        {"name": "master", "containerPort": 5557, "protocol": "TCP"},
        {"name": "web-ui", "containerPort": 8089, "protocol": "TCP"},
    ]
    assert "ports" not in locust(built["worker"])


# --- resources -----------------------------------------------------------------------------


def test_operator_default_resources() -> None:
    for job in jobs(locust_test()).values():
        assert locust(job)["resources"] == {
            "requests": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "30M"},
            "limits": {"cpu": "1000m", "memory": "1024Mi", "ephemeral-storage": "50M"},
        }


def test_role_defaults_fall_back_field_by_field_to_unified_defaults() -> None:
    config = OperatorConfig(
        pod_resources=ResourceDefaults(cpu_request="100m", memory_limit="1Gi"),
        master_resources=ResourceDefaults(cpu_request="2", cpu_limit="4"),
        worker_resources=ResourceDefaults(memory_limit="2Gi"),
    )
    built = jobs(locust_test(), config)
    assert locust(built["master"])["resources"] == {
        "requests": {"cpu": "2"},
        "limits": {"cpu": "4", "memory": "1Gi"},
    }
    assert locust(built["worker"])["resources"] == {
        "requests": {"cpu": "100m"},
        "limits": {"memory": "2Gi"},
    }


def test_cr_resources_win_outright() -> None:
    given = {"requests": {"cpu": "500m"}}
    test = with_role(locust_test(), "master", resources=given)
    built = jobs(test)
    assert locust(built["master"])["resources"] == given
    assert locust(built["worker"])["resources"]["requests"]["cpu"] == "250m"


def test_empty_cr_resources_use_the_defaults() -> None:
    test = with_role(locust_test(), "worker", resources={})
    assert locust(jobs(test)["worker"])["resources"]["limits"]["cpu"] == "1000m"


def test_no_resources_when_nothing_is_configured() -> None:
    config = OperatorConfig(pod_resources=ResourceDefaults())
    for job in jobs(locust_test(), config).values():
        assert "resources" not in locust(job)


# --- scheduling ----------------------------------------------------------------------------


def test_scheduling_from_the_cr_with_injection_on() -> None:
    for spec in pods(locust_test(scheduling=SCHEDULING)):
        assert spec["affinity"] == AFFINITY
        assert spec["tolerations"] == TOLERATIONS
        assert spec["nodeSelector"] == {"pool": "load"}


def test_injection_switches_drop_affinity_and_tolerations_but_not_node_selector() -> None:
    config = OperatorConfig(
        enable_affinity_cr_injection=False, enable_taint_tolerations_cr_injection=False
    )
    for spec in pods(locust_test(scheduling=SCHEDULING), config):
        assert "affinity" not in spec
        assert "tolerations" not in spec
        assert spec["nodeSelector"] == {"pool": "load"}


def test_each_injection_switch_is_independent() -> None:
    only_affinity = OperatorConfig(enable_taint_tolerations_cr_injection=False)
    for spec in pods(locust_test(scheduling=SCHEDULING), only_affinity):
        assert ("affinity" in spec, "tolerations" in spec) == (True, False)
    only_tolerations = OperatorConfig(enable_affinity_cr_injection=False)
    for spec in pods(locust_test(scheduling=SCHEDULING), only_tolerations):
        assert ("affinity" in spec, "tolerations" in spec) == (False, True)


def test_no_scheduling_fields_by_default() -> None:
    for spec in pods(locust_test()):
        assert not {"affinity", "tolerations", "nodeSelector", "runtimeClassName"} & set(spec)


def test_runtime_class_from_the_cr_else_the_operator_default() -> None:
    default = OperatorConfig(default_runtime_class_name="kata")
    for spec in pods(locust_test(), default):
        assert spec["runtimeClassName"] == "kata"
    for spec in pods(locust_test(scheduling={"runtimeClassName": "gvisor"}), default):
        assert spec["runtimeClassName"] == "gvisor"
    for spec in pods(locust_test(scheduling={"runtimeClassName": "gvisor"})):
        assert spec["runtimeClassName"] == "gvisor"


def test_empty_runtime_class_opts_out_of_the_default() -> None:
    default = OperatorConfig(default_runtime_class_name="kata")
    for spec in pods(locust_test(scheduling={"runtimeClassName": ""}), default):
        assert "runtimeClassName" not in spec


# --- security ------------------------------------------------------------------------------


def test_default_pod_security_context() -> None:
    for job in jobs(locust_test()).values():
        assert pod(job)["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
        assert "securityContext" not in locust(job)


def test_security_contexts_from_the_cr() -> None:
    pod_context = {"runAsNonRoot": True, "fsGroup": 1000}
    container_context = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    security = {"podSecurityContext": pod_context, "containerSecurityContext": container_context}
    for job in jobs(locust_test(security=security)).values():
        assert pod(job)["securityContext"] == pod_context
        assert locust(job)["securityContext"] == container_context


# --- metrics exporter ----------------------------------------------------------------------


def test_metrics_exporter_is_a_native_sidecar_of_the_master_only() -> None:
    built = jobs(locust_test())
    (sidecar,) = pod(built["master"])["initContainers"]
    assert sidecar == {
        "name": "locust-metrics-exporter",
        "image": "containersol/locust_exporter:v0.5.0",
        "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "ports": [{"name": "metrics", "containerPort": 9646, "protocol": "TCP"}],
        "env": [
            {"name": "LOCUST_EXPORTER_URI", "value": "http://localhost:8089"},
            {"name": "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", "value": ":9646"},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "30M"},
            "limits": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "50M"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
    }
    assert len(pod(built["master"])["containers"]) == 1
    assert "initContainers" not in pod(built["worker"])


def test_metrics_exporter_follows_the_operator_config() -> None:
    exporter = MetricsExporterConfig(
        image="registry/exporter:1",
        port=9100,
        pull_policy="Never",
        resources=ResourceDefaults(memory_limit="32Mi"),
    )
    master = jobs(locust_test(), OperatorConfig(metrics_exporter=exporter))["master"]
    (sidecar,) = pod(master)["initContainers"]
    assert (sidecar["image"], sidecar["imagePullPolicy"]) == ("registry/exporter:1", "Never")
    assert sidecar["ports"][0]["containerPort"] == 9100
    assert sidecar["env"][1] == {"name": "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", "value": ":9100"}
    assert sidecar["resources"] == {"limits": {"memory": "32Mi"}}
    assert pod_metadata(master)["annotations"]["prometheus.io/port"] == "9100"


def test_prometheus_annotations_on_the_master_pod_only() -> None:
    built = jobs(locust_test())
    assert pod_metadata(built["master"])["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/path": "/metrics",
        "prometheus.io/port": "9646",
    }
    assert "annotations" not in pod_metadata(built["worker"])


def test_open_telemetry_replaces_the_exporter_and_its_annotations() -> None:
    for job in jobs(locust_test(observability=OTEL)).values():
        assert "initContainers" not in pod(job)
        assert "annotations" not in pod_metadata(job)
