"""The pod template of each role's Job."""

from __future__ import annotations

from typing import Any

from locust_operator.config import OperatorConfig, Role

from .containers import locust_container, metrics_exporter_sidecar
from .labels import pod_annotations, pod_labels, prometheus_annotations
from .names import MASTER
from .source import LocustTestSource
from .volumes import volumes

DEFAULT_POD_SECURITY_CONTEXT = {"seccompProfile": {"type": "RuntimeDefault"}}


def _exports_to_prometheus(source: LocustTestSource, role: Role) -> bool:
    """Without OpenTelemetry, the master's stats reach Prometheus through the exporter
    sidecar (workers have no stats of their own to export)."""
    return role == MASTER and source.otel is None


def runtime_class_name(source: LocustTestSource, config: OperatorConfig) -> str | None:
    """The CR's RuntimeClass, else the operator's default; '' in the CR opts out of it."""
    scheduling = source.spec.scheduling
    chosen = scheduling.runtime_class_name if scheduling else None
    if chosen is None:
        chosen = config.default_runtime_class_name
    return chosen or None


def scheduling(source: LocustTestSource, config: OperatorConfig) -> dict[str, Any]:
    """Node selector always; affinity and tolerations only where the operator allows them."""
    spec = source.spec.scheduling
    if spec is None:
        return {"runtimeClassName": runtime_class_name(source, config)}
    return {
        "affinity": spec.affinity if config.enable_affinity_cr_injection else None,
        "tolerations": spec.tolerations if config.enable_taint_tolerations_cr_injection else None,
        "nodeSelector": spec.node_selector,
        "runtimeClassName": runtime_class_name(source, config),
    }


def pod_template(source: LocustTestSource, config: OperatorConfig, role: Role) -> dict[str, Any]:
    spec = source.spec
    role_spec = spec.master if role == MASTER else spec.worker
    prometheus = _exports_to_prometheus(source, role)
    operator_annotations = (
        prometheus_annotations(config.metrics_exporter.port) if prometheus else {}
    )
    metadata: dict[str, Any] = {"labels": pod_labels(source.name, role, role_spec.labels)}
    annotations = pod_annotations(operator_annotations, role_spec.annotations)
    if annotations:
        metadata["annotations"] = annotations
    security = spec.security.pod_security_context if spec.security else None
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "imagePullSecrets": spec.image_pull_secrets,
        "initContainers": [metrics_exporter_sidecar(config)] if prometheus else None,
        "containers": [locust_container(source, config, role)],
        "volumes": volumes(spec, source.name, role),
        **scheduling(source, config),
        "securityContext": security or DEFAULT_POD_SECURITY_CONTEXT,
    }
    return {"metadata": metadata, "spec": {k: v for k, v in pod_spec.items() if v}}
