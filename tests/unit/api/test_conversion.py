from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locust_operator.api.conversion import (
    ASPECTS,
    MISSING,
    V1_SPEC_ANNOTATION,
    V2_SPEC_ANNOTATION,
    ConversionError,
    _set,
    convert,
    convert_v1_to_v2,
    convert_v2_to_v1,
)
from locust_operator.api.defaults import apply_defaults_v2

from . import manifests
from .strategies import v1_edits, v1_objects, v1_schema, v2_objects, v2_schema
from .structural import schema_errors, strip_defaults

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("annotations", {}))


def without_reserved(metadata: dict[str, Any]) -> dict[str, Any]:
    metadata = copy.deepcopy(metadata)
    ann = metadata.get("annotations", {})
    for key in (V1_SPEC_ANNOTATION, V2_SPEC_ANNOTATION):
        ann.pop(key, None)
    if not ann:
        metadata.pop("annotations", None)
    return metadata


def v1_object(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": "t", "namespace": "default", **metadata},
        "spec": spec,
    }


def v2_object(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {**v1_object(spec, **metadata), "apiVersion": "locust.io/v2"}


MINIMAL_V2_SPEC = {
    "image": "locustio/locust:2.43.1",
    "master": {"command": "-f /lotest/src/test.py"},
    "worker": {"command": "-f /lotest/src/test.py", "replicas": 3},
}


# --- examples ----------------------------------------------------------------------------


def test_reference_v1_cr_converts_to_expected_v2() -> None:
    original = manifests.load("conversion-v1-cr.yaml")
    converted = convert_v1_to_v2(original)
    assert converted == {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {
            "name": "e2e-test-v1",
            "namespace": "default",
            # v2 defaults imagePullPolicy; remember that v1 left it out.
            "annotations": {V1_SPEC_ANNOTATION: '{"imagePullPolicy":null}'},
        },
        "spec": {
            "image": "locustio/locust:2.20.0",
            "imagePullPolicy": "IfNotPresent",
            "master": {
                "command": "locust",
                "labels": {"app": "locust-master"},
                "autostart": True,
                "autoquit": {"enabled": True, "timeout": 60},
            },
            "worker": {"command": "locust", "replicas": 2, "labels": {"app": "locust-worker"}},
            "testFiles": {
                "configMapRef": "e2e-test-scripts",
                "srcMountPath": "/lotest/src",
                "libMountPath": "/opt/locust/lib",
            },
        },
    }
    assert convert_v2_to_v1(converted) == original


def test_reference_v2_cr_converts_to_expected_v1_and_back() -> None:
    original = manifests.load("conversion-v2-cr.yaml")
    converted = convert_v2_to_v1(original)
    assert converted["apiVersion"] == "locust.io/v1"
    assert converted["spec"] == {
        "image": "locustio/locust:2.20.0",
        "masterCommandSeed": "locust",
        "workerCommandSeed": "locust",
        "workerReplicas": 3,
        "labels": {"master": {"app": "locust-master"}, "worker": {"app": "locust-worker"}},
        "configMap": "e2e-test-scripts",
    }
    # The v2-only master.autostart (and the absent imagePullPolicy) are kept aside.
    payload = json.loads(annotations(converted)[V2_SPEC_ANNOTATION])
    assert payload == {"spec": original["spec"]}
    assert convert_v1_to_v2(converted) == original


@pytest.mark.parametrize(
    "name", manifests.params([n for n in manifests.reference_names() if n.startswith("v1-")])
)
def test_reference_v1_manifests_round_trip(name: str) -> None:
    original = manifests.load(name)
    converted = convert_v1_to_v2(original)
    assert not schema_errors(converted, v2_schema())
    assert converted["spec"]["master"]["command"] == original["spec"]["masterCommandSeed"]
    assert converted["spec"]["worker"]["replicas"] == original["spec"]["workerReplicas"]
    assert converted["spec"]["testFiles"]["configMapRef"] == original["spec"]["configMap"]
    assert convert_v2_to_v1(converted) == original


def test_v1_object_stored_as_v2_reads_back_as_v1_unchanged() -> None:
    # In the cluster the stored v2 object gets the v2 schema defaults on every read;
    # v1 -> v2 already applies them, so the v1 view comes back exactly, without annotations.
    original = v1_object({"image": "locustio/locust", "workerReplicas": 2, "configMap": "cm"})
    stored = convert_v1_to_v2(original)
    stored["spec"] = apply_defaults_v2(stored["spec"])
    assert convert_v2_to_v1(stored) == original


def test_v1_without_command_seeds_gets_empty_commands() -> None:
    converted = convert_v1_to_v2(v1_object({"image": "locustio/locust"}))
    assert converted["spec"]["master"]["command"] == ""
    assert converted["spec"]["worker"]["command"] == ""
    assert converted["spec"]["worker"]["replicas"] == 1
    residual = json.loads(annotations(converted)[V1_SPEC_ANNOTATION])
    assert residual == {
        "imagePullPolicy": None,
        "masterCommandSeed": None,
        "workerCommandSeed": None,
        "workerReplicas": None,
    }
    assert convert_v2_to_v1(converted) == v1_object({"image": "locustio/locust"})


def test_v1_affinity_becomes_one_sorted_node_selector_term() -> None:
    spec = {
        "image": "i",
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"zone": "b", "arch": "amd64"}
            }
        },
        "tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}],
    }
    converted = convert_v1_to_v2(v1_object(spec))["spec"]["scheduling"]
    assert converted["affinity"] == {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "arch", "operator": "In", "values": ["amd64"]},
                            {"key": "zone", "operator": "In", "values": ["b"]},
                        ]
                    }
                ]
            }
        }
    }
    assert converted["tolerations"] == spec["tolerations"]


def test_v1_pull_secrets_and_per_role_maps() -> None:
    spec = {
        "image": "i",
        "imagePullSecrets": ["regcred"],
        "annotations": {"worker": {"a": "b"}},
        "libConfigMap": "lib",
    }
    converted = convert_v1_to_v2(v1_object(spec))["spec"]
    assert converted["imagePullSecrets"] == [{"name": "regcred"}]
    assert converted["worker"]["annotations"] == {"a": "b"}
    assert "annotations" not in converted["master"]
    assert converted["testFiles"]["libConfigMapRef"] == "lib"


def test_v2_only_fields_survive_in_annotation_not_in_v1_spec() -> None:
    original = v2_object(
        {
            **MINIMAL_V2_SPEC,
            "scheduling": {
                "nodeSelector": {"pool": "load"},
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "arch", "operator": "In", "values": ["amd64"]},
                                        {"key": "gpu", "operator": "Exists"},
                                    ]
                                }
                            ]
                        }
                    }
                },
            },
            "observability": {"openTelemetry": {"enabled": True, "endpoint": "otel:4317"}},
        },
        annotations={"team": "perf"},
    )
    converted = convert_v2_to_v1(original)
    # v1 shows what it can (the representable requirement) ...
    assert converted["spec"]["affinity"] == {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"arch": "amd64"}}
    }
    assert "observability" not in converted["spec"]
    assert annotations(converted)["team"] == "perf"
    # ... and the rest comes back from the annotation.
    assert convert_v1_to_v2(converted) == original


def test_status_and_metadata_are_carried_unchanged() -> None:
    status = {
        "phase": "Running",
        "expectedWorkers": 3,
        "connectedWorkers": 2,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "AllPodsReady",
                "message": "ok",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            }
        ],
    }
    original = {
        **v2_object(MINIMAL_V2_SPEC, uid="u-1", resourceVersion="42", labels={"a": "b"}),
        "status": status,
    }
    converted = convert_v2_to_v1(original)
    assert converted["status"] == status
    assert without_reserved(converted["metadata"]) == original["metadata"]
    assert convert_v1_to_v2(converted) == original


def test_v1_read_modify_write_keeps_v2_only_fields() -> None:
    original = v2_object(
        {
            **MINIMAL_V2_SPEC,
            "env": {"secretMounts": [{"name": "tls", "mountPath": "/etc/tls", "readOnly": True}]},
            "master": {**MINIMAL_V2_SPEC["master"], "extraArgs": ["--loglevel", "DEBUG"]},
        }
    )
    as_v1 = convert_v2_to_v1(original)
    as_v1["spec"]["workerReplicas"] = 7
    as_v1["spec"]["image"] = "locustio/locust:2.44.0"
    written = convert_v1_to_v2(as_v1)
    assert written["spec"]["worker"]["replicas"] == 7
    assert written["spec"]["image"] == "locustio/locust:2.44.0"
    assert written["spec"]["env"] == original["spec"]["env"]
    assert written["spec"]["master"]["extraArgs"] == ["--loglevel", "DEBUG"]
    assert V2_SPEC_ANNOTATION not in annotations(written)


def test_v1_edit_of_affinity_keeps_other_v2_affinity() -> None:
    anti = {"preferredDuringSchedulingIgnoredDuringExecution": []}
    original = v2_object({**MINIMAL_V2_SPEC, "scheduling": {"affinity": {"podAntiAffinity": anti}}})
    as_v1 = convert_v2_to_v1(original)
    as_v1["spec"]["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"k": "v"}}
    }
    affinity = convert_v1_to_v2(as_v1)["spec"]["scheduling"]["affinity"]
    assert affinity["podAntiAffinity"] == anti
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}
        ]
    }


def test_garbled_preservation_annotation_is_ignored() -> None:
    as_v1 = v1_object({"image": "i"}, annotations={V2_SPEC_ANNOTATION: "{not json"})
    converted = convert_v1_to_v2(as_v1)
    assert V2_SPEC_ANNOTATION not in annotations(converted)
    assert converted["spec"]["image"] == "i"


def test_reserved_annotation_is_stripped_from_foreign_version() -> None:
    # A v2 object carrying a (bogus) v2-spec annotation must not have it trusted later.
    original = v2_object(MINIMAL_V2_SPEC, annotations={V2_SPEC_ANNOTATION: '{"spec":{}}'})
    converted = convert_v2_to_v1(original)
    payload = json.loads(annotations(converted)[V2_SPEC_ANNOTATION])
    assert payload["spec"] == MINIMAL_V2_SPEC


def test_object_without_spec_converts() -> None:
    obj = {"apiVersion": "locust.io/v1", "kind": "LocustTest", "metadata": {"name": "x"}}
    assert convert_v1_to_v2(obj) == {**obj, "apiVersion": "locust.io/v2"}
    assert convert_v2_to_v1({**obj, "apiVersion": "locust.io/v2"}) == obj


@pytest.mark.parametrize(
    ("obj", "desired", "message"),
    [
        ({"apiVersion": "v1", "kind": "Pod"}, "locust.io/v2", "kind 'Pod'"),
        ({"apiVersion": "locust.io/v3", "kind": "LocustTest"}, "locust.io/v2", "locust.io/v3"),
        ({"apiVersion": "locust.io/v1", "kind": "LocustTest"}, "locust.io/v9", "locust.io/v9"),
        ({"apiVersion": "locust.io/v1", "kind": "LocustTest", "spec": []}, "locust.io/v2", "spec"),
        (
            {"apiVersion": "locust.io/v1", "kind": "LocustTest", "metadata": {"annotations": 1}},
            "locust.io/v2",
            "annotations",
        ),
    ],
)
def test_convert_rejects_what_it_cannot_convert(obj: Any, desired: str, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        convert(obj, desired)


def test_convert_same_version_is_a_copy() -> None:
    obj = v2_object(MINIMAL_V2_SPEC)
    result = convert(obj, "locust.io/v2")
    assert result == obj and result is not obj


def test_conversion_does_not_mutate_its_input() -> None:
    obj = v2_object({**MINIMAL_V2_SPEC, "volumes": [{"name": "v", "emptyDir": {}}]})
    snapshot = copy.deepcopy(obj)
    convert_v1_to_v2(convert_v2_to_v1(obj))
    assert obj == snapshot


# --- properties ---------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(v1_objects())
def test_v1_to_v2_to_v1_is_identity(original: dict[str, Any]) -> None:
    converted = convert_v1_to_v2(original)
    assert not schema_errors(converted, v2_schema())
    assert V2_SPEC_ANNOTATION not in annotations(converted)
    # Already carries the v2 defaults: storage defaulting changes nothing.
    assert apply_defaults_v2(converted["spec"]) == converted["spec"]
    back = convert_v2_to_v1(converted)
    assert back == original
    # And the v2 object is itself a fixed point of v2 -> v1 -> v2.
    assert convert_v1_to_v2(back) == converted


@PROPERTY_SETTINGS
@given(v2_objects())
def test_v2_to_v1_to_v2_is_identity(original: dict[str, Any]) -> None:
    converted = convert_v2_to_v1(original)
    assert not schema_errors(converted, v1_schema())
    assert V1_SPEC_ANNOTATION not in annotations(converted)
    assert convert_v1_to_v2(converted) == original
    # Deterministic, including the preservation annotation.
    assert convert_v2_to_v1(copy.deepcopy(original)) == converted


@PROPERTY_SETTINGS
@given(v2_objects(), st.lists(v1_edits(), min_size=1, max_size=3))
def test_v1_read_modify_write(original: dict[str, Any], edits: list[tuple[str, Any]]) -> None:
    as_v1 = convert_v2_to_v1(original)
    for key, value in edits:
        if value is None:
            as_v1["spec"].pop(key, None)
        else:
            as_v1["spec"][key] = value
    written = convert_v1_to_v2(as_v1)

    assert V2_SPEC_ANNOTATION not in annotations(written)
    # The v1 client reads back exactly what it wrote ...
    assert convert_v2_to_v1(written)["spec"] == as_v1["spec"]
    # ... and nothing outside the edited v1 fields changed in v2. Without the preservation
    # annotation the v2 object was exactly what its v1 fields and the defaults make, so there
    # only the non-default content is compared (edits may create defaulted parents).
    edited = {key for key, _ in edits}
    before, after = copy.deepcopy(original["spec"]), copy.deepcopy(written["spec"])
    for aspect in ASPECTS:
        if aspect.v1_key in edited:
            for path in aspect.v2_paths:
                _set(before, path, "<edited>")
                _set(after, path, "<edited>")
    if V2_SPEC_ANNOTATION in annotations(convert_v2_to_v1(original)):
        assert after == before
    else:
        spec_schema = v2_schema()["properties"]["spec"]
        assert strip_defaults(after, spec_schema) == strip_defaults(before, spec_schema)
    assert without_reserved(written["metadata"]) == without_reserved(original["metadata"])
    assert written.get("status") == original.get("status")


def test_v2_edit_wins_over_stale_v1_spelling() -> None:
    stored = convert_v1_to_v2(v1_object({"image": "i"}))  # remembers: no masterCommandSeed
    stored["spec"]["master"]["command"] = "--host https://example.com"  # edited through v2
    assert convert_v2_to_v1(stored)["spec"]["masterCommandSeed"] == "--host https://example.com"


@PROPERTY_SETTINGS
@given(v2_objects())
def test_v1_view_is_faithful_to_v2(original: dict[str, Any]) -> None:
    # Each v1 field shows the v2 value: exactly when v1 can express it, else v1's best effort.
    spec1 = convert_v2_to_v1(original)["spec"]
    for aspect in ASPECTS:
        values = aspect.v2_values(original["spec"])
        shown = spec1.get(aspect.v1_key, MISSING)
        assert aspect.to_v2(shown) == values or shown == aspect.from_v2(values)
