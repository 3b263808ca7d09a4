"""The declarative layer on small made-up types, and typed parsing of real specs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pytest
from lightkube.models import core_v1

from locust_operator.api import v2
from locust_operator.api.schema import (
    Constraints,
    K8sObject,
    ParseError,
    Rule,
    apply_defaults,
    camel,
    from_json,
    object_rules,
    object_type,
    openapi_schema,
    prop,
    to_json,
)

# ruff: noqa: RUF009


@dataclass(kw_only=True)
class Inner:
    """Inner thing."""

    flag: bool = prop("A flag.", default=True)
    count: int | None = prop("A count.", minimum=0, maximum=9)


@object_rules(Rule("self.size > 0", "size must be positive", field_path=".size"))
@dataclass(kw_only=True)
class Outer:
    """Outer thing."""

    size: int = prop("Size.", required=True, format="int32")
    mode: Literal["a", "b"] = prop("Mode.", default="a")
    tags: list[str] | None = prop(
        "Tags.", max_items=4, items=Constraints(max_length=8, rules=(Rule("self != 'x'", "no x"),))
    )
    labels: dict[str, str] | None = prop("Labels.")
    inner: Inner = prop("Inner, defaulted.", default_factory=Inner)
    maybe_inner: Inner | None = prop("Optional inner.")
    mount: K8sObject | None = prop(
        "A mount.",
        k8s=core_v1.VolumeMount,
        k8s_extra=v2.MountTargetExtension,
        k8s_overrides={"name": {"maxLength": 5}},
    )
    items_by_name: list[Inner] | None = prop("Keyed list.", list_map_keys=("flag",))


def test_camel() -> None:
    assert camel("image_pull_policy") == "imagePullPolicy"
    assert camel("required_during_scheduling_ignored_during_execution") == (
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    assert camel("image") == "image"


def test_openapi_schema_of_declared_types() -> None:
    schema = openapi_schema(Outer)
    assert schema["description"] == "Outer thing."
    assert schema["required"] == ["size"]
    assert schema["x-kubernetes-validations"] == [
        {"rule": "self.size > 0", "message": "size must be positive", "fieldPath": ".size"}
    ]
    props = schema["properties"]
    assert list(props) == [
        "size", "mode", "tags", "labels", "inner", "maybeInner", "mount", "itemsByName"
    ]  # fmt: skip
    assert props["size"] == {"description": "Size.", "type": "integer", "format": "int32"}
    assert props["mode"] == {
        "description": "Mode.", "type": "string", "enum": ["a", "b"], "default": "a"
    }  # fmt: skip
    assert props["tags"] == {
        "description": "Tags.",
        "type": "array",
        "items": {
            "type": "string",
            "maxLength": 8,
            "x-kubernetes-validations": [{"rule": "self != 'x'", "message": "no x"}],
        },
        "maxItems": 4,
    }
    assert props["labels"]["additionalProperties"] == {"type": "string"}
    assert props["inner"]["default"] == {}
    assert props["inner"]["properties"]["count"] == {
        "description": "A count.", "type": "integer", "minimum": 0, "maximum": 9
    }  # fmt: skip
    assert props["maybeInner"]["description"] == "Optional inner."  # the field's, not the type's
    mount = props["mount"]
    assert mount["description"] == "A mount."
    assert mount["properties"]["name"]["maxLength"] == 5
    assert mount["properties"]["target"]["default"] == "both"
    assert mount["required"] == ["mountPath", "name"]
    assert props["itemsByName"]["x-kubernetes-list-type"] == "map"
    assert props["itemsByName"]["x-kubernetes-list-map-keys"] == ["flag"]


def test_parse_applies_defaults_and_types() -> None:
    parsed = from_json(Outer, {"size": 3, "mount": {"name": "m", "mountPath": "/m"}, "tags": ["t"]})
    assert parsed.size == 3
    assert parsed.mode == "a"
    assert parsed.inner == Inner(flag=True, count=None)
    assert parsed.maybe_inner is None
    assert parsed.mount == {"name": "m", "mountPath": "/m", "target": "both"}
    assert to_json(parsed) == {
        "size": 3,
        "mode": "a",
        "tags": ["t"],
        "inner": {"flag": True},
        "mount": {"name": "m", "mountPath": "/m", "target": "both"},
    }


def test_apply_defaults_creates_defaulted_objects_only() -> None:
    assert apply_defaults(Outer, {"size": 1, "maybeInner": {}}) == {
        "size": 1,
        "mode": "a",
        "inner": {"flag": True},
        "maybeInner": {"flag": True},
    }


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({}, "size", "required"),
        ({"size": "3"}, "size", "expected integer"),
        ({"size": True}, "size", "expected integer"),
        ({"size": 1, "mode": "c"}, "mode", "not one of"),
        ({"size": 1, "tags": "t"}, "tags", "expected array"),
        ({"size": 1, "tags": [1]}, "tags[0]", "expected string"),
        ({"size": 1, "labels": {"a": 1}}, "labels", "map of strings"),
        ({"size": 1, "inner": []}, "inner", "expected object"),
        ({"size": 1, "mount": "m"}, "mount", "expected object"),
    ],
)
def test_parse_errors_name_the_field(data: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        from_json(Outer, data)
    assert info.value.path == path


def test_parse_real_spec_gives_typed_access() -> None:
    spec = from_json(
        v2.LocustTestSpec,
        {
            "image": "locustio/locust",
            "master": {"command": "m", "extraArgs": ["--loglevel", "DEBUG"]},
            "worker": {"command": "w", "replicas": 4},
            "testFiles": {"configMapRef": "cm"},
            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
        },
    )
    assert spec.worker.replicas == 4
    assert spec.master.autoquit.timeout == 60
    assert spec.master.autostart is True
    assert spec.test_files is not None and spec.test_files.src_mount_path == "/lotest/src"
    assert spec.volume_mounts == [{"name": "v", "mountPath": "/v", "target": "both"}]
    assert spec.scheduling is None
    assert spec.image_pull_policy == "IfNotPresent"


def test_declaration_mistakes_are_caught() -> None:
    with pytest.raises(ValueError, match="required"):
        prop("x", required=True, default=1)

    @dataclass(kw_only=True)
    class RequiredOptional:
        a: int | None = prop("a", required=True)

    @dataclass(kw_only=True)
    class NoDefault:
        a: int = prop("a")

    @dataclass(kw_only=True)
    class BadMap:
        a: dict[str, int] | None = prop("a")

    @dataclass(kw_only=True)
    class BadK8s:
        a: str | None = prop("a", k8s=core_v1.Volume)

    @dataclass(kw_only=True)
    class Untyped:
        a: K8sObject | None = prop("a")

    @dataclass(kw_only=True)
    class Plain:
        a: int = 1

    for cls, message in [
        (RequiredOptional, "Optional"),
        (NoDefault, "without default"),
        (BadMap, r"dict\[str, str\]"),
        (BadK8s, "K8sObject"),
        (Untyped, "k8s= or schema_override="),
        (Plain, "prop()"),
    ]:
        with pytest.raises(TypeError, match=message):
            object_type(cls)
