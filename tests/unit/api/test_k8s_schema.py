from __future__ import annotations

import pytest
from lightkube.models import core_v1, meta_v1

from locust_operator.api.k8s_schema import (
    QUANTITY_PATTERN,
    k8s_schema,
    parse_docstring,
    unclassified_maps,
)
from locust_operator.api.schema import matches

from .structural import schema_errors, walk

EMBEDDED = [
    core_v1.ResourceRequirements,
    core_v1.Affinity,
    core_v1.Toleration,
    core_v1.EnvVar,
    core_v1.Volume,
    core_v1.VolumeMount,
    core_v1.PodSecurityContext,
    core_v1.SecurityContext,
    core_v1.LocalObjectReference,
]


def test_docstring_parsing() -> None:
    summary, fields = parse_docstring(core_v1.Toleration)
    assert summary.startswith("The pod this Toleration is attached to tolerates any taint")
    assert fields["tolerationSeconds"][0] == "Optional[int]"
    assert fields["effect"][1].startswith("Effect indicates the taint effect to match.")
    assert "\n" not in fields["effect"][1]


@pytest.mark.parametrize("cls", EMBEDDED, ids=lambda c: c.__name__)
def test_schemas_are_structural_and_described(cls: type) -> None:
    schema = k8s_schema(cls)
    for path, node in walk(schema):
        if "<anyOf" in path:
            continue
        assert (
            "type" in node
            or node.get("x-kubernetes-int-or-string")
            or node.get("x-kubernetes-preserve-unknown-fields")
        ), path
        if path and not path.endswith(("[]", "{}")):
            assert node.get("description"), path


def test_required_follows_optional_typing() -> None:
    assert k8s_schema(core_v1.VolumeMount)["required"] == ["mountPath", "name"]
    assert "required" not in k8s_schema(core_v1.Toleration)
    node_selector = k8s_schema(core_v1.NodeSelector)
    assert node_selector["required"] == ["nodeSelectorTerms"]


def test_special_types() -> None:
    resources = k8s_schema(core_v1.ResourceRequirements)["properties"]
    for key in ("limits", "requests"):
        quantity = resources[key]["additionalProperties"]
        assert quantity == {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    empty_dir = k8s_schema(core_v1.Volume)["properties"]["emptyDir"]["properties"]
    assert empty_dir["sizeLimit"]["x-kubernetes-int-or-string"] is True
    http_get = k8s_schema(core_v1.HTTPGetAction)["properties"]
    assert http_get["port"] == {
        "description": http_get["port"]["description"],
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    }
    meta = k8s_schema(meta_v1.ObjectMeta)["properties"]
    assert meta["creationTimestamp"]["format"] == "date-time"
    assert meta["labels"]["additionalProperties"] == {"type": "string"}
    fields_v1 = meta["managedFields"]["items"]["properties"]["fieldsV1"]
    assert fields_v1["x-kubernetes-preserve-unknown-fields"] is True
    csi = k8s_schema(core_v1.Volume)["properties"]["csi"]["properties"]
    assert csi["volumeAttributes"]["additionalProperties"] == {"type": "string"}


@pytest.mark.parametrize("value", ["1", "100m", "1.5Gi", "2e3", "+1", ".5", "1Ki", "0"])
def test_quantity_pattern_accepts(value: str) -> None:
    assert matches(QUANTITY_PATTERN, value)


@pytest.mark.parametrize("value", ["", "1x", "Gi", "1 Gi", "1.2.3", "-"])
def test_quantity_pattern_rejects(value: str) -> None:
    assert not matches(QUANTITY_PATTERN, value)


def test_every_plain_dict_is_classified() -> None:
    for cls in EMBEDDED:
        k8s_schema(cls)
    assert unclassified_maps() == frozenset()


def test_overrides_and_copies() -> None:
    schema = k8s_schema(core_v1.Volume, overrides={"name": {"maxLength": 63}})
    assert schema["properties"]["name"]["maxLength"] == 63
    assert "maxLength" not in k8s_schema(core_v1.Volume)["properties"]["name"]
    with pytest.raises(KeyError):
        k8s_schema(core_v1.Volume, overrides={"nope": {}})
    with pytest.raises(TypeError):
        k8s_schema(dict)


def test_resources_example_validates() -> None:
    schema = k8s_schema(core_v1.ResourceRequirements)
    good = {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": 1}}
    assert schema_errors(good, schema) == []
    assert schema_errors({"limits": {"cpu": "lots"}}, schema) != []


def test_recursive_types_terminate() -> None:
    from lightkube.models import apiextensions_v1

    schema = k8s_schema(apiextensions_v1.JSONSchemaProps)
    # The self-reference is cut off by accepting anything there.
    assert schema["properties"]["not"]["x-kubernetes-preserve-unknown-fields"] is True
    assert schema["properties"]["not"]["type"] == "object"
    assert schema["properties"]["additionalItems"]["x-kubernetes-preserve-unknown-fields"]
