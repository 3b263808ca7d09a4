from __future__ import annotations

from decimal import Decimal

import pytest

from locust_operator.config import (
    METRICS_EXPORTER_DEFAULTS,
    UNIFIED_POD_DEFAULTS,
    ConfigError,
    KafkaConfig,
    MetricsExporterConfig,
    OperatorConfig,
    ResourceDefaults,
    parse_quantity,
)

# variable suffix -> ResourceDefaults field
RESOURCE_SUFFIXES = {
    "CPU_REQUEST": "cpu_request",
    "MEM_REQUEST": "memory_request",
    "EPHEMERAL_REQUEST": "ephemeral_storage_request",
    "CPU_LIMIT": "cpu_limit",
    "MEM_LIMIT": "memory_limit",
    "EPHEMERAL_LIMIT": "ephemeral_storage_limit",
}
RESOURCE_FAMILIES = {
    "POD_": "pod_resources",
    "MASTER_POD_": "master_resources",
    "WORKER_POD_": "worker_resources",
}
# Per family, values between its default requests and limits, so no pairing error.
VALID_QUANTITIES = {"CPU": "500m", "MEM": "256Mi", "EPHEMERAL": "40M"}
VALID_EXPORTER_QUANTITIES = {"CPU": "200m", "MEM": "100Mi", "EPHEMERAL": "40M"}


def config_error(env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        OperatorConfig.from_env(env)
    return caught.value


def resource_fields(config: OperatorConfig, family: str) -> ResourceDefaults:
    if family == "METRICS_EXPORTER_":
        return config.metrics_exporter.resources
    resources: ResourceDefaults = getattr(config, RESOURCE_FAMILIES[family])
    return resources


def quantity_for(family: str, suffix: str) -> str:
    table = VALID_EXPORTER_QUANTITIES if family == "METRICS_EXPORTER_" else VALID_QUANTITIES
    return table[suffix.split("_")[0]]


# --- defaults ------------------------------------------------------------------------------


def test_empty_environment_gives_the_defaults() -> None:
    assert OperatorConfig.from_env({}) == OperatorConfig()


def test_reference_defaults() -> None:
    config = OperatorConfig()
    assert config.pod_resources.requirements() == {
        "requests": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "30M"},
        "limits": {"cpu": "1000m", "memory": "1024Mi", "ephemeral-storage": "50M"},
    }
    assert config.master_resources == config.worker_resources == ResourceDefaults()
    assert config.job_ttl_seconds_after_finished is None
    assert config.metrics_exporter == MetricsExporterConfig(
        image="containersol/locust_exporter:v0.5.0",
        port=9646,
        pull_policy="IfNotPresent",
        resources=METRICS_EXPORTER_DEFAULTS,
    )
    assert METRICS_EXPORTER_DEFAULTS.requirements() == {
        "requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "30M"},
        "limits": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "50M"},
    }
    assert not config.kafka.enabled
    assert config.enable_affinity_cr_injection is True
    assert config.enable_taint_tolerations_cr_injection is True
    assert config.default_runtime_class_name is None
    assert config.pod_health_grace_period_seconds == 120
    assert config.max_concurrent_reconciles == 16
    assert config.resync_period_seconds == 30


def test_empty_values_count_as_unset() -> None:
    names = [
        f"{family}{suffix}"
        for family in (*RESOURCE_FAMILIES, "METRICS_EXPORTER_")
        for suffix in RESOURCE_SUFFIXES
    ] + [
        "JOB_TTL_SECONDS_AFTER_FINISHED",
        "METRICS_EXPORTER_IMAGE",
        "METRICS_EXPORTER_PORT",
        "METRICS_EXPORTER_IMAGE_PULL_POLICY",
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_SECURITY_ENABLED",
        "ENABLE_AFFINITY_CR_INJECTION",
        "ENABLE_TAINT_TOLERATIONS_CR_INJECTION",
        "DEFAULT_RUNTIME_CLASS_NAME",
        "POD_HEALTH_GRACE_PERIOD_SECONDS",
        "MAX_CONCURRENT_RECONCILES",
        "RESYNC_PERIOD_SECONDS",
    ]
    assert OperatorConfig.from_env(dict.fromkeys(names, "")) == OperatorConfig()


# --- resource quantities -------------------------------------------------------------------


@pytest.mark.parametrize("family", [*RESOURCE_FAMILIES, "METRICS_EXPORTER_"])
@pytest.mark.parametrize("suffix", list(RESOURCE_SUFFIXES))
def test_each_resource_variable_is_read(family: str, suffix: str) -> None:
    value = quantity_for(family, suffix)
    config = OperatorConfig.from_env({family + suffix: value})
    assert getattr(resource_fields(config, family), RESOURCE_SUFFIXES[suffix]) == value


@pytest.mark.parametrize("family", [*RESOURCE_FAMILIES, "METRICS_EXPORTER_"])
@pytest.mark.parametrize("suffix", list(RESOURCE_SUFFIXES))
@pytest.mark.parametrize("bad", ["lots", "1.5.0", "-1", "10 Mi", "1mi"])
def test_each_resource_variable_rejects_non_quantities(family: str, suffix: str, bad: str) -> None:
    error = config_error({family + suffix: bad})
    assert error.variable == family + suffix
    assert family + suffix in str(error)
    assert repr(bad) in str(error)
    assert "Kubernetes quantity" in str(error)


@pytest.mark.parametrize("family", [*RESOURCE_FAMILIES, "METRICS_EXPORTER_"])
@pytest.mark.parametrize("kind", ["REQUEST", "LIMIT"])
def test_ephemeral_storage_alias(family: str, kind: str) -> None:
    value = quantity_for(family, "EPHEMERAL")
    config = OperatorConfig.from_env({f"{family}EPHEMERAL_STORAGE_{kind}": value})
    field = f"ephemeral_storage_{kind.lower()}"
    assert getattr(resource_fields(config, family), field) == value
    same = {f"{family}EPHEMERAL_{kind}": value, f"{family}EPHEMERAL_STORAGE_{kind}": value}
    assert OperatorConfig.from_env(same) == config
    error = config_error({**same, f"{family}EPHEMERAL_STORAGE_{kind}": "41M"})
    assert error.variable == f"{family}EPHEMERAL_{kind}"
    assert f"{family}EPHEMERAL_STORAGE_{kind}" in str(error)


def test_surrounding_whitespace_is_ignored_in_quantities() -> None:
    assert OperatorConfig.from_env({"POD_CPU_LIMIT": " 2 \n"}).pod_resources.cpu_limit == "2"


def test_role_resources_fall_back_field_by_field() -> None:
    config = OperatorConfig.from_env(
        {"MASTER_POD_CPU_REQUEST": "500m", "WORKER_POD_MEM_LIMIT": "2Gi", "POD_CPU_LIMIT": "2"}
    )
    assert config.locust_resources("master") == ResourceDefaults(
        cpu_request="500m",
        memory_request="128Mi",
        ephemeral_storage_request="30M",
        cpu_limit="2",
        memory_limit="1024Mi",
        ephemeral_storage_limit="50M",
    )
    assert config.locust_resources("worker").memory_limit == "2Gi"
    assert config.locust_resources("worker").cpu_request == "250m"


def test_limit_below_request_in_the_unified_defaults() -> None:
    error = config_error({"POD_CPU_REQUEST": "2", "POD_CPU_LIMIT": "1"})
    assert error.variable == "POD_CPU_LIMIT"
    assert "POD_CPU_LIMIT='1'" in str(error)
    assert "POD_CPU_REQUEST='2'" in str(error)
    assert "at least its request" in str(error)


def test_limit_below_a_default_request_names_both() -> None:
    error = config_error({"POD_MEM_LIMIT": "64Mi"})
    assert error.variable == "POD_MEM_LIMIT"
    assert "POD_MEM_REQUEST (default)='128Mi'" in str(error)


@pytest.mark.parametrize("role", ["MASTER", "WORKER"])
def test_role_limit_below_the_unified_request(role: str) -> None:
    error = config_error({f"{role}_POD_CPU_LIMIT": "100m"})
    assert error.variable == f"{role}_POD_CPU_LIMIT"
    assert "POD_CPU_REQUEST (default)='250m'" in str(error)


@pytest.mark.parametrize("role", ["MASTER", "WORKER"])
def test_role_request_above_the_unified_limit(role: str) -> None:
    error = config_error({f"{role}_POD_EPHEMERAL_REQUEST": "1G"})
    assert error.variable == f"{role}_POD_EPHEMERAL_REQUEST"
    assert "POD_EPHEMERAL_LIMIT (default)='50M'" in str(error)


def test_role_overrides_can_fix_a_unified_pairing() -> None:
    env = {"POD_CPU_REQUEST": "4", "POD_CPU_LIMIT": "8", "MASTER_POD_CPU_LIMIT": "4"}
    assert OperatorConfig.from_env(env).locust_resources("master").cpu_limit == "4"


def test_metrics_exporter_limit_below_request() -> None:
    error = config_error({"METRICS_EXPORTER_MEM_REQUEST": "1Gi"})
    assert error.variable == "METRICS_EXPORTER_MEM_REQUEST"
    assert "METRICS_EXPORTER_MEM_LIMIT (default)='128Mi'" in str(error)


def test_equal_limit_and_request_in_different_units() -> None:
    env = {"POD_MEM_REQUEST": "1Gi", "POD_MEM_LIMIT": "1024Mi", "POD_CPU_LIMIT": "0.25"}
    assert OperatorConfig.from_env(env).pod_resources.memory_limit == "1024Mi"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Decimal("0.25")),
        ("1", Decimal(1)),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("1.", Decimal(1)),
        ("+2", Decimal(2)),
        ("-1", Decimal(-1)),
        ("128Mi", Decimal(128 * 1024**2)),
        ("1Gi", Decimal(1024**3)),
        ("2Ki", Decimal(2048)),
        ("1Ti", Decimal(1024**4)),
        ("1Pi", Decimal(1024**5)),
        ("1Ei", Decimal(1024**6)),
        ("30M", Decimal(30 * 10**6)),
        ("1k", Decimal(1000)),
        ("1G", Decimal(10**9)),
        ("1T", Decimal(10**12)),
        ("1P", Decimal(10**15)),
        ("1E", Decimal(10**18)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("5e-3", Decimal("0.005")),
        ("12e+2", Decimal(1200)),
    ],
)
def test_parse_quantity(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", "m", "Mi", "1K", "1mi", "1 Mi", "1e", "e3", "1.2.3", "--1", "0x10", "1Mi "]
)
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)


def test_resource_requirements_skip_unset_values() -> None:
    assert ResourceDefaults().requirements() == {}
    assert ResourceDefaults(memory_limit="1Gi").requirements() == {"limits": {"memory": "1Gi"}}
    assert UNIFIED_POD_DEFAULTS.or_else(ResourceDefaults()) == UNIFIED_POD_DEFAULTS


# --- job TTL -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "ttl"), [("0", 0), ("3600", 3600), (" 60 ", 60)])
def test_job_ttl(value: str, ttl: int) -> None:
    config = OperatorConfig.from_env({"JOB_TTL_SECONDS_AFTER_FINISHED": value})
    assert config.job_ttl_seconds_after_finished == ttl


@pytest.mark.parametrize("bad", ["-1", "1h", "1.5", "ten", "²"])
def test_job_ttl_rejects(bad: str) -> None:
    error = config_error({"JOB_TTL_SECONDS_AFTER_FINISHED": bad})
    assert error.variable == "JOB_TTL_SECONDS_AFTER_FINISHED"
    assert "an integer >= 0" in str(error)
    assert repr(bad) in str(error)


# --- metrics exporter ----------------------------------------------------------------------


def test_metrics_exporter_settings() -> None:
    config = OperatorConfig.from_env(
        {
            "METRICS_EXPORTER_IMAGE": "registry.local/exporter:1",
            "METRICS_EXPORTER_PORT": "9100",
            "METRICS_EXPORTER_IMAGE_PULL_POLICY": "Never",
        }
    )
    exporter = config.metrics_exporter
    assert (exporter.image, exporter.port, exporter.pull_policy) == (
        "registry.local/exporter:1",
        9100,
        "Never",
    )


@pytest.mark.parametrize("port", ["1", "65535"])
def test_metrics_exporter_port_bounds(port: str) -> None:
    assert OperatorConfig.from_env({"METRICS_EXPORTER_PORT": port}).metrics_exporter.port == int(
        port
    )


@pytest.mark.parametrize("bad", ["0", "65536", "http", "-80"])
def test_metrics_exporter_port_rejects(bad: str) -> None:
    error = config_error({"METRICS_EXPORTER_PORT": bad})
    assert error.variable == "METRICS_EXPORTER_PORT"
    assert "an integer from 1 to 65535" in str(error)


@pytest.mark.parametrize("policy", ["Always", "IfNotPresent", "Never"])
def test_metrics_exporter_pull_policies(policy: str) -> None:
    config = OperatorConfig.from_env({"METRICS_EXPORTER_IMAGE_PULL_POLICY": policy})
    assert config.metrics_exporter.pull_policy == policy


@pytest.mark.parametrize("bad", ["always", "Sometimes"])
def test_metrics_exporter_pull_policy_rejects(bad: str) -> None:
    error = config_error({"METRICS_EXPORTER_IMAGE_PULL_POLICY": bad})
    assert error.variable == "METRICS_EXPORTER_IMAGE_PULL_POLICY"
    assert "Always, IfNotPresent, Never" in str(error)


# --- Kafka ---------------------------------------------------------------------------------


def test_kafka_settings() -> None:
    config = OperatorConfig.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka-0:9092,kafka-1:9092",
            "KAFKA_SECURITY_ENABLED": "true",
            "KAFKA_SECURITY_PROTOCOL_CONFIG": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "PLAIN",
            "KAFKA_SASL_JAAS_CONFIG": "org.apache.kafka...;",
            "KAFKA_USERNAME": "locust",
            "KAFKA_PASSWORD": "hunter2",
        }
    )
    assert config.kafka == KafkaConfig(
        bootstrap_servers="kafka-0:9092,kafka-1:9092",
        security_enabled=True,
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_jaas_config="org.apache.kafka...;",
        username="locust",
        password="hunter2",
    )
    assert config.kafka.enabled
    assert "hunter2" not in repr(config)


def test_kafka_defaults_and_disabled_without_bootstrap_servers() -> None:
    kafka = OperatorConfig.from_env({"KAFKA_USERNAME": "locust"}).kafka
    assert not kafka.enabled
    assert (kafka.security_protocol, kafka.sasl_mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert kafka.security_enabled is False


def test_kafka_security_enabled_must_be_boolean() -> None:
    error = config_error({"KAFKA_SECURITY_ENABLED": "sometimes"})
    assert error.variable == "KAFKA_SECURITY_ENABLED"
    assert "a boolean" in str(error)


# --- switches ------------------------------------------------------------------------------

SWITCHES = {
    "ENABLE_AFFINITY_CR_INJECTION": "enable_affinity_cr_injection",
    "ENABLE_TAINT_TOLERATIONS_CR_INJECTION": "enable_taint_tolerations_cr_injection",
    "KAFKA_SECURITY_ENABLED": None,
}


@pytest.mark.parametrize("variable", [v for v, f in SWITCHES.items() if f])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        (" false\n", False),
    ],
)
def test_boolean_switches(variable: str, value: str, expected: bool) -> None:
    config = OperatorConfig.from_env({variable: value})
    assert getattr(config, str(SWITCHES[variable])) is expected


@pytest.mark.parametrize("variable", list(SWITCHES))
@pytest.mark.parametrize("bad", ["maybe", "2", "enabled"])
def test_boolean_switches_reject(variable: str, bad: str) -> None:
    error = config_error({variable: bad})
    assert error.variable == variable
    assert f"{variable}={bad!r} is invalid: expected a boolean" in str(error)


# --- runtime class -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gvisor", "kata-qemu", "runtime.example.com", "a" * 253])
def test_default_runtime_class(name: str) -> None:
    config = OperatorConfig.from_env({"DEFAULT_RUNTIME_CLASS_NAME": name})
    assert config.default_runtime_class_name == name


@pytest.mark.parametrize("bad", ["gVisor_Sandbox", "-kata", "kata-", "a..b", "a" * 254, "kata "])
def test_default_runtime_class_rejects(bad: str) -> None:
    error = config_error({"DEFAULT_RUNTIME_CLASS_NAME": bad})
    assert error.variable == "DEFAULT_RUNTIME_CLASS_NAME"
    assert "DNS-1123 subdomain" in str(error)


# --- controller knobs ----------------------------------------------------------------------

KNOBS = {
    "POD_HEALTH_GRACE_PERIOD_SECONDS": ("pod_health_grace_period_seconds", 0),
    "MAX_CONCURRENT_RECONCILES": ("max_concurrent_reconciles", 1),
    "RESYNC_PERIOD_SECONDS": ("resync_period_seconds", 1),
}


@pytest.mark.parametrize("variable", list(KNOBS))
def test_controller_knobs(variable: str) -> None:
    field, minimum = KNOBS[variable]
    assert getattr(OperatorConfig.from_env({variable: "17"}), field) == 17
    assert getattr(OperatorConfig.from_env({variable: str(minimum)}), field) == minimum


@pytest.mark.parametrize("variable", list(KNOBS))
def test_controller_knobs_reject(variable: str) -> None:
    _, minimum = KNOBS[variable]
    for bad in (str(minimum - 1), "soon", "2.5"):
        error = config_error({variable: bad})
        assert error.variable == variable
        assert f"an integer >= {minimum}" in str(error)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)
