"""Declarations shared by every LocustTest version: root fields, pull policy, name rule."""

from __future__ import annotations

from typing import Any, Literal

from .reserved import MASTER_SUFFIX, MAX_RESOURCE_NAME_LENGTH, MAX_TEST_NAME_LENGTH, WORKER_SUFFIX
from .schema import Rule, prop

PullPolicy = Literal["Always", "IfNotPresent", "Never"]

# Kubernetes names are at most 253 characters anyway; declaring it bounds the CEL cost of
# rules that build strings from metadata.name.
_NAME_SCHEMA = {"type": "string", "maxLength": 253}
ROOT_METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": dict(_NAME_SCHEMA), "generateName": dict(_NAME_SCHEMA)},
}


def api_version_prop() -> Any:
    return prop(
        "APIVersion defines the versioned schema of this representation of an object. Servers "
        "should convert recognized schemas to the latest internal value, and may reject "
        "unrecognized values. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
    )


def kind_prop() -> Any:
    return prop(
        "Kind is a string value representing the REST resource this object represents. Servers "
        "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
        "CamelCase. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
    )


def metadata_prop() -> Any:
    return prop("Standard object metadata.", schema_override=ROOT_METADATA_SCHEMA)


NAME_START_RULE = Rule(
    rule="!has(self.metadata.name) || self.metadata.name.matches('^[a-z]')",
    message=(
        "metadata.name must start with a letter: the operator names its Service "
        f"'<name>{MASTER_SUFFIX}', and Service names must begin with a letter; rename the test "
        "(e.g. 'run-1' instead of '1-run')"
    ),
    field_path=".metadata.name",
    reason="FieldValueInvalid",
)
NAME_LENGTH_RULE = Rule(
    rule=f"!has(self.metadata.name) || size(self.metadata.name) <= {MAX_TEST_NAME_LENGTH}",
    message=(
        f"metadata.name must be at most {MAX_TEST_NAME_LENGTH} characters: the operator names "
        f"its Service and Jobs '<name>{MASTER_SUFFIX}' and '<name>{WORKER_SUFFIX}', which must "
        f"fit in {MAX_RESOURCE_NAME_LENGTH} characters; choose a shorter name"
    ),
    field_path=".metadata.name",
    reason="FieldValueInvalid",
)
