"""Hypothesis strategies for LocustTest objects, built from the generated (type-derived) schemas.

Values are schema-valid (CEL rules aside), ASCII and realistic: short names, small lists and
maps, optional fields present or absent (including empty maps and lists), embedded Kubernetes
objects with a few of their optional fields, bounded in depth.
"""

from __future__ import annotations

import functools
import string
from typing import Any

from hypothesis import strategies as st

from locust_operator.api import names, v1, v2
from locust_operator.api.conversion import convert_v1_to_v2
from locust_operator.api.placement import PROTECTED_POD_LABELS
from locust_operator.api.schema import openapi_schema

JSONSchema = dict[str, Any]

_WORD = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)
_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_./:=", max_size=24)
_KEY = st.text(alphabet=string.ascii_lowercase + string.digits + "-./", min_size=1, max_size=16)
_QUANTITY = st.one_of(
    st.integers(min_value=0, max_value=64),
    st.sampled_from(["100m", "250m", "1", "2", "512Mi", "1Gi", "1.5", "2e3", "1k"]),
)
_DATE_TIME = st.datetimes().map(lambda d: d.replace(microsecond=0).isoformat() + "Z")
_MAX_DEPTH = 4


@functools.cache
def v2_schema() -> JSONSchema:
    return openapi_schema(v2.LocustTest)


@functools.cache
def v1_schema() -> JSONSchema:
    return openapi_schema(v1.LocustTest)


_CACHE: dict[tuple[int, int], tuple[JSONSchema, st.SearchStrategy[Any]]] = {}


def from_schema(schema: JSONSchema, depth: int = 0) -> st.SearchStrategy[Any]:
    # Memoised per schema node: building (and validating) strategies dominates otherwise.
    key = (id(schema), depth)
    if key not in _CACHE:
        _CACHE[key] = (schema, _from_schema(schema, depth))  # keeps the schema alive
    return _CACHE[key][1]


def _from_schema(schema: JSONSchema, depth: int) -> st.SearchStrategy[Any]:
    if schema.get("x-kubernetes-int-or-string"):
        if "pattern" in schema:
            return _QUANTITY
        return st.one_of(st.integers(min_value=0, max_value=65535), _WORD)
    type_name = schema.get("type")
    if type_name is None or (
        type_name == "object"
        and schema.get("x-kubernetes-preserve-unknown-fields")
        and "properties" not in schema
    ):
        return st.dictionaries(_WORD, _WORD, max_size=2)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if type_name == "string":
        return _string(schema)
    if type_name == "integer":
        low = schema.get("minimum", -5)
        return st.integers(min_value=low, max_value=schema.get("maximum", low + 1000))
    if type_name == "boolean":
        return st.booleans()
    if type_name == "number":
        return st.integers(min_value=0, max_value=100)
    if type_name == "array":
        return st.lists(
            from_schema(schema["items"], depth + 1),
            max_size=min(3, schema.get("maxItems", 3)) if depth < _MAX_DEPTH else 1,
        )
    if "additionalProperties" in schema:
        return st.dictionaries(
            _KEY, from_schema(schema["additionalProperties"], depth + 1), max_size=3
        )
    return _object(schema, depth)


def _string(schema: JSONSchema) -> st.SearchStrategy[str]:
    if schema.get("format") == "date-time":
        return _DATE_TIME
    if "pattern" in schema:
        strategy = st.from_regex(schema["pattern"], fullmatch=True, alphabet=st.characters(
            codec="ascii", categories=("Ll", "Lu", "Nd", "Pd", "Po", "Pc")
        ))  # fmt: skip
    else:
        strategy = _TEXT
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    return strategy.filter(lambda s: len(s) >= low and (high is None or len(s) <= high))


def _object(schema: JSONSchema, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, JSONSchema] = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in properties]
    optional = sorted(k for k in properties if k not in required)
    # Deep or wide (embedded Kubernetes) objects get only a few optional fields.
    most = len(optional) if len(optional) <= 12 and depth < 2 else 2
    if depth >= _MAX_DEPTH:
        most = 0

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = []
        if optional and most:
            chosen = draw(st.lists(st.sampled_from(optional), unique=True, max_size=most))
        return {
            key: draw(
                POD_TEMPLATE_PATCHES
                if key == "podTemplatePatch"
                else from_schema(properties[key], depth + 1)
            )
            for key in sorted({*required, *chosen}, key=list(properties).index)
        }

    return build()


# A pod template patch's schema accepts any object; these are ones the webhook accepts.
_PATCH_LABELS = st.dictionaries(
    _WORD.filter(lambda k: k not in PROTECTED_POD_LABELS), _WORD, min_size=1, max_size=2
)
POD_TEMPLATE_PATCHES: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.fixed_dictionaries(
            {}, optional={"labels": _PATCH_LABELS, "annotations": _PATCH_LABELS}
        ),
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "initContainers": st.lists(
                    st.fixed_dictionaries({"name": _WORD, "image": st.just("busybox:1.36")}),
                    max_size=2,
                    unique_by=lambda c: c["name"],
                ),
                "hostAliases": st.lists(
                    st.fixed_dictionaries(
                        {
                            "ip": st.sampled_from(["10.0.0.1", "10.0.0.2"]),
                            "hostnames": st.lists(_WORD, min_size=1, max_size=2),
                        }
                    ),
                    max_size=2,
                    unique_by=lambda a: a["ip"],
                ),
                "dnsPolicy": st.sampled_from(["ClusterFirst", "Default"]),
                "terminationGracePeriodSeconds": st.integers(min_value=0, max_value=60),
            },
        ),
    },
)


def _metadata(name_max: int = 40) -> st.SearchStrategy[dict[str, Any]]:
    name = st.from_regex(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?", fullmatch=True).filter(
        lambda s: len(s) <= name_max
    )
    return st.fixed_dictionaries(
        {"name": name, "namespace": st.sampled_from(["default", "load-tests"])},
        optional={
            "labels": st.dictionaries(_KEY, _WORD, min_size=1, max_size=2),
            # Never the reserved conversion.locust.io/* keys.
            "annotations": st.dictionaries(_WORD, _TEXT, min_size=1, max_size=2),
            "uid": st.uuids().map(str),
            "resourceVersion": st.integers(min_value=1, max_value=10**6).map(str),
            "generation": st.integers(min_value=1, max_value=9),
        },
    )


def _objects(schema: JSONSchema, api_version: str) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema["properties"]
    return st.fixed_dictionaries(
        {
            "apiVersion": st.just(api_version),
            "kind": st.just(names.KIND),
            "metadata": _metadata(),
            "spec": from_schema(properties["spec"]),
        },
        optional={"status": from_schema(properties["status"])},
    )


def v2_specs() -> st.SearchStrategy[dict[str, Any]]:
    return from_schema(v2_schema()["properties"]["spec"])


def v1_specs() -> st.SearchStrategy[dict[str, Any]]:
    return from_schema(v1_schema()["properties"]["spec"])


_V2_ONLY_KEYS = ["env", "volumes", "volumeMounts", "security", "observability", "testFiles"]


@st.composite
def _v2_from_v1(draw: st.DrawFn) -> dict[str, Any]:
    """A v2 object as v1 -> v2 produces it, optionally with v2-only fields added."""
    obj = convert_v1_to_v2(draw(v1_objects()))
    extra = draw(v2_specs())
    for key in draw(st.lists(st.sampled_from(_V2_ONLY_KEYS), unique=True, max_size=2)):
        if key in extra:
            obj["spec"][key] = extra[key]
    if draw(st.booleans()) and "master" in extra:
        obj["spec"]["master"] = {**obj["spec"]["master"], **extra["master"]}
    return obj


def v2_objects() -> st.SearchStrategy[dict[str, Any]]:
    """Arbitrary schema-valid v2 objects, and ones close to what v1 can express."""
    return st.one_of(_objects(v2_schema(), names.V2_API_VERSION), _v2_from_v1())


def v1_objects() -> st.SearchStrategy[dict[str, Any]]:
    return _objects(v1_schema(), names.V1_API_VERSION)


def v1_edits() -> st.SearchStrategy[tuple[str, Any]]:
    """(v1 spec key, new value) pairs; a value of None means: delete the key."""
    spec = v1_schema()["properties"]["spec"]
    keys = sorted(spec["properties"])
    required = set(spec.get("required", []))
    return st.sampled_from(keys).flatmap(
        lambda key: st.tuples(
            st.just(key),
            from_schema(spec["properties"][key])
            if key in required
            else st.one_of(st.none(), from_schema(spec["properties"][key])),
        )
    )
