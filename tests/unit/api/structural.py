"""A minimal validator and defaulter for the CRD's structural OpenAPI schemas (test-only).

It covers what our schemas use: type, required, enum, minimum/maximum, min/maxLength,
pattern, maxItems, format date-time, additionalProperties, x-kubernetes-int-or-string and
x-kubernetes-preserve-unknown-fields. Unknown fields are errors (the apiserver would prune them
silently, which for a manifest means a typo or a field our schema forgot). CEL rules are not
evaluated here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

JSONSchema = dict[str, Any]

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "number": (int, float),
}


def _type_ok(value: Any, type_name: str) -> bool:
    if type_name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[type_name])


def schema_errors(value: Any, schema: JSONSchema, path: str = "") -> list[str]:
    return list(_errors(value, schema, path or "<root>"))


def _errors(value: Any, schema: JSONSchema, path: str) -> Iterator[str]:
    if schema.get("x-kubernetes-int-or-string"):
        if not _type_ok(value, "integer") and not isinstance(value, str):
            yield f"{path}: expected integer or string, got {value!r}"
        elif isinstance(value, str) and not re.search(schema.get("pattern", ""), value):
            yield f"{path}: {value!r} does not match {schema['pattern']}"
        return
    type_name = schema.get("type")
    if type_name is None:
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            yield f"{path}: schema without type"
        return
    if not _type_ok(value, type_name):
        yield f"{path}: expected {type_name}, got {type(value).__name__}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{path}: {value!r} not in {schema['enum']}"
    if type_name == "string":
        yield from _string_errors(value, schema, path)
    elif type_name == "integer":
        if "minimum" in schema and value < schema["minimum"]:
            yield f"{path}: {value} < minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            yield f"{path}: {value} > maximum {schema['maximum']}"
    elif type_name == "array":
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield f"{path}: more than {schema['maxItems']} items"
        for i, item in enumerate(value):
            yield from _errors(item, schema["items"], f"{path}[{i}]")
    elif type_name == "object":
        yield from _object_errors(value, schema, path)


def _string_errors(value: str, schema: JSONSchema, path: str) -> Iterator[str]:
    if "minLength" in schema and len(value) < schema["minLength"]:
        yield f"{path}: shorter than {schema['minLength']}"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        yield f"{path}: longer than {schema['maxLength']}"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        yield f"{path}: {value!r} does not match {schema['pattern']}"
    if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
        yield f"{path}: {value!r} is not an RFC 3339 date-time"


def _object_errors(value: dict[str, Any], schema: JSONSchema, path: str) -> Iterator[str]:
    properties = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            yield f"{path}.{key}: required"
    for key, item in value.items():
        if path == "<root>" and key == "metadata" and isinstance(item, dict):
            # Root metadata is ObjectMeta; the schema may only restrict name / generateName.
            names = {k: v for k, v in item.items() if k in ("name", "generateName")}
            yield from _errors(names, properties.get(key, {"type": "object"}), f"{path}.{key}")
        elif key in properties:
            yield from _errors(item, properties[key], f"{path}.{key}")
        elif isinstance(schema.get("additionalProperties"), dict):
            yield from _errors(item, schema["additionalProperties"], f"{path}.{key}")
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            yield f"{path}.{key}: unknown field"


def apply_schema_defaults(value: Any, schema: JSONSchema) -> Any:
    """Structural defaulting as the apiserver does it, driven by the JSON schema alone."""
    value = copy.deepcopy(value)
    _default(value, schema)
    return value


def _default(value: Any, schema: JSONSchema) -> None:
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, prop in properties.items():
            if key not in value and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
        for key, item in value.items():
            if key in properties:
                _default(item, properties[key])
            elif isinstance(schema.get("additionalProperties"), dict):
                _default(item, schema["additionalProperties"])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(item, schema["items"])


def walk(schema: JSONSchema, path: str = "") -> Iterator[tuple[str, JSONSchema]]:
    """Every schema node with its path (properties as .name, items as [], maps as {})."""
    yield path, schema
    for key, prop in schema.get("properties", {}).items():
        yield from walk(prop, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")
    for i, sub in enumerate(schema.get("anyOf", [])):
        yield from walk(sub, f"{path}<anyOf{i}>")


def strip_defaults(value: Any, schema: JSONSchema) -> Any:
    """``value`` without what equals its schema default, and without emptied objects.

    Two values equal after this carry the same information once defaulted.
    """
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        out = {}
        for key, item in value.items():
            sub = properties.get(key) or schema.get("additionalProperties")
            if isinstance(sub, dict):
                item = strip_defaults(item, sub)
                if "default" in sub and item == strip_defaults(sub["default"], sub):
                    continue
            if item != {}:
                out[key] = item
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [strip_defaults(v, schema["items"]) for v in value]
    return value
