"""A small declarative layer: typed dataclasses that are the single source of truth for the API.

Each API type is a ``@dataclass(kw_only=True)`` whose fields are declared with :func:`prop`.
From these definitions this module derives

* the OpenAPI v3 schema for the CRD (:func:`openapi_schema`),
* schema defaulting exactly as the apiserver performs it (:func:`apply_defaults`),
* parsing from and dumping to camelCase JSON dicts (:func:`from_json`, :func:`to_json`).

Supported field types: ``str``, ``int``, ``bool``, ``Literal[...]`` of strings (an enum),
``list[T]``, ``dict[str, str]``, nested API dataclasses, ``X | None`` for optional fields, and
embedded Kubernetes objects (``K8sObject`` / ``list[K8sObject]`` plus ``prop(k8s=ModelClass)``),
which stay plain dicts in Python so nothing unknown is lost and are typed for the schema by the
lightkube model class.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from .k8s_schema import JSONSchema, k8s_schema

K8sObject = dict[str, Any]
"""An embedded Kubernetes object, kept as its JSON dict."""

T = TypeVar("T")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclasses.dataclass(frozen=True)
class Rule:
    """A CEL ``x-kubernetes-validations`` rule."""

    rule: str
    message: str
    field_path: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        if self.field_path is not None:
            out["fieldPath"] = self.field_path
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclasses.dataclass(frozen=True)
class Constraints:
    """Value validations for a schema node (used for list items)."""

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    rules: tuple[Rule, ...] = ()

    def apply(self, schema: JSONSchema) -> None:
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        if self.rules:
            schema["x-kubernetes-validations"] = [r.to_json() for r in self.rules]


@dataclasses.dataclass(frozen=True)
class Prop:
    """Schema metadata attached to one dataclass field (see :func:`prop`)."""

    description: str
    required: bool = False
    default: Any = NO_DEFAULT
    json_name: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    format: str | None = None
    max_items: int | None = None
    value: Constraints = Constraints()
    items: Constraints = Constraints()
    k8s: type | None = None
    k8s_extra: type | None = None
    k8s_overrides: Mapping[str, Mapping[str, Any]] | None = None
    list_map_keys: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    schema_override: Mapping[str, Any] | None = None
    nested_descriptions: bool = True


_META_KEY = "locust_operator.schema"


def prop(
    description: str,
    *,
    required: bool = False,
    default: Any = NO_DEFAULT,
    default_factory: Callable[[], Any] | None = None,
    json_name: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    format: str | None = None,
    max_items: int | None = None,
    items: Constraints | None = None,
    k8s: type | None = None,
    k8s_extra: type | None = None,
    k8s_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    list_map_keys: Sequence[str] = (),
    rules: Sequence[Rule] = (),
    schema_override: Mapping[str, Any] | None = None,
    nested_descriptions: bool = True,
) -> Any:
    """Declare an API field.

    ``default`` is the schema default (a JSON value); the Python default is the same value, so
    parsing an absent field gives what the apiserver would have stored. An object-valued field
    defaulted to ``{}`` passes its dataclass as ``default_factory``. Optional fields without a
    default are ``None`` in Python and absent in JSON. Required fields have no Python default.
    """
    if required and (default is not NO_DEFAULT or default_factory is not None):
        raise ValueError("a required field cannot have a default")
    meta = Prop(
        description=description,
        required=required,
        default={} if default_factory is not None else default,
        json_name=json_name,
        minimum=minimum,
        maximum=maximum,
        format=format,
        max_items=max_items,
        value=Constraints(min_length=min_length, max_length=max_length, pattern=pattern),
        items=items or Constraints(),
        k8s=k8s,
        k8s_extra=k8s_extra,
        k8s_overrides=k8s_overrides,
        list_map_keys=tuple(list_map_keys),
        rules=tuple(rules),
        schema_override=schema_override,
        nested_descriptions=nested_descriptions,
    )
    metadata = {_META_KEY: meta}
    if required:
        return dataclasses.field(metadata=metadata)
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if default is NO_DEFAULT:
        return dataclasses.field(default=None, metadata=metadata)
    if isinstance(default, list | dict):
        return dataclasses.field(
            default_factory=functools.partial(copy.deepcopy, default), metadata=metadata
        )
    return dataclasses.field(default=default, metadata=metadata)


_RULES_ATTR = "__cel_rules__"


def object_rules(*rules: Rule) -> Callable[[type[T]], type[T]]:
    """Class decorator attaching CEL rules to the object schema of an API dataclass."""

    def decorate(cls: type[T]) -> type[T]:
        setattr(cls, _RULES_ATTR, tuple(rules))
        return cls

    return decorate


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --------------------------------------------------------------------------------------------
# Type model: API dataclasses are compiled once into a small tree the other functions walk.


@dataclasses.dataclass(frozen=True)
class Scalar:
    type: Literal["string", "integer", "number", "boolean"]
    enum: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ListOf:
    item: Node


@dataclasses.dataclass(frozen=True)
class StringMap:
    pass


@dataclasses.dataclass(frozen=True)
class Opaque:
    """A JSON object kept verbatim whose schema is given by ``prop(schema_override=...)``."""


@dataclasses.dataclass(frozen=True)
class Embedded:
    """An embedded Kubernetes object; ``extra`` declares fields we add to it (e.g. ``target``)."""

    k8s: type
    extra: ObjectType | None
    overrides: Mapping[str, Mapping[str, Any]] | None


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    json_name: str
    node: Node
    prop: Prop


@dataclasses.dataclass(frozen=True)
class ObjectType:
    cls: type
    fields: tuple[Field, ...]

    @property
    def description(self) -> str:
        return " ".join((self.cls.__doc__ or "").split())

    @property
    def rules(self) -> tuple[Rule, ...]:
        rules: tuple[Rule, ...] = getattr(self.cls, _RULES_ATTR, ())
        return rules


Node = Scalar | ListOf | StringMap | Opaque | Embedded | ObjectType


def _node_for(tp: Any, meta: Prop, where: str) -> Node:
    if meta.k8s is not None:
        extra = object_type(meta.k8s_extra) if meta.k8s_extra is not None else None
        embedded = Embedded(meta.k8s, extra, meta.k8s_overrides)
        if tp == K8sObject:
            return embedded
        if tp == list[K8sObject]:
            return ListOf(embedded)
        raise TypeError(f"{where}: k8s= fields must be typed K8sObject or list[K8sObject]")
    if tp == K8sObject:
        if meta.schema_override is None:
            raise TypeError(f"{where}: a K8sObject field needs k8s= or schema_override=")
        return Opaque()
    if tp is str:
        return Scalar("string")
    if tp is int:
        return Scalar("integer")
    if tp is bool:
        return Scalar("boolean")
    if tp is float:
        return Scalar("number")
    origin = typing.get_origin(tp)
    if origin is Literal:
        values = typing.get_args(tp)
        if not all(isinstance(v, str) for v in values):
            raise TypeError(f"{where}: only string Literals are supported")
        return Scalar("string", tuple(values))
    if origin is list:
        (item,) = typing.get_args(tp)
        return ListOf(_node_for(item, Prop(description=""), where))
    if origin is dict:
        if typing.get_args(tp) != (str, str):
            raise TypeError(f"{where}: only dict[str, str] maps are supported")
        return StringMap()
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return object_type(tp)
    raise TypeError(f"{where}: unsupported field type {tp!r}")


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


_OBJECT_TYPES: dict[type, ObjectType] = {}


def object_type(cls: type) -> ObjectType:
    """Compile an API dataclass into the type tree (cached)."""
    cached = _OBJECT_TYPES.get(cls)
    if cached is None:
        cached = _OBJECT_TYPES[cls] = _compile(cls)
    return cached


def _compile(cls: type) -> ObjectType:
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields: list[Field] = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_META_KEY)
        where = f"{cls.__name__}.{f.name}"
        if not isinstance(meta, Prop):
            raise TypeError(f"{where} must be declared with prop()")
        tp, optional = _unwrap_optional(hints[f.name])
        if meta.required and optional:
            raise TypeError(f"{where}: a required field must not be Optional")
        if not meta.required and not optional and meta.default is NO_DEFAULT:
            raise TypeError(f"{where}: a field without default must be Optional")
        json_name = meta.json_name or camel(f.name)
        fields.append(Field(f.name, json_name, _node_for(tp, meta, where), meta))
    return ObjectType(cls, tuple(fields))


# --------------------------------------------------------------------------------------------
# OpenAPI schema


def _node_schema(node: Node) -> JSONSchema:
    if isinstance(node, Scalar):
        schema: JSONSchema = {"type": node.type}
        if node.enum:
            schema["enum"] = list(node.enum)
        return schema
    if isinstance(node, ListOf):
        return {"type": "array", "items": _node_schema(node.item)}
    if isinstance(node, StringMap):
        return {"type": "object", "additionalProperties": {"type": "string"}}
    if isinstance(node, Opaque):
        raise TypeError("an Opaque node has no schema of its own")
    if isinstance(node, Embedded):
        schema = k8s_schema(node.k8s, overrides=node.overrides)
        if node.extra is not None:
            extra = _object_schema(node.extra)
            schema["properties"].update(extra["properties"])
            schema["required"] = [*schema.get("required", []), *extra.get("required", [])]
            if not schema["required"]:
                del schema["required"]
        return schema
    return _object_schema(node)


def _field_schema(field: Field) -> JSONSchema:
    meta = field.prop
    if meta.schema_override is not None:
        # Verbatim: the root ``metadata`` schema, for one, must not even carry a description.
        return copy.deepcopy(dict(meta.schema_override))
    schema = _node_schema(field.node)
    # The field's own description wins over the type's (as in the Kubernetes OpenAPI).
    schema.pop("description", None)
    if not meta.nested_descriptions:
        schema = _without_descriptions(schema)
    schema = {"description": meta.description, **schema}
    if meta.default is not NO_DEFAULT:
        schema["default"] = copy.deepcopy(meta.default)
    if meta.format is not None:
        schema["format"] = meta.format
    if meta.minimum is not None:
        schema["minimum"] = meta.minimum
    if meta.maximum is not None:
        schema["maximum"] = meta.maximum
    meta.value.apply(schema)
    if isinstance(field.node, ListOf):
        if meta.max_items is not None:
            schema["maxItems"] = meta.max_items
        item = schema["items"]
        meta.items.apply(item)
        if meta.list_map_keys:
            schema["x-kubernetes-list-type"] = "map"
            schema["x-kubernetes-list-map-keys"] = list(meta.list_map_keys)
    if meta.rules:
        schema.setdefault("x-kubernetes-validations", []).extend(r.to_json() for r in meta.rules)
    return schema


def _without_descriptions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_descriptions(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [_without_descriptions(item) for item in schema]
    return schema


def _object_schema(obj: ObjectType) -> JSONSchema:
    schema: JSONSchema = {"type": "object"}
    if obj.description:
        schema = {"description": obj.description, **schema}
    schema["properties"] = {f.json_name: _field_schema(f) for f in obj.fields}
    required = [f.json_name for f in obj.fields if f.prop.required]
    if required:
        schema["required"] = required
    if obj.rules:
        schema["x-kubernetes-validations"] = [r.to_json() for r in obj.rules]
    return schema


def openapi_schema(cls: type) -> JSONSchema:
    """The OpenAPI v3 schema of an API dataclass (a fresh dict)."""
    return _object_schema(object_type(cls))


# --------------------------------------------------------------------------------------------
# Defaulting, parsing, dumping


def _default_node(node: Node, value: Any) -> Any:
    if isinstance(node, ObjectType):
        return _default_object(node, value)
    if isinstance(node, Embedded):
        return _default_object(node.extra, value) if node.extra is not None else value
    if isinstance(node, ListOf) and isinstance(value, list):
        return [_default_node(node.item, v) for v in value]
    return value


def _default_object(obj: ObjectType, value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for f in obj.fields:
        if f.json_name not in out and f.prop.default is not NO_DEFAULT:
            out[f.json_name] = copy.deepcopy(f.prop.default)
        if f.json_name in out:
            out[f.json_name] = _default_node(f.node, out[f.json_name])
    return out


def apply_defaults(cls: type, value: Mapping[str, Any]) -> dict[str, Any]:
    """Apply schema defaults the way the apiserver does (pure; unknown keys are kept).

    A default fills an absent property of an object that exists; defaults inside a freshly
    defaulted value are applied too. Nothing is created for absent optional parents.
    """
    result = _default_object(object_type(cls), copy.deepcopy(dict(value)))
    assert isinstance(result, dict)
    return result


class ParseError(ValueError):
    """The JSON does not have the shape the API type declares."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _parse_node(node: Node, value: Any, path: str) -> Any:
    if isinstance(node, Scalar):
        if node.type == "number":  # JSON numbers: an integer is a number too
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParseError(path, f"expected number, got {type(value).__name__}")
            return float(value)
        expected: type = {"string": str, "integer": int, "boolean": bool}[node.type]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ParseError(path, f"expected {node.type}, got {type(value).__name__}")
        if node.enum and value not in node.enum:
            raise ParseError(path, f"{value!r} is not one of {list(node.enum)}")
        return value
    if isinstance(node, ListOf):
        if not isinstance(value, list):
            raise ParseError(path, f"expected array, got {type(value).__name__}")
        return [_parse_node(node.item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(node, StringMap):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ParseError(path, "expected a map of strings")
        return dict(value)
    if isinstance(node, Embedded | Opaque):
        if not isinstance(value, dict):
            raise ParseError(path, f"expected object, got {type(value).__name__}")
        return copy.deepcopy(value)
    return _parse_object(node, value, path)


def _parse_object(obj: ObjectType, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise ParseError(path, f"expected object, got {type(value).__name__}")
    kwargs: dict[str, Any] = {}
    for f in obj.fields:
        sub = f"{path}.{f.json_name}" if path else f.json_name
        if f.json_name in value and value[f.json_name] is not None:
            kwargs[f.name] = _parse_node(f.node, value[f.json_name], sub)
        elif f.prop.required:
            raise ParseError(sub, "required field is missing")
    return obj.cls(**kwargs)


def from_json(cls: type[T], value: Mapping[str, Any], *, path: str = "") -> T:
    """Parse a JSON dict into an API dataclass, applying schema defaults first."""
    obj = object_type(cls)
    parsed: T = _parse_object(obj, apply_defaults(cls, value), path)
    return parsed


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return copy.deepcopy(value)
    return value


def to_json(value: Any) -> dict[str, Any]:
    """Dump an API dataclass instance to its camelCase JSON dict (``None`` fields omitted)."""
    obj = object_type(type(value))
    out: dict[str, Any] = {}
    for f in obj.fields:
        v = getattr(value, f.name)
        if v is not None:
            out[f.json_name] = _dump(v)
    return out


def matches(pattern: str, value: str) -> bool:
    """JSON-schema ``pattern`` semantics (a search; our patterns are anchored)."""
    return re.search(pattern, value) is not None
