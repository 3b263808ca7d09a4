from __future__ import annotations

from typing import Any

from locust_operator.config import KafkaConfig, OperatorConfig

from .helpers import env, env_names, jobs, locust, locust_test

KAFKA_NAMES = [
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_ENABLED",
    "KAFKA_SECURITY_PROTOCOL_CONFIG",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_JAAS_CONFIG",
    "KAFKA_USERNAME",
    "KAFKA_PASSWORD",
]
ENV = {
    "configMapRefs": [{"name": "app-config", "prefix": "APP_"}, {"name": "more"}],
    "secretRefs": [{"name": "api-credentials"}, {"name": "tokens", "prefix": "TOKEN_"}],
    "variables": [
        {"name": "TARGET_HOST", "value": "https://api.example.com"},
        {"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}}},
    ],
}


def containers(test: dict[str, Any], config: OperatorConfig | None = None) -> list[dict[str, Any]]:
    return [locust(job) for job in jobs(test, config).values()]


def test_no_env_by_default() -> None:
    for container in containers(locust_test()):
        assert "env" not in container
        assert "envFrom" not in container


def test_env_from_config_maps_then_secrets_with_prefixes() -> None:
    for container in containers(locust_test(env=ENV)):
        assert container["envFrom"] == [
            {"configMapRef": {"name": "app-config"}, "prefix": "APP_"},
            {"configMapRef": {"name": "more"}},
            {"secretRef": {"name": "api-credentials"}},
            {"secretRef": {"name": "tokens"}, "prefix": "TOKEN_"},
        ]


def test_variables_are_passed_as_given_in_order() -> None:
    for container in containers(locust_test(env=ENV)):
        assert container["env"] == [
            {"name": "TARGET_HOST", "value": "https://api.example.com"},
            {
                "name": "LOG_LEVEL",
                "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}},
            },
        ]


def test_lib_config_map_puts_its_path_on_pythonpath() -> None:
    files = {"configMapRef": "scripts", "libConfigMapRef": "lib", "libMountPath": "/opt/mylib"}
    for container in containers(locust_test(testFiles=files)):
        assert env(container)["PYTHONPATH"] == "/opt/mylib"


def test_no_pythonpath_without_lib() -> None:
    for container in containers(locust_test()):
        assert "PYTHONPATH" not in env(container)


def test_user_variables_override_operator_ones_without_duplicates() -> None:
    files = {"configMapRef": "scripts", "libConfigMapRef": "lib"}
    variables = {"variables": [{"name": "PYTHONPATH", "value": "/mine"}]}
    for container in containers(locust_test(testFiles=files, env=variables)):
        assert env_names(container) == ["PYTHONPATH"]
        assert env(container)["PYTHONPATH"] == "/mine"


def test_open_telemetry_env() -> None:
    otel = {
        "enabled": True,
        "endpoint": "otel-collector.monitoring:4317",
        "protocol": "http/protobuf",
        "insecure": True,
        "extraEnvVars": {"OTEL_Z": "z", "OTEL_RESOURCE_ATTRIBUTES": "service.name=locust"},
    }
    for container in containers(locust_test(observability={"openTelemetry": otel})):
        assert container["env"] == [
            {"name": "OTEL_TRACES_EXPORTER", "value": "otlp"},
            {"name": "OTEL_METRICS_EXPORTER", "value": "otlp"},
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "otel-collector.monitoring:4317"},
            {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "http/protobuf"},
            {"name": "OTEL_EXPORTER_OTLP_INSECURE", "value": "true"},
            {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "service.name=locust"},
            {"name": "OTEL_Z", "value": "z"},
        ]


def test_open_telemetry_secure_by_default_and_grpc() -> None:
    otel = {"enabled": True, "endpoint": "collector:4317"}
    for container in containers(locust_test(observability={"openTelemetry": otel})):
        variables = env(container)
        assert variables["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
        assert "OTEL_EXPORTER_OTLP_INSECURE" not in variables


def test_open_telemetry_disabled_sets_nothing() -> None:
    otel = {"enabled": False, "endpoint": "collector:4317", "extraEnvVars": {"OTEL_X": "1"}}
    for container in containers(locust_test(observability={"openTelemetry": otel})):
        assert "env" not in container


def test_kafka_env_only_when_configured() -> None:
    for container in containers(locust_test()):
        assert not set(KAFKA_NAMES) & set(env(container))
    kafka = KafkaConfig(
        bootstrap_servers="kafka:9092",
        security_enabled=True,
        sasl_jaas_config="jaas",
        username="user",
        password="secret",
    )
    for container in containers(locust_test(env=ENV), OperatorConfig(kafka=kafka)):
        assert env_names(container)[: len(KAFKA_NAMES)] == KAFKA_NAMES
        variables = env(container)
        assert variables["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert variables["KAFKA_SECURITY_ENABLED"] == "true"
        assert variables["KAFKA_SECURITY_PROTOCOL_CONFIG"] == "SASL_PLAINTEXT"
        assert variables["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert variables["KAFKA_SASL_JAAS_CONFIG"] == "jaas"
        assert (variables["KAFKA_USERNAME"], variables["KAFKA_PASSWORD"]) == ("user", "secret")
        assert env_names(container)[-2:] == ["TARGET_HOST", "LOG_LEVEL"]
