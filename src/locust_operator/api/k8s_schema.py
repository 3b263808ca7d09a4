"""OpenAPI v3 (structural) schemas for embedded Kubernetes types, derived from lightkube-models.

lightkube's model classes are msgspec Structs: ``typing.get_type_hints`` gives each field's
Python type (non-``Optional`` means required) and the class docstring lists every field with
its description and original API type (``resource.Quantity``, ``util_intstr.IntOrString``,
``Time``, ``FieldsV1`` ...), which the Python type alone does not reveal.
"""

from __future__ import annotations

import copy
import datetime
import functools
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

import msgspec
import msgspec.structs

JSONSchema = dict[str, Any]

# Kubernetes' own pattern for resource.Quantity (as emitted by controller-gen).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

# lightkube types these as plain ``dict``; in the Go API they are ResourceList
# (map[ResourceName]resource.Quantity).
_QUANTITY_MAPS = {
    ("ResourceRequirements", "limits"),
    ("ResourceRequirements", "requests"),
    ("VolumeResourceRequirements", "limits"),
    ("VolumeResourceRequirements", "requests"),
}

# Plain ``dict`` fields that are map[string]string in the Go API. The docstrings rarely say so
# explicitly, hence this list; any other ``dict`` falls back to preserve-unknown-fields and is
# reported by :func:`unclassified_maps` so a lightkube-models upgrade cannot slip one through.
_STRING_MAPS = {
    ("ObjectMeta", "labels"),
    ("ObjectMeta", "annotations"),
    ("LabelSelector", "matchLabels"),
    ("CSIVolumeSource", "volumeAttributes"),
    ("FlexVolumeSource", "options"),
    ("PodSpec", "nodeSelector"),
    ("ConfigMap", "data"),
}

_FIELD_RE = re.compile(r"^\s*\* \*\*(?P<name>\w+)\*\* ``(?P<type>[^`]+)`` - ?(?P<desc>.*)$")

_UNCLASSIFIED: set[tuple[str, str]] = set()


def quantity_schema() -> JSONSchema:
    return {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": True,
    }


def int_or_string_schema() -> JSONSchema:
    return {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}


def _squash(text: str) -> str:
    return " ".join(text.split())


@functools.cache
def parse_docstring(cls: type) -> tuple[str, dict[str, tuple[str, str]]]:
    """Return (class description, {field: (original type, description)}) from a model docstring."""
    doc = cls.__doc__ or ""
    head, _, params = doc.partition("**parameters**")
    fields: dict[str, tuple[str, str]] = {}
    current: str | None = None
    for line in params.splitlines():
        match = _FIELD_RE.match(line)
        if match:
            current = match["name"]
            fields[current] = (match["type"], match["desc"])
        elif current is not None and line.strip():
            original, desc = fields[current]
            fields[current] = (original, f"{desc} {line.strip()}")
    return _squash(head), {k: (t, _squash(d)) for k, (t, d) in fields.items()}


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != len(typing.get_args(tp)):
            inner = args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
            return inner, True
    return tp, False


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _type_schema(
    tp: Any, owner: str, field: str, original: str, description: str, stack: tuple[type, ...]
) -> JSONSchema:
    if "IntOrString" in original:
        return int_or_string_schema()
    if "Quantity" in original:
        return quantity_schema()
    if "FieldsV1" in original:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if tp is Any or tp is object:
        return {"x-kubernetes-preserve-unknown-fields": True}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is datetime.datetime or original.endswith("Time]") or original in ("Time", "MicroTime"):
        return {"type": "string", "format": "date-time"}
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        item_schema = _type_schema(item, owner, field, original, description, stack)
        return {"type": "array", "items": item_schema}
    if tp is dict or origin is dict:
        if (owner, field) in _QUANTITY_MAPS:
            return {"type": "object", "additionalProperties": quantity_schema()}
        if (owner, field) in _STRING_MAPS or "map[string]string" in description:
            return {"type": "object", "additionalProperties": {"type": "string"}}
        _UNCLASSIFIED.add((owner, field))
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if _is_struct(tp):
        return _struct_schema(tp, stack)
    # Union[int, str] is lightkube's IntOrString alias.
    is_union = typing.get_origin(tp) in (typing.Union, types.UnionType)
    if is_union and set(typing.get_args(tp)) == {int, str}:
        return int_or_string_schema()
    raise TypeError(f"cannot derive a schema for {owner}.{field}: {tp!r}")


def _struct_schema(cls: type, stack: tuple[type, ...]) -> JSONSchema:
    if cls in stack:
        # A recursive type: stop here and accept anything rather than loop forever.
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    stack = (*stack, cls)
    _, docs = parse_docstring(cls)
    hints = typing.get_type_hints(cls)
    properties: JSONSchema = {}
    required: list[str] = []
    # msgspec renames some attributes on the wire (not_ -> not, d_ref -> $ref).
    json_names = {f.name: f.encode_name for f in msgspec.structs.fields(cls)}
    for name in sorted(hints, key=lambda n: json_names.get(n, n)):
        json_name = json_names.get(name, name)
        tp, optional = _unwrap_optional(hints[name])
        original, description = docs.get(name) or docs.get(json_name) or ("", "")
        prop = _type_schema(tp, cls.__name__, json_name, original, description, stack)
        if description:
            prop = {"description": description, **prop}
        properties[json_name] = prop
        if not optional:
            required.append(json_name)
    schema: JSONSchema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


@functools.cache
def _cached_schema(cls: type) -> JSONSchema:
    return _struct_schema(cls, ())


def k8s_schema(
    cls: type,
    *,
    description: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> JSONSchema:
    """Full structural schema of a lightkube model class (a fresh copy the caller may mutate).

    ``overrides`` merges extra keywords into top-level properties, e.g. ``maxLength`` so that
    CEL rules comparing them stay within the apiserver's cost budget.
    """
    if not _is_struct(cls):
        raise TypeError(f"{cls!r} is not a lightkube model class")
    schema = copy.deepcopy(_cached_schema(cls))
    if description is None:
        description = parse_docstring(cls)[0]
    if description:
        schema = {"description": description, **schema}
    for prop, extra in (overrides or {}).items():
        if prop not in schema["properties"]:
            raise KeyError(f"{cls.__name__} has no property {prop!r}")
        schema["properties"][prop].update(copy.deepcopy(dict(extra)))
    return schema


def unclassified_maps() -> frozenset[tuple[str, str]]:
    """``dict`` fields seen so far that fell back to preserve-unknown-fields (should be none)."""
    return frozenset(_UNCLASSIFIED)
