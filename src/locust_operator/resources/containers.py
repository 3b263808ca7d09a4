"""The Locust container of each role and the master's metrics exporter sidecar."""

from __future__ import annotations

from typing import Any

from locust_operator.config import OperatorConfig, Role

from .command import master_args, worker_args
from .env import container_env, env_from
from .names import MASTER, child_name
from .ports import METRICS_PORT_NAME, WEB_UI_PORT, container_port, master_container_ports
from .source import LocustTestSource
from .volumes import volume_mounts

Container = dict[str, Any]
METRICS_EXPORTER_CONTAINER_NAME = "locust-metrics-exporter"


def locust_resources(
    source: LocustTestSource, config: OperatorConfig, role: Role
) -> dict[str, Any]:
    """The CR's resources as given when it sets any (a complete override, as in the
    reference); otherwise the operator's defaults for the role."""
    role_spec = source.spec.master if role == MASTER else source.spec.worker
    given = role_spec.resources or {}
    if any(given.get(key) for key in ("requests", "limits", "claims")):
        return dict(given)
    return config.locust_resources(role).requirements()


def locust_container(source: LocustTestSource, config: OperatorConfig, role: Role) -> Container:
    spec = source.spec
    otel = source.otel
    container: Container = {
        "name": child_name(source.name, role),
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        "args": (
            master_args(spec, otel is not None)
            if role == MASTER
            else worker_args(spec, source.name, otel is not None)
        ),
    }
    optional: dict[str, Any] = {
        "ports": master_container_ports() if role == MASTER else [],
        "envFrom": env_from(spec),
        "env": container_env(spec, config.kafka, otel),
        "volumeMounts": volume_mounts(spec, source.name, role),
        "resources": locust_resources(source, config, role),
        "securityContext": spec.security.container_security_context if spec.security else None,
    }
    container.update({key: value for key, value in optional.items() if value})
    return container


def metrics_exporter_sidecar(config: OperatorConfig) -> Container:
    """A native sidecar (an init container that keeps running): it does not keep the master
    pod alive once Locust exits, so the master Job can complete."""
    exporter = config.metrics_exporter
    container: Container = {
        "name": METRICS_EXPORTER_CONTAINER_NAME,
        "image": exporter.image,
        "imagePullPolicy": exporter.pull_policy,
        "restartPolicy": "Always",
        "ports": [container_port(METRICS_PORT_NAME, exporter.port)],
        "env": [
            {"name": "LOCUST_EXPORTER_URI", "value": f"http://localhost:{WEB_UI_PORT}"},
            {"name": "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", "value": f":{exporter.port}"},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
    }
    resources = exporter.resources.requirements()
    if resources:
        container["resources"] = resources
    return container
