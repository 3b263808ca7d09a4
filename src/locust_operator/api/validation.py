"""Semantic validation of LocustTest objects for the validating admission webhook.

The CRD's schema and CEL rules (see :mod:`.v2`) reject most of this already; the webhook
repeats every rule with a precise message (naming the offending value and the fix) and adds
what CEL cannot do cheaply, such as path normalisation ('/a//b/./c').

Mount-path conflicts: the operator mounts ``testFiles.srcMountPath`` only when
``testFiles.configMapRef`` is set and ``testFiles.libMountPath`` only when
``testFiles.libConfigMapRef`` is set, so a path conflicts only with mounts that are in use.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import names
from .conversion import ConversionError, convert_v1_to_v2
from .defaults import apply_defaults_v2
from .object_names import object_name_errors
from .placement import check_placement
from .reserved import (
    LIB_VOLUME_NAME,
    MASTER_SUFFIX,
    MAX_RESOURCE_NAME_LENGTH,
    MAX_TEST_NAME_LENGTH,
    OPERATOR_MANAGED_FLAGS,
    SECRET_VOLUME_PREFIX,
    WORKER_SUFFIX,
    managed_flag,
)
from .schema import matches
from .sources import fetched, source_errors
from .thresholds import threshold_errors
from .v2 import MAX_OBJECT_NAME_LENGTH, MAX_WORKERS, MIN_WORKERS, RUNTIME_CLASS_NAME_PATTERN

# Kubernetes truncates generateName to this many characters before appending 5 random ones.
_GENERATE_NAME_PREFIX = 58
_GENERATED_SUFFIX = 5

# v1 objects are validated as their v2 conversion; report the fields the v1 user wrote.
_V1_FIELD_NAMES = {
    "spec.worker.replicas": "spec.workerReplicas",
    "spec.master.command": "spec.masterCommandSeed",
    "spec.worker.command": "spec.workerCommandSeed",
}


@dataclass(frozen=True)
class FieldError:
    """A problem with one field: ``field`` is its path, ``message`` what is wrong and the fix."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _normalize(path: str) -> str:
    return posixpath.normpath(path) if path else path


def paths_conflict(a: str, b: str) -> bool:
    """Whether path ``a`` equals, contains or lies inside path ``b``."""
    a, b = _normalize(a), _normalize(b)
    if a == b:
        return True
    return b.startswith(a.rstrip("/") + "/") or a.startswith(b.rstrip("/") + "/")


def _check_name(metadata: Mapping[str, Any]) -> Iterator[FieldError]:
    name = metadata.get("name")
    if isinstance(name, str) and name:
        if not name[0].isascii() or not name[0].isalpha():
            yield FieldError(
                "metadata.name",
                f"name {name!r} must start with a letter: the operator names its Service "
                f"'<name>{MASTER_SUFFIX}', and Service names must begin with a letter; rename "
                "the test (e.g. 'run-1' instead of '1-run')",
            )
        if len(name) > MAX_TEST_NAME_LENGTH:
            yield FieldError(
                "metadata.name",
                f"name {name!r} is {len(name)} characters long; the operator names its "
                f"Service and Jobs '<name>{MASTER_SUFFIX}' and '<name>{WORKER_SUFFIX}', which "
                f"must fit in {MAX_RESOURCE_NAME_LENGTH} characters: use a name of at most "
                f"{MAX_TEST_NAME_LENGTH} characters",
            )
        return
    prefix = metadata.get("generateName")
    if isinstance(prefix, str) and prefix:
        length = len(prefix[:_GENERATE_NAME_PREFIX]) + _GENERATED_SUFFIX
        if length > MAX_TEST_NAME_LENGTH:
            limit = MAX_TEST_NAME_LENGTH - _GENERATED_SUFFIX
            yield FieldError(
                "metadata.generateName",
                f"generateName {prefix!r} yields {length}-character names; the operator's "
                f"'<name>{MASTER_SUFFIX}' / '<name>{WORKER_SUFFIX}' resources must fit in "
                f"{MAX_RESOURCE_NAME_LENGTH} characters: use a prefix of at most {limit} "
                "characters",
            )


def _check_replicas(worker: Mapping[str, Any]) -> Iterator[FieldError]:
    replicas = worker.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        yield FieldError(
            "spec.worker.replicas",
            f"worker replicas is required and must be an integer from {MIN_WORKERS} to "
            f"{MAX_WORKERS}; got {replicas!r}",
        )
    elif not MIN_WORKERS <= replicas <= MAX_WORKERS:
        yield FieldError(
            "spec.worker.replicas",
            f"worker replicas must be between {MIN_WORKERS} and {MAX_WORKERS}, got {replicas}; "
            "set spec.worker.replicas within that range (for more load, run several "
            "LocustTests)",
        )


def _check_runtime_class(scheduling: Mapping[str, Any]) -> Iterator[FieldError]:
    name = scheduling.get("runtimeClassName")
    if name is None:
        return
    valid = isinstance(name, str) and len(name) <= MAX_OBJECT_NAME_LENGTH
    if not valid or not matches(RUNTIME_CLASS_NAME_PATTERN, name):
        yield FieldError(
            "spec.scheduling.runtimeClassName",
            f"{name!r} is not a valid RuntimeClass name: it must be a DNS-1123 subdomain "
            "(lowercase letters, digits, '-' and '.', starting and ending with a letter or "
            "digit, at most 253 characters), e.g. 'gvisor'; or '' to opt out of the "
            "operator's default RuntimeClass",
        )


def _check_extra_args(spec: Mapping[str, Any]) -> Iterator[FieldError]:
    for role in ("master", "worker"):
        for i, arg in enumerate(_list(_dict(spec.get(role)).get("extraArgs"))):
            flag = managed_flag(arg) if isinstance(arg, str) else None
            if flag is not None:
                yield FieldError(
                    f"spec.{role}.extraArgs[{i}]",
                    f"{arg!r} sets the operator-managed flag {flag}: "
                    f"{OPERATOR_MANAGED_FLAGS[flag]}; remove it from extraArgs",
                )


def _check_commands(spec: Mapping[str, Any]) -> Iterator[FieldError]:
    """The command is split on whitespace into arguments, so it must not set a managed
    flag either (e.g. '--worker --master-host=x' in the master's command)."""
    for role in ("master", "worker"):
        command = _dict(spec.get(role)).get("command")
        if not isinstance(command, str):
            continue
        for arg in command.split():
            flag = managed_flag(arg)
            if flag is not None:
                yield FieldError(
                    f"spec.{role}.command",
                    f"{arg!r} sets the operator-managed flag {flag}: "
                    f"{OPERATOR_MANAGED_FLAGS[flag]}; remove it from the command",
                )


def _check_otel(spec: Mapping[str, Any]) -> Iterator[FieldError]:
    otel = _dict(_dict(spec.get("observability")).get("openTelemetry"))
    if otel.get("enabled") is True and not otel.get("endpoint"):
        yield FieldError(
            "spec.observability.openTelemetry.endpoint",
            "an endpoint is required when OpenTelemetry is enabled: set it to your OTLP "
            "collector (e.g. otel-collector.monitoring:4317) or set enabled: false",
        )


def _check_volumes(spec: Mapping[str, Any], test_name: str | None) -> Iterator[FieldError]:
    own = {}
    if test_name:
        own = {test_name + MASTER_SUFFIX: "master", test_name + WORKER_SUFFIX: "worker"}
    for i, volume in enumerate(_list(spec.get("volumes"))):
        name = _dict(volume).get("name")
        if not isinstance(name, str):
            continue
        field = f"spec.volumes[{i}].name"
        if name.startswith(SECRET_VOLUME_PREFIX):
            yield FieldError(
                field,
                f"volume name {name!r} uses the prefix '{SECRET_VOLUME_PREFIX}', reserved for "
                "the volumes the operator creates for env.secretMounts; rename the volume",
            )
        elif name == LIB_VOLUME_NAME:
            yield FieldError(
                field,
                f"volume name {name!r} is reserved for the operator's lib ConfigMap volume; "
                "rename the volume",
            )
        elif name in own:
            yield FieldError(
                field,
                f"volume name {name!r} is reserved for the operator's {own[name]} test-file "
                "volume; rename the volume",
            )


def _check_mount_references(spec: Mapping[str, Any]) -> Iterator[FieldError]:
    declared = {_dict(v).get("name") for v in _list(spec.get("volumes"))}
    for i, mount in enumerate(_list(spec.get("volumeMounts"))):
        name = _dict(mount).get("name")
        if name not in declared:
            yield FieldError(
                f"spec.volumeMounts[{i}].name",
                f"volumeMount {name!r} references a volume that is not declared in "
                "spec.volumes; add a volume with that name or fix the mount's name",
            )


def _reserved_paths(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(path, explanation) of the operator's mounts that are in use (spec has defaults)."""
    test_files = _dict(spec.get("testFiles"))
    reserved = []
    for ref, path_field, what in (
        ("configMapRef", "srcMountPath", "test files"),
        ("libConfigMapRef", "libMountPath", "lib files"),
    ):
        path = test_files.get(path_field)
        in_use = test_files.get(ref) or (ref == "configMapRef" and fetched(test_files))
        if in_use and isinstance(path, str):
            reserved.append((path, f"testFiles.{path_field} ({path}) where the {what} are"))
    return reserved


def _check_mount_paths(spec: Mapping[str, Any]) -> Iterator[FieldError]:
    reserved = _reserved_paths(spec)
    if not reserved:
        return
    mounts = [
        ("spec.volumeMounts", _list(spec.get("volumeMounts"))),
        ("spec.env.secretMounts", _list(_dict(spec.get("env")).get("secretMounts"))),
    ]
    for prefix, items in mounts:
        for i, mount in enumerate(items):
            path = _dict(mount).get("mountPath")
            if not isinstance(path, str):
                continue
            for reserved_path, where in reserved:
                if paths_conflict(path, reserved_path):
                    yield FieldError(
                        f"{prefix}[{i}].mountPath",
                        f"mountPath {path!r} overlaps {where} mounted by the operator; choose "
                        "a path that neither equals, contains nor lies inside it",
                    )
                    break


def validate(obj: Mapping[str, Any]) -> list[FieldError]:
    """Semantic errors of a LocustTest object (v1 objects are checked as their v2 form)."""
    if not isinstance(obj, Mapping):
        return [FieldError("<root>", "a LocustTest must be a JSON object")]
    api_version = obj.get("apiVersion")
    rename: Mapping[str, str] = {}
    if api_version == names.V1_API_VERSION:
        try:
            obj = convert_v1_to_v2(obj)
        except ConversionError as exc:
            return [FieldError("<root>", str(exc))]
        rename = _V1_FIELD_NAMES
    elif api_version not in (names.V2_API_VERSION, None):
        return [FieldError("apiVersion", f"unsupported apiVersion {api_version!r}")]

    metadata = _dict(obj.get("metadata"))
    raw_spec = obj.get("spec")
    errors = list(_check_name(metadata))
    if not isinstance(raw_spec, dict):
        errors.append(FieldError("spec", "spec is required and must be an object"))
        return errors
    spec = apply_defaults_v2(raw_spec)
    name = metadata.get("name")
    errors += [
        *_check_replicas(_dict(spec.get("worker"))),
        *_check_runtime_class(_dict(spec.get("scheduling"))),
        *_check_extra_args(spec),
        *_check_commands(spec),
        *_check_otel(spec),
        *_check_volumes(spec, name if isinstance(name, str) else None),
        *_check_mount_references(spec),
        *_check_mount_paths(spec),
        *(FieldError(path, message) for path, message in object_name_errors(spec)),
        *(FieldError(path, message) for path, message in threshold_errors(spec)),
        *(FieldError(path, message) for path, message in source_errors(spec)),
        *(
            FieldError(f, m)
            for f, m in check_placement(spec, name if isinstance(name, str) else None)
        ),
    ]
    return [FieldError(rename.get(e.field, e.field), e.message) for e in errors]
