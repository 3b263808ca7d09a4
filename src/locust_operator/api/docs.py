"""The API reference (docs/api-reference.md), rendered from the API types.

Field names, types, defaults, constraints and descriptions come from the ``prop()``
declarations in :mod:`.v2`, :mod:`.v1` and :mod:`.status`; the status phases, condition
types and reasons from :mod:`.conditions`; the v1 -> v2 mapping from the
conversion's aspects. ``hack/gen-docs.py`` writes the file and a unit test fails when the
committed file drifts from :func:`render_api_reference`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from . import conditions, conversion, names, v1, v2
from . import status as api_status
from .schema import (
    NO_DEFAULT,
    Constraints,
    Embedded,
    Field,
    ListOf,
    Node,
    ObjectType,
    Opaque,
    Scalar,
    StringMap,
    object_type,
)

DOC_FILE = "docs/api-reference.md"

_ROOT_STANDARD_FIELDS = ("api_version", "kind", "metadata")


# --- markdown helpers ---------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text safe inside a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`"


def _heading(cls: type) -> str:
    return f"v1 {cls.__name__}" if cls.__module__ == v1.__name__ else cls.__name__


def slug(heading: str) -> str:
    """The anchor GitHub (and MkDocs) give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _link(cls: type) -> str:
    heading = _heading(cls)
    return f"[{heading}](#{slug(heading)})"


# --- type tree ----------------------------------------------------------------------------


def _object_types(root: ObjectType) -> list[ObjectType]:
    """Every API object type reachable from ``root``, depth first in field order."""
    seen: dict[type, ObjectType] = {}

    def visit(node: Node) -> None:
        if isinstance(node, ListOf):
            visit(node.item)
        elif isinstance(node, Embedded):
            if node.extra is not None:
                visit(node.extra)
        elif isinstance(node, ObjectType) and node.cls not in seen:
            seen[node.cls] = node
            for field in node.fields:
                visit(field.node)

    visit(root)
    return list(seen.values())


def _k8s_name(model: type) -> str:
    group = model.__module__.rsplit(".", 1)[-1]  # lightkube.models.core_v1 -> core_v1
    return f"{group.replace('_', '/')} {model.__name__}"


def _type(node: Node, field: Field | None = None) -> str:
    fmt = field.prop.format if field is not None else None
    if isinstance(node, Scalar):
        return f"{node.type} ({fmt})" if fmt else node.type
    if isinstance(node, ListOf):
        return "list of " + _type(node.item)
    if isinstance(node, StringMap):
        return "map of string"
    if isinstance(node, Opaque):
        return "object"
    if isinstance(node, Embedded):
        text = _k8s_name(node.k8s)
        if node.extra is not None:
            text += " + " + _link(node.extra.cls)
        return text
    return _link(node.cls)


def _range(low: int | None, high: int | None, unit: str = "") -> str | None:
    if low is not None and high is not None:
        return f"{low} to {high}{unit}"
    if low is not None:
        return f"at least {low}{unit}"
    if high is not None:
        return f"at most {high}{unit}"
    return None


def _value_constraints(constraints: Constraints) -> list[str]:
    out = []
    length = _range(constraints.min_length, constraints.max_length, " characters")
    if length:
        out.append(length)
    if constraints.pattern:
        out.append(f"pattern {_code(constraints.pattern)}")
    return out


def _scalar_enum(node: Node) -> tuple[str, ...]:
    if isinstance(node, Scalar):
        return node.enum
    if isinstance(node, ListOf):
        return _scalar_enum(node.item)
    return ()


def _constraints(field: Field) -> str:
    meta = field.prop
    out: list[str] = []
    enum = _scalar_enum(field.node)
    if enum:
        out.append("one of " + ", ".join(_code(v) for v in enum))
    numeric = _range(meta.minimum, meta.maximum)
    if numeric:
        out.append(numeric)
    out += _value_constraints(meta.value)
    if meta.max_items is not None:
        out.append(f"at most {meta.max_items} items")
    item = _value_constraints(meta.items)
    if item:
        out.append("each item " + ", ".join(item))
    if meta.list_map_keys:
        out.append("one entry per " + ", ".join(_code(k) for k in meta.list_map_keys))
    for sub, overrides in (meta.k8s_overrides or {}).items():
        for key, value in overrides.items():
            text = f"at most {value} characters" if key == "maxLength" else f"{key} {value}"
            out.append(f"{_code(sub)} {text}")
    return "; ".join(out)


def _default(field: Field) -> str:
    default = field.prop.default
    return "" if default is NO_DEFAULT else _code(json.dumps(default))


def _rules(obj: ObjectType) -> list[tuple[str, str]]:
    """(where, message) of every CEL rule declared on the type, its fields and items."""
    found = [("", rule.message) for rule in obj.rules]
    for field in obj.fields:
        found += [(field.json_name, rule.message) for rule in field.prop.rules]
        found += [(f"{field.json_name}[]", rule.message) for rule in field.prop.items.rules]
    return found


def _render_type(obj: ObjectType) -> Iterator[str]:
    yield f"### {_heading(obj.cls)}"
    yield ""
    if obj.description:
        yield obj.description
        yield ""
    fields = list(obj.fields)
    if obj.cls in (v2.LocustTest, v1.LocustTest):
        fields = [f for f in fields if f.name not in _ROOT_STANDARD_FIELDS]
        yield "Besides the standard `apiVersion`, `kind` and `metadata`:"
        yield ""
    yield "| Field | Type | Required | Default | Description | Constraints |"
    yield "| --- | --- | --- | --- | --- | --- |"
    for field in fields:
        row = (
            _code(field.json_name),
            _type(field.node, field),
            "yes" if field.prop.required else "",
            _default(field),
            field.prop.description,
            _constraints(field),
        )
        yield "| " + " | ".join(_cell(c) for c in row) + " |"
    yield ""
    rules = _rules(obj)
    if rules:
        yield "Rules (CEL validation in the CRD; the webhook, when enabled, checks the same):"
        yield ""
        for where, message in rules:
            prefix = f"{_code(where)}: " if where else ""
            yield f"- {prefix}{' '.join(message.split())}"
        yield ""


# --- status: phases, conditions, reasons ------------------------------------------------------


def _render_status() -> Iterator[str]:
    yield "### Phases"
    yield ""
    yield "| Phase | Meaning |"
    yield "| --- | --- |"
    for phase in conditions.PHASE_MEANINGS:
        yield f"| {_code(phase.word)} | {_cell(phase.meaning)} |"
    yield ""
    yield "### Conditions"
    yield ""
    yield "| Type | Reason | Status | Meaning |"
    yield "| --- | --- | --- | --- |"
    for kind in conditions.CONDITION_TYPES:
        yield f"| {_code(kind.word)} | | | {_cell(kind.meaning)} |"
        for reason in kind.reasons:
            yield f"| | {_code(reason.word)} | {reason.status} | {_cell(reason.meaning)} |"
    yield ""


# --- v1 -> v2 -------------------------------------------------------------------------------

_MAPPING_NOTES = {
    "imagePullSecrets": "Each name becomes a `{name: ...}` reference.",
    "labels": "`master` and `worker` go to the matching role.",
    "annotations": "`master` and `worker` go to the matching role.",
    "configMap": "Mounted at the default `testFiles.srcMountPath`, `/lotest/src`.",
    "libConfigMap": "Mounted at the default `testFiles.libMountPath`, `/opt/locust/lib`.",
    "affinity": (
        "Each `key: value` of `nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution` "
        "becomes an `In [value]` requirement of one node selector term. Back to v1, only a "
        "single term's one-value `In` requirements can be shown."
    ),
    "tolerations": "Back to v1, only `key`, `operator`, `value` and `effect` are shown.",
}


def _v2_path(path: tuple[str, ...]) -> str:
    return _code("spec." + ".".join(path))


def _render_mapping() -> Iterator[str]:
    yield "| v1 field | v2 field | When absent in v1 | Notes |"
    yield "| --- | --- | --- | --- |"
    for aspect in conversion.ASPECTS:
        absent = aspect.to_v2(conversion.MISSING)
        when_absent = ", ".join(
            f"{_v2_path(p)} = {_code(json.dumps(v))}" for p, v in absent.items()
        )
        row = (
            _code("spec." + aspect.v1_key),
            ", ".join(_v2_path(p) for p in aspect.v2_paths),
            when_absent,
            _MAPPING_NOTES.get(aspect.v1_key, ""),
        )
        yield "| " + " | ".join(_cell(c) for c in row) + " |"
    yield ""


# --- the document -----------------------------------------------------------------------------


def _printer_columns() -> Iterator[str]:
    from .crd import generate_crd

    versions = {v["name"]: v for v in generate_crd()["spec"]["versions"]}
    for version in (names.V2, names.V1):
        columns = versions[version]["additionalPrinterColumns"]
        shown = ", ".join(
            f"{_code(c['name'])} ({_code(c['jsonPath'])}"
            + (", with `-o wide`" if c.get("priority") else "")
            + ")"
            for c in columns
        )
        yield f"- {version}: {shown}"


def documented_types() -> tuple[list[ObjectType], list[ObjectType], list[ObjectType]]:
    """The object types the reference has a section for: v2's, the status's, v1's own."""
    v2_types = _object_types(object_type(v2.LocustTest))
    status_types = [t for t in v2_types if t.cls.__module__ == api_status.__name__]
    v2_types = [t for t in v2_types if t not in status_types]
    v1_types = [
        t for t in _object_types(object_type(v1.LocustTest)) if t.cls.__module__ == v1.__name__
    ]
    return v2_types, status_types, v1_types


def render_api_reference() -> str:
    v2_types, status_types, v1_types = documented_types()

    lines = [
        "# LocustTest API reference",
        "",
        "<!-- Generated from src/locust_operator/api/ by hack/gen-docs.py: do not edit. -->",
        "",
        f"Group `{names.GROUP}`, kind `{names.KIND}`, namespaced, plural `{names.PLURAL}`, "
        f"short name `{names.SHORT_NAMES[0]}`. Two versions are served:",
        "",
        "| Version | Stored | Status |",
        "| --- | --- | --- |",
        f"| `{names.V2_API_VERSION}` | yes | current |",
        f'| `{names.V1_API_VERSION}` | no | deprecated ("{names.V1_DEPRECATION_WARNING}"); '
        "converted to and from v2 by the operator's conversion webhook |",
        "",
        "Columns of `kubectl get locusttests`:",
        "",
        *_printer_columns(),
        "",
        "Defaults are part of the CRD schema: the apiserver fills them in. `kubectl explain "
        "locusttest.spec` shows the same descriptions. Embedded Kubernetes types (`core/v1 ...`) "
        "accept everything their Kubernetes API does.",
        "",
        "Contents: [locust.io/v2](#locustiov2) · [Status](#status) · "
        "[locust.io/v1](#locustiov1-deprecated) · [v1 to v2 mapping](#v1-to-v2-mapping)",
        "",
        "## locust.io/v2",
        "",
    ]
    for obj in v2_types:
        lines += _render_type(obj)
    lines += [
        "## Status",
        "",
        "The same status on both versions, written by the operator only (status subresource).",
        "",
    ]
    for obj in status_types:
        lines += _render_type(obj)
    lines += _render_status()
    lines += [
        "## locust.io/v1 (deprecated)",
        "",
        "The flat first version. Only `image` is required. Its `status` is the v2 "
        f"[LocustTestStatus]({'#' + slug('LocustTestStatus')}).",
        "",
    ]
    for obj in v1_types:
        lines += _render_type(obj)
    lines += [
        "## v1 to v2 mapping",
        "",
        "What the conversion webhook does with each v1 field. Every other v2 field has no v1 "
        "counterpart; nothing is lost either way: a v1 view of an object that uses v2-only "
        f"fields carries the v2 spec in the `{conversion.V2_SPEC_ANNOTATION}` annotation, and "
        "v1 spellings v2 cannot hold (an absent command seed, unknown keys, ...) ride in "
        f"`{conversion.V1_SPEC_ANNOTATION}` on the v2 object. Both annotations are reserved.",
        "",
    ]
    lines += _render_mapping()
    return "\n".join(lines).rstrip("\n") + "\n"
