from __future__ import annotations

from typing import Any

from locust_operator.config import MetricsExporterConfig, OperatorConfig
from locust_operator.resources import build_children

from .helpers import jobs, locust_test, pod_metadata

OTEL = {"openTelemetry": {"enabled": True, "endpoint": "collector:4317"}}


def service(test: dict[str, Any], config: OperatorConfig | None = None) -> dict[str, Any]:
    built: dict[str, Any] = build_children(test, config or OperatorConfig()).service.to_dict()
    return built


def ports(svc: dict[str, Any]) -> dict[str, tuple[int, Any]]:
    return {p["name"]: (p["port"], p["targetPort"]) for p in svc["spec"]["ports"]}


def test_master_service_is_a_cluster_ip_named_after_the_test() -> None:
    svc = service(locust_test())
    assert svc["kind"] == "Service"
    assert svc["metadata"]["name"] == "demo-master"
    assert svc["metadata"]["namespace"] == "load"
    assert svc["spec"]["type"] == "ClusterIP"


def test_service_exposes_the_master_port_web_ui_and_metrics() -> None:
    svc = service(locust_test())
    assert ports(svc) == {
        "master": (5557, 5557),
        "web-ui": (8089, 8089),  # kubectl port-forward svc/<name>-master 8089:8089
        "prometheus-metrics": (9646, 9646),
    }
    assert {p["protocol"] for p in svc["spec"]["ports"]} == {"TCP"}


def test_metrics_port_follows_the_operator_config() -> None:
    config = OperatorConfig(metrics_exporter=MetricsExporterConfig(port=9999))
    assert ports(service(locust_test(), config))["prometheus-metrics"] == (9999, 9999)


def test_no_metrics_port_when_open_telemetry_is_on() -> None:
    assert set(ports(service(locust_test(observability=OTEL)))) == {"master", "web-ui"}


def test_service_selects_exactly_the_master_pod() -> None:
    test = locust_test()
    selector = service(test)["spec"]["selector"]
    assert selector["performance-test-pod-name"] == "demo-master"
    assert selector["performance-test-name"] == "demo"
    built = jobs(test)
    assert selector.items() <= pod_metadata(built["master"])["labels"].items()
    assert not selector.items() <= pod_metadata(built["worker"])["labels"].items()
