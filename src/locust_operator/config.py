"""Operator configuration, read once at startup from environment variables.

The variable names are the reference operator's (its Go ``LoadConfig`` and the env block of its
Helm chart), so an existing installation's settings keep working. Defaults are what a reference
installation gets from its chart, where the chart and the binary disagree (CR affinity and
toleration injection on; metrics exporter pulled IfNotPresent with the chart's smaller
resources). Deviations: Kafka variables reach the pods only when KAFKA_BOOTSTRAP_SERVERS is set
(the reference always injects them, pointing at localhost:9092), and every value is validated:
a bad one stops the operator instead of being silently replaced by its default.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from locust_operator.api.dns_names import is_dns1123_subdomain

Role = Literal["master", "worker"]

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})


class ConfigError(ValueError):
    """An environment variable holds a value the operator cannot use."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable


def _invalid(variable: str, value: str, expected: str) -> ConfigError:
    return ConfigError(variable, f"{variable}={value!r} is invalid: expected {expected}")


# --- Kubernetes quantities -------------------------------------------------------------------

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<exponent>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]))?"
)
_SUFFIX_FACTORS = {
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    **{
        binary: Decimal(1024) ** (i + 1)
        for i, binary in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))
    },
}


def parse_quantity(text: str) -> Decimal:
    """The value of a Kubernetes quantity ('250m', '1Gi', '1e3'); ValueError if malformed."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    value = Decimal(match["number"])
    if match["exponent"]:
        return value.scaleb(int(match["exponent"][1:]))
    if match["suffix"]:
        return value * _SUFFIX_FACTORS[match["suffix"]]
    return value


# --- configuration types ---------------------------------------------------------------------

# (field, resource name, variable suffixes). The reference spells ephemeral storage
# EPHEMERAL; the longer EPHEMERAL_STORAGE is accepted as an alias.
_RESOURCE_FIELDS = (
    ("cpu_request", "cpu", ("CPU_REQUEST",)),
    ("memory_request", "memory", ("MEM_REQUEST",)),
    (
        "ephemeral_storage_request",
        "ephemeral-storage",
        ("EPHEMERAL_REQUEST", "EPHEMERAL_STORAGE_REQUEST"),
    ),
    ("cpu_limit", "cpu", ("CPU_LIMIT",)),
    ("memory_limit", "memory", ("MEM_LIMIT",)),
    (
        "ephemeral_storage_limit",
        "ephemeral-storage",
        ("EPHEMERAL_LIMIT", "EPHEMERAL_STORAGE_LIMIT"),
    ),
)
_REQUEST_LIMIT_PAIRS = (
    ("cpu_request", "cpu_limit"),
    ("memory_request", "memory_limit"),
    ("ephemeral_storage_request", "ephemeral_storage_limit"),
)


@dataclass(frozen=True)
class ResourceDefaults:
    """Default requests and limits of one container (quantity strings; None = not set)."""

    cpu_request: str | None = None
    memory_request: str | None = None
    ephemeral_storage_request: str | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None
    ephemeral_storage_limit: str | None = None

    def or_else(self, fallback: ResourceDefaults) -> ResourceDefaults:
        """These values, each unset one taken from ``fallback``."""
        return ResourceDefaults(
            **{
                f.name: getattr(self, f.name) or getattr(fallback, f.name)
                for f in dataclasses.fields(self)
            }
        )

    def requirements(self) -> dict[str, dict[str, str]]:
        """A core/v1 ResourceRequirements dict with only the values that are set."""
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        for field, resource, _ in _RESOURCE_FIELDS:
            value = getattr(self, field)
            if value is not None:
                (requests if field.endswith("_request") else limits)[resource] = value
        return {key: value for key, value in (("requests", requests), ("limits", limits)) if value}


UNIFIED_POD_DEFAULTS = ResourceDefaults(
    cpu_request="250m",
    memory_request="128Mi",
    ephemeral_storage_request="30M",
    cpu_limit="1000m",
    memory_limit="1024Mi",
    ephemeral_storage_limit="50M",
)
METRICS_EXPORTER_DEFAULTS = ResourceDefaults(
    cpu_request="100m",
    memory_request="64Mi",
    ephemeral_storage_request="30M",
    cpu_limit="250m",
    memory_limit="128Mi",
    ephemeral_storage_limit="50M",
)


@dataclass(frozen=True)
class MetricsExporterConfig:
    """The Prometheus exporter sidecar of the master pod (used when OpenTelemetry is off)."""

    image: str = "containersol/locust_exporter:v0.5.0"
    port: int = 9646
    pull_policy: str = "IfNotPresent"
    resources: ResourceDefaults = METRICS_EXPORTER_DEFAULTS


@dataclass(frozen=True)
class KafkaConfig:
    """Kafka settings passed to the Locust containers as environment variables."""

    bootstrap_servers: str | None = None
    security_enabled: bool = False
    security_protocol: str = "SASL_PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_jaas_config: str = ""
    username: str = ""
    # Kept out of repr so that logging the configuration does not leak it.
    password: str = dataclasses.field(default="", repr=False)
    # KAFKA_PASSWORD_SECRET=<secret>/<key>: the pods read the password from that Secret of
    # the test's namespace (env valueFrom secretKeyRef) instead of a plain-text value.
    password_secret: tuple[str, str] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.bootstrap_servers)


@dataclass(frozen=True)
class SourceFetcherConfig:
    """The init container that fetches a git or archive test source (resources/fetcher.py)."""

    image: str = "localhost/locust-source-fetcher:v1"
    pull_policy: str = "IfNotPresent"
    # The largest archive download, unpacked archive or checkout it accepts.
    max_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class OperatorConfig:
    """Everything the operator is configured with; the defaults are the reference's."""

    pod_resources: ResourceDefaults = UNIFIED_POD_DEFAULTS
    master_resources: ResourceDefaults = ResourceDefaults()
    worker_resources: ResourceDefaults = ResourceDefaults()
    job_ttl_seconds_after_finished: int | None = None
    metrics_exporter: MetricsExporterConfig = MetricsExporterConfig()
    kafka: KafkaConfig = KafkaConfig()
    source_fetcher: SourceFetcherConfig = SourceFetcherConfig()
    enable_affinity_cr_injection: bool = True
    enable_taint_tolerations_cr_injection: bool = True
    default_runtime_class_name: str | None = None
    pod_health_grace_period_seconds: int = 120
    max_concurrent_reconciles: int = 16
    resync_period_seconds: int = 30
    # Results (controller/results_poller.py): how often a running test's master is read,
    # how it is reached (auto: direct in a pod, else the API server's service proxy), and
    # how long a master that will not quit by itself must stay stopped to end its test.
    results_interval_seconds: int = 10
    results_master_access: str = "auto"
    results_stopped_timeout_seconds: int = 60

    def locust_resources(self, role: Role) -> ResourceDefaults:
        """Default resources of a role's Locust container: role-specific values, each unset
        one falling back to the unified pod defaults."""
        specific = self.master_resources if role == "master" else self.worker_resources
        return specific.or_else(self.pod_resources)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OperatorConfig:
        """Read the configuration; ConfigError names the first variable that is wrong."""
        return _load(_Env(env))


# --- reading the environment -----------------------------------------------------------------


_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def _secret_key_ref(env: _Env, name: str, plain: str) -> tuple[str, str] | None:
    """``<secret>/<key>`` as (secret, key); ConfigError naming ``name`` (and ``plain`` when
    both are set) otherwise."""
    from locust_operator.api.dns_names import is_dns1123_subdomain

    value = env.raw(name)
    if value is None:
        return None
    if env.raw(plain) is not None:
        raise ConfigError(
            name, f"{name} and {plain} are both set; keep {name} (the Secret) and unset {plain}"
        )
    secret, _, key = value.partition("/")
    if not is_dns1123_subdomain(secret) or len(key) > 253 or not _SECRET_KEY.fullmatch(key):
        raise _invalid(
            name,
            value,
            "<secret>/<key>: the name of a Secret in each test's namespace and the key "
            "holding the password, e.g. kafka-credentials/password",
        )
    return secret, key


class _Env:
    """Typed access to the variables; an empty value counts as unset, as in the reference."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def raw(self, name: str) -> str | None:
        value = self._env.get(name)
        return value if value else None

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise _invalid(name, value, "a boolean (true or false)")

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        parsed = self.optional_integer(name, minimum, maximum)
        return default if parsed is None else parsed

    def optional_integer(
        self, name: str, minimum: int = 0, maximum: int | None = None
    ) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if maximum is None:
            expected = f"an integer >= {minimum}"
        else:
            expected = f"an integer from {minimum} to {maximum}"
        if not re.fullmatch(r"[0-9]+", value.strip()):
            raise _invalid(name, value, expected)
        number = int(value.strip())
        if number < minimum or (maximum is not None and number > maximum):
            raise _invalid(name, value, expected)
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.strip() not in choices:
            raise _invalid(name, value, "one of " + ", ".join(choices))
        return value.strip()

    def dns_subdomain(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if not is_dns1123_subdomain(value):
            raise _invalid(
                name,
                value,
                "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and "
                "ending with a letter or digit, at most 253 characters)",
            )
        return value

    def set_name(self, names: tuple[str, ...]) -> str | None:
        """The first of ``names`` that is set; ConfigError if aliases disagree."""
        found = [name for name in names if self.raw(name) is not None]
        values = {self.raw(name) for name in found}
        if len(values) > 1:
            raise ConfigError(
                found[0],
                f"{' and '.join(found)} are both set, to different values; set only {names[0]}",
            )
        return found[0] if found else None

    def quantity(self, name: str) -> str:
        value = self.raw(name) or ""
        try:
            if parse_quantity(value.strip()) >= 0:
                return value.strip()
        except ValueError:
            pass
        raise _invalid(
            name, value, "a non-negative Kubernetes quantity such as 250m, 1, 512Mi or 1G"
        )


def _resource_variables(prefix: str) -> dict[str, tuple[str, ...]]:
    return {field: tuple(prefix + s for s in suffixes) for field, _, suffixes in _RESOURCE_FIELDS}


def _read_resources(env: _Env, prefix: str, defaults: ResourceDefaults) -> ResourceDefaults:
    values: dict[str, str | None] = {}
    for field, names in _resource_variables(prefix).items():
        name = env.set_name(names)
        values[field] = env.quantity(name) if name else getattr(defaults, field)
    return ResourceDefaults(**values)


def _check_limits(env: _Env, resources: ResourceDefaults, prefixes: tuple[str, ...]) -> None:
    """Reject a limit below its request. ``prefixes`` are the variable families the values
    come from, most specific first: the error names the variables that set them and blames
    the most specific one that is actually set."""

    def source(field: str) -> tuple[int, str]:
        """(rank: family index, or len(prefixes) for a default; variable name)."""
        for rank, prefix in enumerate(prefixes):
            name = env.set_name(_resource_variables(prefix)[field])
            if name:
                return rank, name
        return len(prefixes), _resource_variables(prefixes[-1])[field][0]

    def describe(rank: int, name: str) -> str:
        return name + (" (default)" if rank == len(prefixes) else "")

    for request_field, limit_field in _REQUEST_LIMIT_PAIRS:
        request, limit = getattr(resources, request_field), getattr(resources, limit_field)
        if request is None or limit is None or parse_quantity(limit) >= parse_quantity(request):
            continue
        limit_source, request_source = source(limit_field), source(request_field)
        # min() keeps the limit on a tie.
        _, blamed = min(limit_source, request_source, key=lambda ranked: ranked[0])
        raise ConfigError(
            blamed,
            f"{describe(*limit_source)}={limit!r} is below {describe(*request_source)}="
            f"{request!r}: a limit must be at least its request; raise the limit or lower the "
            "request",
        )


def _byte_size(env: _Env, name: str, default: int) -> int:
    """A size in bytes written as a quantity (512Mi, 1G, 1000000); at least 1 KiB."""
    value = env.raw(name)
    if value is None:
        return default
    try:
        size = parse_quantity(value.strip())
    except ValueError:
        size = Decimal(-1)
    if size < 1024:
        raise _invalid(name, value, "a size of at least 1Ki, such as 256Mi or 1Gi")
    return int(size)


def _load(env: _Env) -> OperatorConfig:
    pod = _read_resources(env, "POD_", UNIFIED_POD_DEFAULTS)
    master = _read_resources(env, "MASTER_POD_", ResourceDefaults())
    worker = _read_resources(env, "WORKER_POD_", ResourceDefaults())
    exporter = _read_resources(env, "METRICS_EXPORTER_", METRICS_EXPORTER_DEFAULTS)
    _check_limits(env, pod, ("POD_",))
    _check_limits(env, master.or_else(pod), ("MASTER_POD_", "POD_"))
    _check_limits(env, worker.or_else(pod), ("WORKER_POD_", "POD_"))
    _check_limits(env, exporter, ("METRICS_EXPORTER_",))
    return OperatorConfig(
        pod_resources=pod,
        master_resources=master,
        worker_resources=worker,
        job_ttl_seconds_after_finished=env.optional_integer("JOB_TTL_SECONDS_AFTER_FINISHED"),
        metrics_exporter=MetricsExporterConfig(
            image=env.text("METRICS_EXPORTER_IMAGE", MetricsExporterConfig.image),
            port=env.integer("METRICS_EXPORTER_PORT", MetricsExporterConfig.port, 1, 65535),
            pull_policy=env.choice(
                "METRICS_EXPORTER_IMAGE_PULL_POLICY",
                MetricsExporterConfig.pull_policy,
                PULL_POLICIES,
            ),
            resources=exporter,
        ),
        kafka=KafkaConfig(
            bootstrap_servers=env.raw("KAFKA_BOOTSTRAP_SERVERS"),
            security_enabled=env.boolean("KAFKA_SECURITY_ENABLED", KafkaConfig.security_enabled),
            security_protocol=env.text(
                "KAFKA_SECURITY_PROTOCOL_CONFIG", KafkaConfig.security_protocol
            ),
            sasl_mechanism=env.text("KAFKA_SASL_MECHANISM", KafkaConfig.sasl_mechanism),
            sasl_jaas_config=env.text("KAFKA_SASL_JAAS_CONFIG", ""),
            username=env.text("KAFKA_USERNAME", ""),
            password=env.text("KAFKA_PASSWORD", ""),
            password_secret=_secret_key_ref(env, "KAFKA_PASSWORD_SECRET", "KAFKA_PASSWORD"),
        ),
        source_fetcher=SourceFetcherConfig(
            image=env.text("TEST_SOURCE_FETCHER_IMAGE", SourceFetcherConfig.image),
            pull_policy=env.choice(
                "TEST_SOURCE_FETCHER_IMAGE_PULL_POLICY",
                SourceFetcherConfig.pull_policy,
                PULL_POLICIES,
            ),
            max_bytes=_byte_size(env, "TEST_SOURCE_MAX_SIZE", SourceFetcherConfig.max_bytes),
        ),
        enable_affinity_cr_injection=env.boolean(
            "ENABLE_AFFINITY_CR_INJECTION", OperatorConfig.enable_affinity_cr_injection
        ),
        enable_taint_tolerations_cr_injection=env.boolean(
            "ENABLE_TAINT_TOLERATIONS_CR_INJECTION",
            OperatorConfig.enable_taint_tolerations_cr_injection,
        ),
        default_runtime_class_name=env.dns_subdomain("DEFAULT_RUNTIME_CLASS_NAME"),
        pod_health_grace_period_seconds=env.integer(
            "POD_HEALTH_GRACE_PERIOD_SECONDS", OperatorConfig.pod_health_grace_period_seconds
        ),
        max_concurrent_reconciles=env.integer(
            "MAX_CONCURRENT_RECONCILES", OperatorConfig.max_concurrent_reconciles, minimum=1
        ),
        resync_period_seconds=env.integer(
            "RESYNC_PERIOD_SECONDS", OperatorConfig.resync_period_seconds, minimum=1
        ),
        results_interval_seconds=env.integer(
            "RESULTS_INTERVAL_SECONDS", OperatorConfig.results_interval_seconds, 1, 3600
        ),
        results_master_access=env.choice(
            "RESULTS_MASTER_ACCESS",
            OperatorConfig.results_master_access,
            ("auto", "direct", "proxy", "off"),
        ),
        results_stopped_timeout_seconds=env.integer(
            "RESULTS_STOPPED_TIMEOUT_SECONDS",
            OperatorConfig.results_stopped_timeout_seconds,
            minimum=1,
        ),
    )
