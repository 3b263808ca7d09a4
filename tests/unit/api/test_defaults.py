from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings

from locust_operator.api import v1, v2
from locust_operator.api.defaults import apply_defaults_v1, apply_defaults_v2
from locust_operator.api.schema import from_json, to_json

from .strategies import v1_schema, v1_specs, v2_schema, v2_specs
from .structural import apply_schema_defaults

PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
MINIMAL = {
    "image": "locustio/locust",
    "master": {"command": "m"},
    "worker": {"command": "w", "replicas": 1},
}


def test_minimal_spec_defaults() -> None:
    assert apply_defaults_v2(MINIMAL) == {
        "image": "locustio/locust",
        "imagePullPolicy": "IfNotPresent",
        "master": {
            "command": "m",
            "autostart": True,
            "autoquit": {"enabled": True, "timeout": 60},
        },
        "worker": {"command": "w", "replicas": 1},
    }


def test_defaults_fill_only_existing_objects() -> None:
    spec = {
        **MINIMAL,
        "testFiles": {"configMapRef": "cm"},
        "env": {"secretMounts": [{"name": "s", "mountPath": "/s"}]},
        "volumeMounts": [{"name": "v", "mountPath": "/v"}, {"name": "w", "target": "master"}],
        "observability": {"openTelemetry": {"endpoint": "otel:4317"}},
    }
    defaulted = apply_defaults_v2(spec)
    assert defaulted["testFiles"] == {
        "configMapRef": "cm",
        "srcMountPath": "/lotest/src",
        "libMountPath": "/opt/locust/lib",
    }
    assert defaulted["env"]["secretMounts"][0]["readOnly"] is True
    assert [m["target"] for m in defaulted["volumeMounts"]] == ["both", "master"]
    assert defaulted["observability"]["openTelemetry"] == {
        "endpoint": "otel:4317",
        "enabled": False,
        "protocol": "grpc",
        "insecure": False,
    }
    assert "scheduling" not in defaulted and "security" not in defaulted


def test_explicit_values_are_kept() -> None:
    spec = {
        **MINIMAL,
        "imagePullPolicy": "Always",
        "master": {"command": "m", "autostart": False, "autoquit": {"enabled": False}},
    }
    defaulted = apply_defaults_v2(spec)
    assert defaulted["imagePullPolicy"] == "Always"
    assert defaulted["master"]["autostart"] is False
    assert defaulted["master"]["autoquit"] == {"enabled": False, "timeout": 60}


def test_defaults_are_pure_and_keep_unknown_fields() -> None:
    spec = {**MINIMAL, "unknown": {"x": 1}}
    snapshot = copy.deepcopy(spec)
    defaulted = apply_defaults_v2(spec)
    assert spec == snapshot
    assert defaulted["unknown"] == {"x": 1}
    defaulted["master"]["command"] = "changed"
    assert spec["master"]["command"] == "m"


def test_v1_defaults() -> None:
    assert apply_defaults_v1({"image": "i"}) == {"image": "i", "workerReplicas": 1}


@PROPERTY_SETTINGS
@given(v2_specs())
def test_v2_defaults_match_the_schema(spec: dict[str, Any]) -> None:
    schema = v2_schema()["properties"]["spec"]
    assert apply_defaults_v2(spec) == apply_schema_defaults(spec, schema)


@PROPERTY_SETTINGS
@given(v1_specs())
def test_v1_defaults_match_the_schema(spec: dict[str, Any]) -> None:
    schema = v1_schema()["properties"]["spec"]
    assert apply_defaults_v1(spec) == apply_schema_defaults(spec, schema)


@PROPERTY_SETTINGS
@given(v2_specs())
def test_parsing_applies_exactly_the_defaults(spec: dict[str, Any]) -> None:
    parsed = from_json(v2.LocustTestSpec, spec)
    assert to_json(parsed) == apply_defaults_v2(spec)
    assert apply_defaults_v2(apply_defaults_v2(spec)) == apply_defaults_v2(spec)


@PROPERTY_SETTINGS
@given(v1_specs())
def test_v1_parsing_round_trips(spec: dict[str, Any]) -> None:
    assert to_json(from_json(v1.LocustTestSpec, spec)) == apply_defaults_v1(spec)
