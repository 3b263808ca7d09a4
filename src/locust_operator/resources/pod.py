"""The pod template of each role's Job."""

from __future__ import annotations

from typing import Any

from locust_operator.config import OperatorConfig, Role

from .containers import locust_container, locust_resources, metrics_exporter_sidecar
from .fetcher import source_fetcher
from .labels import pod_annotations, pod_labels, prometheus_annotations
from .names import MASTER, child_name
from .placement import scheduling
from .pod_patch import apply_pod_template_patch
from .source import LocustTestSource
from .volumes import volumes

DEFAULT_POD_SECURITY_CONTEXT = {"seccompProfile": {"type": "RuntimeDefault"}}


def _exports_to_prometheus(source: LocustTestSource, role: Role) -> bool:
    """Without OpenTelemetry, the master's stats reach Prometheus through the exporter
    sidecar (workers have no stats of their own to export)."""
    return role == MASTER and source.otel is None


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
        "initContainers": [
            *source_fetcher(spec, config, locust_resources(source, config, role)),
            *([metrics_exporter_sidecar(config)] if prometheus else []),
        ],
        "containers": [locust_container(source, config, role)],
        "volumes": volumes(spec, source.name, role),
        **scheduling(source, config, role),
        "securityContext": security or DEFAULT_POD_SECURITY_CONTEXT,
    }
    template = {"metadata": metadata, "spec": {k: v for k, v in pod_spec.items() if v}}
    # Last, so that the patch sees (and may adjust) everything the operator built.
    return apply_pod_template_patch(
        template,
        role_spec.pod_template_patch,
        field=f"spec.{role}.podTemplatePatch",
        role=role,
        locust_container=child_name(source.name, role),
    )
