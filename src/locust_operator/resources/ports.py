"""Ports of the Locust master (workers listen on none)."""

from __future__ import annotations

from typing import Any

MASTER_PORT = 5557  # workers connect here
WEB_UI_PORT = 8089
MASTER_PORT_NAME = "master"
WEB_UI_PORT_NAME = "web-ui"
METRICS_PORT_NAME = "metrics"  # container port names are at most 15 characters
METRICS_SERVICE_PORT_NAME = "prometheus-metrics"  # the reference's Service port name


def container_port(name: str, port: int) -> dict[str, Any]:
    return {"name": name, "containerPort": port, "protocol": "TCP"}


def master_container_ports() -> list[dict[str, Any]]:
    return [
        container_port(MASTER_PORT_NAME, MASTER_PORT),
        container_port(WEB_UI_PORT_NAME, WEB_UI_PORT),
    ]
