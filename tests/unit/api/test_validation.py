from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from locust_operator.api.reserved import OPERATOR_MANAGED_FLAGS
from locust_operator.api.validation import FieldError, paths_conflict, validate

Spec = dict[str, Any]


def make(name: str = "demo", **spec: Any) -> dict[str, Any]:
    base: Spec = {
        "image": "locustio/locust:2.43.1",
        "master": {"command": "-f /lotest/src/test.py"},
        "worker": {"command": "-f /lotest/src/test.py", "replicas": 2},
        "testFiles": {"configMapRef": "scripts"},
    }
    base.update(spec)
    return {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name, "namespace": "default"},
        "spec": base,
    }


def fields(obj: dict[str, Any]) -> list[str]:
    return [e.field for e in validate(obj)]


def only_error(obj: dict[str, Any]) -> FieldError:
    errors = validate(obj)
    assert len(errors) == 1, errors
    return errors[0]


def test_valid_object_has_no_errors() -> None:
    assert validate(make()) == []


def test_field_error_renders_path_and_message() -> None:
    assert str(FieldError("spec.x", "bad; fix it")) == "spec.x: bad; fix it"


# --- name length ---------------------------------------------------------------------------


def test_name_of_56_characters_is_fine() -> None:
    assert validate(make("a" * 56)) == []


def test_name_too_long_for_derived_resources() -> None:
    error = only_error(make("a" * 57))
    assert error.field == "metadata.name"
    assert "57 characters" in error.message and "at most 56" in error.message
    assert "-master" in error.message


def test_generate_name_prefix_too_long() -> None:
    obj = make()
    obj["metadata"] = {"generateName": "x" * 52}
    error = only_error(obj)
    assert error.field == "metadata.generateName"
    assert "at most 51" in error.message
    obj["metadata"] = {"generateName": "x" * 51}
    assert validate(obj) == []


# --- worker replicas and runtimeClassName ----------------------------------------------------


@pytest.mark.parametrize("replicas", [1, 250, 500])
def test_replicas_in_range(replicas: int) -> None:
    assert validate(make(worker={"command": "w", "replicas": replicas})) == []


@pytest.mark.parametrize("replicas", [0, -1, 501, "3", True, None])
def test_replicas_out_of_range(replicas: Any) -> None:
    error = only_error(make(worker={"command": "w", "replicas": replicas}))
    assert error.field == "spec.worker.replicas"
    assert "1" in error.message and "500" in error.message


@pytest.mark.parametrize("name", ["gvisor", "kata.fc", "", "a-b.c-d", "a" * 253])
def test_runtime_class_name_accepted(name: str) -> None:
    assert validate(make(scheduling={"runtimeClassName": name})) == []


@pytest.mark.parametrize("name", ["gVisor_Sandbox", "-x", "x-", "a..b", "UPPER", "a" * 254, 3])
def test_runtime_class_name_rejected(name: Any) -> None:
    error = only_error(make(scheduling={"runtimeClassName": name}))
    assert error.field == "spec.scheduling.runtimeClassName"
    assert "DNS-1123 subdomain" in error.message and "''" in error.message


# --- extraArgs -------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", sorted(OPERATOR_MANAGED_FLAGS))
@pytest.mark.parametrize("form", ["{flag}", "{flag}=1"])
@pytest.mark.parametrize("role", ["master", "worker"])
def test_extra_args_with_managed_flag(flag: str, form: str, role: str) -> None:
    spec = make()["spec"]
    spec[role]["extraArgs"] = ["--loglevel", "DEBUG", form.format(flag=flag)]
    error = only_error(make(**{role: spec[role]}))
    assert error.field == f"spec.{role}.extraArgs[2]"
    assert flag in error.message and "remove it" in error.message


def test_extra_args_controlled_flags_name_their_spec_field() -> None:
    spec = make()["spec"]
    spec["master"]["extraArgs"] = ["--autostart", "--autoquit", "30", "--expect-workers=3"]
    messages = [e.message for e in validate(make(master=spec["master"]))]
    assert "spec.master.autostart" in messages[0]
    assert "spec.master.autoquit" in messages[1]
    assert "spec.worker.replicas" in messages[2]


@pytest.mark.parametrize(
    "arg", ["--loglevel", "--master-bind-host=0.0.0.0", "--masters", "master", "--headless"]
)
def test_extra_args_similar_but_unmanaged(arg: str) -> None:
    spec = make()["spec"]
    spec["worker"]["extraArgs"] = [arg]
    assert validate(make(worker=spec["worker"])) == []


# --- OpenTelemetry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "otel",
    [
        {"enabled": True, "endpoint": "otel:4317"},
        {"enabled": False},
        {},
        {"endpoint": "otel:4317"},
    ],
)
def test_otel_ok(otel: dict[str, Any]) -> None:
    assert validate(make(observability={"openTelemetry": otel})) == []


@pytest.mark.parametrize("otel", [{"enabled": True}, {"enabled": True, "endpoint": ""}])
def test_otel_enabled_without_endpoint(otel: dict[str, Any]) -> None:
    error = only_error(make(observability={"openTelemetry": otel}))
    assert error.field == "spec.observability.openTelemetry.endpoint"
    assert "enabled: false" in error.message


# --- volumes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["secret-tls", "locust-lib", "demo-master", "demo-worker"])
def test_reserved_volume_names(name: str) -> None:
    obj = make(volumes=[{"name": "data", "emptyDir": {}}, {"name": name, "emptyDir": {}}])
    error = only_error(obj)
    assert error.field == "spec.volumes[1].name"
    assert repr(name) in error.message and "rename" in error.message


@pytest.mark.parametrize("name", ["secrets", "locust-library", "other-master", "demo-masters"])
def test_volume_names_that_only_look_reserved(name: str) -> None:
    assert validate(make(volumes=[{"name": name, "emptyDir": {}}])) == []


def test_volume_mount_must_reference_a_volume() -> None:
    obj = make(
        volumes=[{"name": "data", "emptyDir": {}}],
        volumeMounts=[
            {"name": "data", "mountPath": "/data"},
            {"name": "missing", "mountPath": "/missing"},
        ],
    )
    error = only_error(obj)
    assert error.field == "spec.volumeMounts[1].name"
    assert "'missing'" in error.message and "spec.volumes" in error.message


def test_volume_mounts_without_volumes() -> None:
    assert fields(make(volumeMounts=[{"name": "x", "mountPath": "/x"}])) == [
        "spec.volumeMounts[0].name"
    ]


# --- mount paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "conflict"),
    [
        ("/lotest/src", "/lotest/src", True),
        ("/lotest/src/", "/lotest/src", True),
        ("/lotest", "/lotest/src", True),
        ("/lotest/src/data", "/lotest/src", True),
        ("/", "/lotest/src", True),
        ("/lotest//src/./x", "/lotest/src", True),
        ("/lotest/srcx", "/lotest/src", False),
        ("/lotest/sr", "/lotest/src", False),
        ("/opt", "/lotest/src", False),
    ],
)
def test_paths_conflict(a: str, b: str, conflict: bool) -> None:
    assert paths_conflict(a, b) is conflict
    assert paths_conflict(b, a) is conflict


def _secret_mount(path: str) -> Spec:
    return {
        "secretMounts": [{"name": "tls", "mountPath": "/etc/tls"}, {"name": "s", "mountPath": path}]
    }


def _volume_mount(path: str) -> Spec:
    return {
        "volumes": [{"name": "data", "emptyDir": {}}],
        "volumeMounts": [{"name": "data", "mountPath": "/ok"}, {"name": "data", "mountPath": path}],
    }


MountCase = Callable[[str], tuple[dict[str, Any], str]]

CASES: dict[str, MountCase] = {
    "secretMount": lambda p: (make(env=_secret_mount(p)), "spec.env.secretMounts[1].mountPath"),
    "volumeMount": lambda p: (make(**_volume_mount(p)), "spec.volumeMounts[1].mountPath"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("path", ["/lotest/src", "/lotest", "/lotest/src/sub", "/lotest/src/"])
def test_mount_path_conflicts_with_test_files(case: str, path: str) -> None:
    obj, field = CASES[case](path)
    error = only_error(obj)
    assert error.field == field
    assert "testFiles.srcMountPath (/lotest/src)" in error.message
    assert "choose a path" in error.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_mount_path_conflicts_with_custom_lib_path(case: str) -> None:
    obj, field = CASES[case]("/libs/extra")
    obj["spec"]["testFiles"] = {"libConfigMapRef": "lib", "libMountPath": "/libs"}
    error = only_error(obj)
    assert error.field == field and "testFiles.libMountPath (/libs)" in error.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_mount_paths_only_conflict_with_mounts_in_use(case: str) -> None:
    obj, _ = CASES[case]("/opt/locust/lib")  # lib path, but no libConfigMapRef
    assert validate(obj) == []
    obj, _ = CASES[case]("/lotest/src")
    obj["spec"]["testFiles"] = {"libConfigMapRef": "lib"}  # no configMapRef
    assert validate(obj) == []
    obj["spec"]["testFiles"] = {"configMapRef": "", "srcMountPath": "/elsewhere"}
    assert validate(obj) == []


# --- whole objects ---------------------------------------------------------------------------


def test_several_errors_are_all_reported() -> None:
    obj = make(
        "b" * 60,
        worker={"command": "w", "replicas": 0, "extraArgs": ["--worker"]},
        observability={"openTelemetry": {"enabled": True}},
    )
    assert fields(obj) == [
        "metadata.name",
        "spec.worker.replicas",
        "spec.worker.extraArgs[0]",
        "spec.observability.openTelemetry.endpoint",
    ]


def test_v1_objects_are_validated_in_v1_terms() -> None:
    obj = {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": "c" * 57},
        "spec": {"image": "i", "workerReplicas": 0},
    }
    assert fields(obj) == ["metadata.name", "spec.workerReplicas"]


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ("nope", "<root>"),
        ({"apiVersion": "locust.io/v2", "kind": "LocustTest"}, "spec"),
        ({"apiVersion": "locust.io/v2", "spec": []}, "spec"),
        ({"apiVersion": "locust.io/v7", "spec": {}}, "apiVersion"),
    ],
)
def test_malformed_objects_are_reported_not_raised(obj: Any, field: str) -> None:
    assert fields(obj) == [field]


def test_validate_does_not_mutate_its_input() -> None:
    obj = make(volumes=[{"name": "x"}], volumeMounts=[{"name": "x", "mountPath": "/x"}])
    snapshot = copy.deepcopy(obj)
    validate(obj)
    assert obj == snapshot


def test_garbage_inside_spec_does_not_crash() -> None:
    obj = make(
        volumes=["x", {"name": 3}],
        volumeMounts=[None, {"name": "x"}],
        env={"secretMounts": "no"},
        master={"command": "m", "extraArgs": [1, None]},
        scheduling=[],
        observability={"openTelemetry": "on"},
    )
    assert all(isinstance(e, FieldError) for e in validate(obj))
