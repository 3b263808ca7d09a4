"""The master Service: workers reach the master through it, users the web UI."""

from __future__ import annotations

from typing import Any, cast

from lightkube.resources.core_v1 import Service

from locust_operator.config import OperatorConfig

from .labels import selector_labels
from .metadata import child_metadata
from .names import MASTER, master_service_name
from .ports import (
    MASTER_PORT,
    MASTER_PORT_NAME,
    METRICS_SERVICE_PORT_NAME,
    WEB_UI_PORT,
    WEB_UI_PORT_NAME,
)
from .source import LocustTestSource


def _port(name: str, port: int) -> dict[str, Any]:
    return {"name": name, "protocol": "TCP", "port": port, "targetPort": port}


def master_service(source: LocustTestSource, config: OperatorConfig) -> Service:
    ports = [_port(MASTER_PORT_NAME, MASTER_PORT), _port(WEB_UI_PORT_NAME, WEB_UI_PORT)]
    if source.otel is None:
        ports.append(_port(METRICS_SERVICE_PORT_NAME, config.metrics_exporter.port))
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(source, master_service_name(source.name), MASTER),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(source.name, MASTER),
            "ports": ports,
        },
    }
    # from_dict is typed as returning its mixin base.
    return cast(Service, Service.from_dict(manifest))
