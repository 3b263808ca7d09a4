"""Environment of the Locust containers: envFrom sources and variables."""

from __future__ import annotations

from typing import Any

from locust_operator.api import v2
from locust_operator.config import KafkaConfig

from .fetcher import source_python_path

EnvVar = dict[str, Any]


def env_from(spec: v2.LocustTestSpec) -> list[dict[str, Any]]:
    """ConfigMaps, then Secrets, each with its optional name prefix."""
    if spec.env is None:
        return []
    sources: list[dict[str, Any]] = []
    for kind, refs in (
        ("configMapRef", spec.env.config_map_refs or []),
        ("secretRef", spec.env.secret_refs or []),
    ):
        for ref in refs:
            source: dict[str, Any] = {kind: {"name": ref.name}}
            if ref.prefix:
                source["prefix"] = ref.prefix
            sources.append(source)
    return sources


def kafka_env(kafka: KafkaConfig) -> list[EnvVar]:
    """The reference's Kafka variables, only when Kafka is configured."""
    if not kafka.enabled:
        return []
    values = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers or "",
        "KAFKA_SECURITY_ENABLED": "true" if kafka.security_enabled else "false",
        "KAFKA_SECURITY_PROTOCOL_CONFIG": kafka.security_protocol,
        "KAFKA_SASL_MECHANISM": kafka.sasl_mechanism,
        "KAFKA_SASL_JAAS_CONFIG": kafka.sasl_jaas_config,
        "KAFKA_USERNAME": kafka.username,
        "KAFKA_PASSWORD": kafka.password,
    }
    variables: list[EnvVar] = [{"name": name, "value": value} for name, value in values.items()]
    if kafka.password_secret is not None:
        # The password never appears in the Job: the kubelet reads it from the Secret.
        secret, key = kafka.password_secret
        variables[-1] = {
            "name": "KAFKA_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
        }
    return variables


def otel_env(otel: v2.OpenTelemetry | None) -> list[EnvVar]:
    """OpenTelemetry SDK settings when it is enabled; extraEnvVars sorted for determinism."""
    if otel is None:
        return []
    values = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otel.endpoint or "",
        "OTEL_EXPORTER_OTLP_PROTOCOL": otel.protocol,
    }
    if otel.insecure:
        values["OTEL_EXPORTER_OTLP_INSECURE"] = "true"
    extra = otel.extra_env_vars or {}
    values.update({name: extra[name] for name in sorted(extra)})
    return [{"name": name, "value": value} for name, value in values.items()]


def python_path_env(spec: v2.LocustTestSpec) -> list[EnvVar]:
    """Locust does not put the lib ConfigMap's directory on sys.path; without this
    `import mylib` fails on the workers."""
    files = spec.test_files
    paths = [files.lib_mount_path] if files and files.lib_config_map_ref else []
    paths += source_python_path(spec)  # a git or archive source's dependencies
    return [{"name": "PYTHONPATH", "value": ":".join(paths)}] if paths else []


def user_env(spec: v2.LocustTestSpec) -> list[EnvVar]:
    return [dict(variable) for variable in (spec.env.variables or [])] if spec.env else []


def container_env(
    spec: v2.LocustTestSpec, kafka: KafkaConfig, otel: v2.OpenTelemetry | None
) -> list[EnvVar]:
    """Operator variables first, the user's last. A name set twice keeps only its last
    definition, so users can override the operator's and the apiserver sees no duplicates."""
    variables = kafka_env(kafka) + otel_env(otel) + python_path_env(spec) + user_env(spec)
    last = {variable["name"]: index for index, variable in enumerate(variables)}
    return [v for index, v in enumerate(variables) if last[v["name"]] == index]
