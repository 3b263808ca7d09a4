"""locust.io/v2 LocustTest: the served, stored and hub version of the API."""

# prop() returns dataclasses.field(...), which ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lightkube.models import core_v1

from .common import (
    NAME_LENGTH_RULE,
    NAME_START_RULE,
    PullPolicy,
    api_version_prop,
    kind_prop,
    metadata_prop,
)
from .dns_names import DNS1123_LABEL, DNS1123_SUBDOMAIN_PATTERN
from .placement import (
    RoleScheduling,
    Spread,
    pod_template_patch_prop,
    priority_class_prop,
    spread_constraints_prop,
)
from .reserved import (
    DEFAULT_LIB_MOUNT_PATH,
    DEFAULT_SRC_MOUNT_PATH,
    LIB_VOLUME_NAME,
    MANAGED_FLAG_REGEX,
    MASTER_SUFFIX,
    OPERATOR_MANAGED_FLAGS,
    SECRET_VOLUME_PREFIX,
    WORKER_SUFFIX,
)
from .schema import (
    Constraints,
    K8sObject,
    Rule,
    object_rules,
    prop,
)
from .sources import (
    TEST_FILES_RULES,
    ArchiveSource,
    Dependencies,
    GitSource,
    archive_prop,
    dependencies_prop,
    git_prop,
)
from .status import LocustTestStatus
from .thresholds import Threshold, thresholds_prop

MountTarget = Literal["master", "worker", "both"]
OtelProtocol = Literal["grpc", "http/protobuf"]

# Limits on the lists and strings the CEL rules iterate and compare, which keep the rules'
# estimated cost within the apiserver's budget. Far beyond any real manifest.
MAX_EXTRA_ARGS = 128
MAX_ARG_LENGTH = 4096
MAX_VOLUMES = 128
MAX_VOLUME_MOUNTS = 128
MAX_SECRET_MOUNTS = 64
MAX_PATH_LENGTH = 1024
MAX_VOLUME_NAME_LENGTH = 63  # a DNS-1123 label, as Kubernetes requires for volume names
DNS1123_LABEL_PATTERN = f"^{DNS1123_LABEL}$"  # volume names
OPTIONAL_NAME_PATTERN = f"^$|{DNS1123_SUBDOMAIN_PATTERN}"  # '' means unset, as in v1
MAX_OBJECT_NAME_LENGTH = 253  # ConfigMap / Secret names are DNS-1123 subdomains
MIN_WORKERS = 1
MAX_WORKERS = 500

# Empty: explicit opt-out of the operator's default RuntimeClass.
RUNTIME_CLASS_NAME_PATTERN = "^$|" + DNS1123_SUBDOMAIN_PATTERN


# --- CEL helpers --------------------------------------------------------------------------


def _dir(expr: str) -> str:
    """CEL: the path with exactly one trailing '/' appended unless it already has one."""
    return f"({expr}.endsWith('/') ? {expr} : {expr} + '/')"


def _paths_conflict(a: str, b: str) -> str:
    """CEL: path a equals, contains or lies inside path b (ignoring one trailing slash)."""
    return f"({_dir(a)}.startsWith({_dir(b)}) || {_dir(b)}.startsWith({_dir(a)}))"


def _mount_rules(items: str, items_label: str) -> tuple[Rule, ...]:
    rules = []
    for ref, path_field, default, what in (
        ("configMapRef", "srcMountPath", DEFAULT_SRC_MOUNT_PATH, "test files"),
        ("libConfigMapRef", "libMountPath", DEFAULT_LIB_MOUNT_PATH, "lib files"),
    ):
        # Defaults apply before CEL runs, so the path is set whenever testFiles exists.
        reserved = f"self.testFiles.{path_field}"
        in_use = (
            f"has(self.testFiles) && has(self.testFiles.{ref}) "
            f"&& size(self.testFiles.{ref}) > 0 && has({reserved})"
        )
        container = items.rpartition(".")[0]
        present = f"has(self.{items})"
        if container:
            present = f"has(self.{container}) && {present}"
        rules.append(
            Rule(
                rule=(
                    f"!({in_use}) || !({present}) || "
                    f"self.{items}.all(m, !{_paths_conflict('m.mountPath', reserved)})"
                ),
                message=(
                    f"{items_label}[].mountPath must not equal, contain or lie inside "
                    f"testFiles.{path_field} (default {default}), where the operator mounts the "
                    f"{what} from testFiles.{ref}; choose a different mountPath"
                ),
                field_path=f".{items}",
                reason="FieldValueInvalid",
            )
        )
    return tuple(rules)


_FLAGS = ", ".join(OPERATOR_MANAGED_FLAGS)
_EXTRA_ARGS = Constraints(
    max_length=MAX_ARG_LENGTH,
    rules=(
        Rule(
            rule=f"!self.matches('{MANAGED_FLAG_REGEX}')",
            message=(
                f"extraArgs must not set operator-managed flags ({_FLAGS}); use "
                "spec.master.autostart, spec.master.autoquit and spec.worker.replicas instead, "
                "the rest are set by the operator"
            ),
            reason="FieldValueForbidden",
        ),
    ),
)


# --- master / worker ------------------------------------------------------------------------


@dataclass(kw_only=True)
class Autoquit:
    """Automatic shutdown of the master (Locust --autoquit) once the test has finished."""

    enabled: bool = prop("Pass --autoquit to the master.", default=True)
    timeout: int = prop(
        "Seconds to wait after the test finished before quitting (--autoquit <timeout>).",
        default=60,
        minimum=0,
        format="int32",
    )


def _extra_args_prop() -> Any:
    """The extraArgs field, the same for master and workers."""
    return prop(
        "Extra command-line arguments appended after the command and the operator-managed "
        f"flags. Must not contain operator-managed flags ({_FLAGS}).",
        max_items=MAX_EXTRA_ARGS,
        items=_EXTRA_ARGS,
    )


@dataclass(kw_only=True)
class MasterSpec:
    """Configuration of the Locust master pod."""

    command: str = prop(
        "Locust command seed for the master, e.g. '--locustfile /lotest/src/test.py --host "
        "https://example.com'. The operator appends the master flags (--master, "
        "--master-port, --expect-workers, --autostart, --autoquit).",
        required=True,
    )
    resources: K8sObject | None = prop(
        "Compute resources of the master container; overrides the operator's defaults.",
        k8s=core_v1.ResourceRequirements,
    )
    labels: dict[str, str] | None = prop("Extra labels for the master pod.")
    annotations: dict[str, str] | None = prop("Extra annotations for the master pod.")
    autostart: bool = prop(
        "Start the test as soon as the expected workers are connected (--autostart). Set to "
        "false to start it from the web UI.",
        default=True,
    )
    autoquit: Autoquit = prop(
        "Quit the master after the test finished (--autoquit). Applies only with autostart: "
        "Locust does not accept --autoquit for a test started from the web UI.",
        default_factory=Autoquit,
    )
    extra_args: list[str] | None = _extra_args_prop()
    scheduling: RoleScheduling | None = prop(
        "Placement of the master pod, merged over spec.scheduling (see RoleScheduling)."
    )
    pod_template_patch: K8sObject | None = pod_template_patch_prop("master")


@dataclass(kw_only=True)
class WorkerSpec:
    """Configuration of the Locust worker pods."""

    command: str = prop(
        "Locust command seed for the workers, e.g. '--locustfile /lotest/src/test.py'. The "
        "operator appends the worker flags (--worker, --master-host, --master-port).",
        required=True,
    )
    replicas: int = prop(
        f"Number of worker pods ({MIN_WORKERS} to {MAX_WORKERS}).",
        required=True,
        minimum=MIN_WORKERS,
        maximum=MAX_WORKERS,
        format="int32",
    )
    resources: K8sObject | None = prop(
        "Compute resources of each worker container; overrides the operator's defaults.",
        k8s=core_v1.ResourceRequirements,
    )
    labels: dict[str, str] | None = prop("Extra labels for the worker pods.")
    annotations: dict[str, str] | None = prop("Extra annotations for the worker pods.")
    extra_args: list[str] | None = _extra_args_prop()
    scheduling: RoleScheduling | None = prop(
        "Placement of the worker pods, merged over spec.scheduling (see RoleScheduling)."
    )
    spread: Spread | None = prop(
        "Spread the workers evenly across nodes or zones: a topology spread constraint "
        "(kubernetes.io/hostname or topology.kubernetes.io/zone, maxSkew 1, DoNotSchedule, "
        "honouring the workers' node selection and taints) on the test's worker pods. A "
        "worker that cannot be placed without exceeding the skew stays Pending."
    )
    pod_template_patch: K8sObject | None = pod_template_patch_prop("worker")


# --- test files, scheduling, env -------------------------------------------------------------


@object_rules(*TEST_FILES_RULES)
@dataclass(kw_only=True)
class TestFiles:
    """Where the locustfile(s) and library files come from and where they are mounted."""

    __test__ = False  # not a pytest test class despite the name

    config_map_ref: str | None = prop(
        "Name of the ConfigMap holding the locustfile(s), mounted at srcMountPath.",
        max_length=MAX_OBJECT_NAME_LENGTH,
        pattern=OPTIONAL_NAME_PATTERN,
    )
    lib_config_map_ref: str | None = prop(
        "Name of the ConfigMap holding library files, mounted at libMountPath.",
        max_length=MAX_OBJECT_NAME_LENGTH,
        pattern=OPTIONAL_NAME_PATTERN,
    )
    git: GitSource | None = git_prop()
    archive: ArchiveSource | None = archive_prop()
    dependencies: Dependencies | None = dependencies_prop()
    src_mount_path: str = prop(
        "Mount path of the test files (used when configMapRef is set).",
        default=DEFAULT_SRC_MOUNT_PATH,
        max_length=MAX_PATH_LENGTH,
    )
    lib_mount_path: str = prop(
        "Mount path of the library files (used when libConfigMapRef is set).",
        default=DEFAULT_LIB_MOUNT_PATH,
        max_length=MAX_PATH_LENGTH,
    )


@dataclass(kw_only=True)
class Scheduling:
    """Pod placement of the master and worker pods; master.scheduling and
    worker.scheduling are merged over it per role."""

    affinity: K8sObject | None = prop(
        "Affinity rules of the master and worker pods.", k8s=core_v1.Affinity
    )
    tolerations: list[K8sObject] | None = prop(
        "Tolerations of the master and worker pods.", k8s=core_v1.Toleration
    )
    node_selector: dict[str, str] | None = prop(
        "Node labels the master and worker pods must be scheduled on."
    )
    runtime_class_name: str | None = prop(
        "RuntimeClass of the master and worker pods (a DNS-1123 subdomain). Omit it to use "
        "the operator's default; set it to the empty string to opt out of that default.",
        max_length=MAX_OBJECT_NAME_LENGTH,
        pattern=RUNTIME_CLASS_NAME_PATTERN,
    )
    topology_spread_constraints: list[K8sObject] | None = spread_constraints_prop(
        "the master and worker pods (master.scheduling and worker.scheduling replace one "
        "with the same topologyKey and whenUnsatisfiable)"
    )
    priority_class_name: str | None = priority_class_prop(
        "the master and worker pods (master.scheduling and worker.scheduling override it)"
    )


@dataclass(kw_only=True)
class ConfigMapEnvSource:
    """A ConfigMap whose keys are all injected as environment variables."""

    name: str = prop(
        "Name of the ConfigMap.",
        required=True,
        max_length=MAX_OBJECT_NAME_LENGTH,
        pattern=DNS1123_SUBDOMAIN_PATTERN,
    )
    prefix: str | None = prop("Prefix prepended to every variable name.")


@dataclass(kw_only=True)
class SecretEnvSource:
    """A Secret whose keys are all injected as environment variables."""

    name: str = prop(
        "Name of the Secret.",
        required=True,
        max_length=MAX_OBJECT_NAME_LENGTH,
        pattern=DNS1123_SUBDOMAIN_PATTERN,
    )
    prefix: str | None = prop("Prefix prepended to every variable name.")


@dataclass(kw_only=True)
class SecretMount:
    """A Secret mounted as files into the master and worker containers."""

    name: str = prop(
        "Name of the Secret to mount.",
        required=True,
        max_length=MAX_OBJECT_NAME_LENGTH,
        pattern=DNS1123_SUBDOMAIN_PATTERN,
    )
    mount_path: str = prop(
        "Absolute directory the Secret's keys appear in as files. Must not overlap the "
        "test-file or lib mount paths.",
        required=True,
        max_length=MAX_PATH_LENGTH,
    )
    read_only: bool = prop("Mount the Secret read-only.", default=True)


@dataclass(kw_only=True)
class EnvConfig:
    """Environment variables injected into the master and worker containers."""

    config_map_refs: list[ConfigMapEnvSource] | None = prop(
        "ConfigMaps whose keys are all injected as environment variables."
    )
    secret_refs: list[SecretEnvSource] | None = prop(
        "Secrets whose keys are all injected as environment variables."
    )
    variables: list[K8sObject] | None = prop(
        "Individual environment variables (values or references).", k8s=core_v1.EnvVar
    )
    secret_mounts: list[SecretMount] | None = prop(
        "Secrets mounted as files.", max_items=MAX_SECRET_MOUNTS
    )


@dataclass(kw_only=True)
class MountTargetExtension:
    """Fields a LocustTest adds to a core/v1 VolumeMount."""

    target: MountTarget = prop("Which pods get this mount: master, worker or both.", default="both")


@dataclass(kw_only=True)
class SecurityConfig:
    """Security contexts of the master and worker pods and their Locust containers."""

    pod_security_context: K8sObject | None = prop(
        "Pod-level security context; replaces the operator's default.",
        k8s=core_v1.PodSecurityContext,
    )
    container_security_context: K8sObject | None = prop(
        "Security context of the Locust container; replaces the operator's default.",
        k8s=core_v1.SecurityContext,
    )


@object_rules(
    Rule(
        rule=(
            "!has(self.enabled) || !self.enabled || (has(self.endpoint) && size(self.endpoint) > 0)"
        ),
        message=(
            "observability.openTelemetry.endpoint is required when OpenTelemetry is enabled; "
            "set the collector endpoint (e.g. otel-collector.monitoring:4317) or set enabled: false"
        ),
        field_path=".endpoint",
        reason="FieldValueRequired",
    )
)
@dataclass(kw_only=True)
class OpenTelemetry:
    """Native Locust OpenTelemetry export (replaces the metrics exporter sidecar)."""

    enabled: bool = prop("Enable OpenTelemetry export (--otel).", default=False)
    endpoint: str | None = prop(
        "OTLP collector endpoint, e.g. otel-collector.monitoring:4317. Required when enabled."
    )
    protocol: OtelProtocol = prop("OTLP protocol: grpc or http/protobuf.", default="grpc")
    insecure: bool = prop("Connect to the collector without TLS.", default=False)
    extra_env_vars: dict[str, str] | None = prop(
        "Extra OTEL_* environment variables for the OpenTelemetry SDK."
    )


@dataclass(kw_only=True)
class Observability:
    """Metrics and tracing."""

    open_telemetry: OpenTelemetry | None = prop("OpenTelemetry configuration.")


# --- spec and root ---------------------------------------------------------------------------


_VOLUME_NAME_RULES = Constraints(
    rules=(
        Rule(
            rule=f"!self.name.startsWith('{SECRET_VOLUME_PREFIX}')",
            message=(
                f"volume names starting with '{SECRET_VOLUME_PREFIX}' are reserved for the "
                "volumes the operator creates for env.secretMounts; rename the volume"
            ),
            field_path=".name",
            reason="FieldValueInvalid",
        ),
        Rule(
            rule=f"self.name != '{LIB_VOLUME_NAME}'",
            message=(
                f"the volume name '{LIB_VOLUME_NAME}' is reserved for the operator's lib "
                "ConfigMap volume; rename the volume"
            ),
            field_path=".name",
            reason="FieldValueInvalid",
        ),
    )
)

_SPEC_RULES = (
    Rule(
        rule=(
            "!has(self.volumeMounts) || self.volumeMounts.all(m, "
            "has(self.volumes) && self.volumes.exists(v, v.name == m.name))"
        ),
        message=(
            "every volumeMounts[].name must name a volume declared in spec.volumes; add the "
            "volume to spec.volumes or fix the mount's name"
        ),
        field_path=".volumeMounts",
        reason="FieldValueInvalid",
    ),
    *_mount_rules("volumeMounts", "volumeMounts"),
    *_mount_rules("env.secretMounts", "env.secretMounts"),
)


@object_rules(*_SPEC_RULES)
@dataclass(kw_only=True)
class LocustTestSpec:
    """LocustTestSpec is the desired state of a distributed Locust load test."""

    image: str = prop("Container image of the Locust master and workers.", required=True)
    image_pull_policy: PullPolicy = prop(
        "Image pull policy of the Locust containers.", default="IfNotPresent"
    )
    image_pull_secrets: list[K8sObject] | None = prop(
        "Secrets for pulling the image from a private registry.",
        k8s=core_v1.LocalObjectReference,
    )
    master: MasterSpec = prop("The Locust master.", required=True)
    worker: WorkerSpec = prop("The Locust workers.", required=True)
    test_files: TestFiles | None = prop("ConfigMaps holding the locustfile(s) and libraries.")
    scheduling: Scheduling | None = prop("Pod placement.")
    env: EnvConfig | None = prop("Environment variables and Secret files.")
    volumes: list[K8sObject] | None = prop(
        "Extra volumes for the pods. Names starting with 'secret-', 'locust-lib', "
        "'<name>-master' and '<name>-worker' are reserved by the operator.",
        k8s=core_v1.Volume,
        k8s_overrides={
            "name": {"maxLength": MAX_VOLUME_NAME_LENGTH, "pattern": DNS1123_LABEL_PATTERN}
        },
        max_items=MAX_VOLUMES,
        items=_VOLUME_NAME_RULES,
    )
    volume_mounts: list[K8sObject] | None = prop(
        "Mounts of the extra volumes into the Locust container, each with a target (master, "
        "worker or both).",
        k8s=core_v1.VolumeMount,
        k8s_extra=MountTargetExtension,
        k8s_overrides={
            "name": {"maxLength": MAX_VOLUME_NAME_LENGTH},
            "mountPath": {"maxLength": MAX_PATH_LENGTH},
        },
        max_items=MAX_VOLUME_MOUNTS,
    )
    security: SecurityConfig | None = prop("Security contexts.")
    observability: Observability | None = prop("Metrics and tracing.")
    thresholds: list[Threshold] | None = thresholds_prop()


_NAME_COLLISION_RULE = Rule(
    rule=(
        "!has(self.spec) || !has(self.spec.volumes) || !has(self.metadata.name) || "
        "self.spec.volumes.all(v, "
        f"v.name != self.metadata.name + '{MASTER_SUFFIX}' && "
        f"v.name != self.metadata.name + '{WORKER_SUFFIX}')"
    ),
    message=(
        f"volume names '<name>{MASTER_SUFFIX}' and '<name>{WORKER_SUFFIX}' are reserved for the "
        "operator's test-file volumes; rename the volume"
    ),
    field_path=".spec.volumes",
    reason="FieldValueInvalid",
)


@object_rules(NAME_LENGTH_RULE, NAME_START_RULE, _NAME_COLLISION_RULE)
@dataclass(kw_only=True)
class LocustTest:
    """LocustTest runs a distributed Locust load test: one master Job and a worker Job."""

    api_version: str | None = api_version_prop()
    kind: str | None = kind_prop()
    metadata: K8sObject | None = metadata_prop()
    spec: LocustTestSpec = prop("Desired state of the load test.", required=True)
    status: LocustTestStatus | None = prop("Observed state of the load test.")
