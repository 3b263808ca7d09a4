"""Lossless conversion of whole LocustTest objects between locust.io/v1 and locust.io/v2 (hub).

The v1 fields map onto v2 one by one ("aspects", one per v1 spec key); everything else is v2-only.
The reference operator drops what the other version cannot hold; we keep it in annotations
so that v2 -> v1 -> v2 and v1 -> v2 -> v1 give back exactly the same object:

``conversion.locust.io/v2-spec`` (on v1 views)
    JSON ``{"spec": <the whole v2 spec>, "v1Spec": <v2's v1-spec annotation, if any>}``, written
    only when the plain v1 view would not convert back to the same v2 object. When a v1 client
    writes the object back (read-modify-write), the v2 spec is restored and only the v1 fields
    that differ from what v2 -> v1 produced are applied on top, so v2-only fields survive.
``conversion.locust.io/v1-spec`` (on v2 views)
    JSON ``{<v1 key>: <value> | null (absent)}`` for the few v1 spellings v2 cannot represent
    (absent command seeds or replicas, ``labels: {}``, empty affinity maps, an absent
    imagePullPolicy, which v2 defaults to IfNotPresent, unknown keys). An entry is used only
    while the v2 value still equals what it converts to, so v2 edits win.

Both keys are reserved: each is stripped when converting into the other version. Conversion
of v1 -> v2 fills in v2 schema defaults (as the apiserver would on read), so an object created
as v1 reads back as v1 exactly, without any annotation.

Decision: a v1 object without ``masterCommandSeed`` / ``workerCommandSeed`` gets
``command: ""`` in v2 (Locust then runs with the operator's flags only, like the reference);
without ``workerReplicas`` it gets ``replicas: 1``, the v1 default.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import names, v2
from .defaults import apply_defaults_v2
from .schema import object_type

V2_SPEC_ANNOTATION = "conversion.locust.io/v2-spec"
V1_SPEC_ANNOTATION = "conversion.locust.io/v1-spec"
RESERVED_ANNOTATIONS = (V2_SPEC_ANNOTATION, V1_SPEC_ANNOTATION)

SUPPORTED_API_VERSIONS = (names.V1_API_VERSION, names.V2_API_VERSION)


class ConversionError(ValueError):
    """The object cannot be converted (not a LocustTest, unknown version, malformed)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
Path = tuple[str, ...]


# --- dict path helpers --------------------------------------------------------------------


def _get(data: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return MISSING
        data = data[key]
    return data


def _set(data: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[path[-1]] = copy.deepcopy(value)


def _delete(data: dict[str, Any], path: Path) -> None:
    """Delete ``path`` and the parents this leaves empty."""
    parents: list[dict[str, Any]] = []
    node: Any = data
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return
        parents.append(node)
        node = node[key]
    if not isinstance(node, dict) or path[-1] not in node:
        return
    del node[path[-1]]
    for parent, key in zip(reversed(parents), reversed(path[:-1]), strict=True):
        if parent[key]:
            break
        del parent[key]


# --- aspects: one v1 spec key <-> its v2 paths ---------------------------------------------

V2Values = dict[Path, Any]


@dataclass(frozen=True)
class Aspect:
    v1_key: str
    v2_paths: tuple[Path, ...]
    to_v2: Callable[[Any], V2Values]  # v1 value (or MISSING) -> {v2 path: value}
    from_v2: Callable[[V2Values], Any]  # {v2 path: value} -> v1 value (or MISSING)

    def v2_values(self, spec2: Mapping[str, Any]) -> V2Values:
        values = {p: _get(spec2, p) for p in self.v2_paths}
        return {p: v for p, v in values.items() if v is not MISSING}


def _direct(
    v1_key: str, path: Path, absent: Any = MISSING, allowed: tuple[Any, ...] = ()
) -> Aspect:
    def to_v2(value: Any) -> V2Values:
        if value is MISSING:
            return {} if absent is MISSING else {path: absent}
        return {path: value}

    def from_v2(values: V2Values) -> Any:
        value = values.get(path, MISSING)
        if allowed and value not in allowed:
            return MISSING
        return value

    return Aspect(v1_key, (path,), to_v2, from_v2)


def _pull_secrets() -> Aspect:
    path: Path = ("imagePullSecrets",)

    def to_v2(value: Any) -> V2Values:
        if not isinstance(value, list):
            return {}
        return {path: [{"name": name} for name in value]}

    def from_v2(values: V2Values) -> Any:
        refs = values.get(path, MISSING)
        if not isinstance(refs, list):
            return MISSING
        return [r["name"] for r in refs if isinstance(r, dict) and isinstance(r.get("name"), str)]

    return Aspect("imagePullSecrets", (path,), to_v2, from_v2)


def _per_role(v1_key: str, v2_field: str) -> Aspect:
    paths: dict[str, Path] = {role: (role, v2_field) for role in ("master", "worker")}

    def to_v2(value: Any) -> V2Values:
        if not isinstance(value, dict):
            return {}
        return {paths[role]: value[role] for role in paths if role in value}

    def from_v2(values: V2Values) -> Any:
        present = {role: values[p] for role, p in paths.items() if p in values}
        return present or MISSING

    return Aspect(v1_key, tuple(paths.values()), to_v2, from_v2)


_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_NODE_SELECTOR_PATH: Path = ("scheduling", "affinity", "nodeAffinity", _REQUIRED)


def _affinity() -> Aspect:
    def to_v2(value: Any) -> V2Values:
        required = _get(value, ("nodeAffinity", _REQUIRED))
        if not isinstance(required, dict) or not required:
            return {}
        # One term whose requirements are ANDed, like the v1 map; sorted for determinism.
        expressions = [
            {"key": key, "operator": "In", "values": [required[key]]} for key in sorted(required)
        ]
        return {_NODE_SELECTOR_PATH: {"nodeSelectorTerms": [{"matchExpressions": expressions}]}}

    def from_v2(values: V2Values) -> Any:
        terms = _get(values.get(_NODE_SELECTOR_PATH), ("nodeSelectorTerms",))
        # v1 cannot express ORed terms; only a single term's 'In [one value]' requirements.
        if not isinstance(terms, list) or len(terms) != 1:
            return MISSING
        required: dict[str, str] = {}
        expressions = _get(terms[0], ("matchExpressions",))
        for expr in expressions if isinstance(expressions, list) else []:
            if not isinstance(expr, dict) or expr.get("operator") != "In":
                continue
            key, vals = expr.get("key"), expr.get("values")
            one_value = isinstance(vals, list) and len(vals) == 1 and isinstance(vals[0], str)
            if isinstance(key, str) and one_value:
                assert isinstance(vals, list)
                required.setdefault(key, vals[0])
        if not required:
            return MISSING
        return {"nodeAffinity": {_REQUIRED: required}}

    return Aspect("affinity", (_NODE_SELECTOR_PATH,), to_v2, from_v2)


_TOLERATION_ENUMS: dict[str, tuple[str, ...]] = {
    "operator": ("Exists", "Equal"),
    "effect": ("NoSchedule", "PreferNoSchedule", "NoExecute"),
}


def _tolerations() -> Aspect:
    path: Path = ("scheduling", "tolerations")

    def to_v2(value: Any) -> V2Values:
        return {path: value} if isinstance(value, list) else {}

    def from_v2(values: V2Values) -> Any:
        tolerations = values.get(path, MISSING)
        if not isinstance(tolerations, list):
            return MISSING
        out = []
        for toleration in tolerations:
            if not isinstance(toleration, dict):
                continue
            kept = {}
            for key in ("key", "operator", "value", "effect"):
                value = toleration.get(key)
                if isinstance(value, str) and value in _TOLERATION_ENUMS.get(key, (value,)):
                    kept[key] = value
            out.append(kept)
        return out

    return Aspect("tolerations", (path,), to_v2, from_v2)


def _v2_default(field_name: str) -> Any:
    (field,) = [f for f in object_type(v2.LocustTestSpec).fields if f.name == field_name]
    return field.prop.default


ASPECTS: tuple[Aspect, ...] = (
    _direct("image", ("image",)),
    _direct(
        "imagePullPolicy",
        ("imagePullPolicy",),
        absent=_v2_default("image_pull_policy"),
        allowed=("Always", "IfNotPresent", "Never"),
    ),
    _pull_secrets(),
    _direct("masterCommandSeed", ("master", "command"), absent=""),
    _direct("workerCommandSeed", ("worker", "command"), absent=""),
    _direct("workerReplicas", ("worker", "replicas"), absent=1),
    _per_role("labels", "labels"),
    _per_role("annotations", "annotations"),
    _direct("configMap", ("testFiles", "configMapRef")),
    _direct("libConfigMap", ("testFiles", "libConfigMapRef")),
    _affinity(),
    _tolerations(),
)
_ASPECT_KEYS = frozenset(a.v1_key for a in ASPECTS)


# --- spec conversion ------------------------------------------------------------------------


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _load_dict(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _v1_spec(spec2: Mapping[str, Any], residual: Mapping[str, Any] | None) -> dict[str, Any]:
    """The v1 spec for a v2 spec, using the residual's v1 spellings that still apply."""
    residual = residual or {}
    spec1: dict[str, Any] = {}
    for aspect in ASPECTS:
        values = aspect.v2_values(spec2)
        value = aspect.from_v2(values)
        if aspect.v1_key in residual:
            kept = residual[aspect.v1_key]
            kept = MISSING if kept is None else kept
            if aspect.to_v2(kept) == values:
                value = kept
        if value is not MISSING:
            spec1[aspect.v1_key] = copy.deepcopy(value)
    for key, value in residual.items():
        if key not in _ASPECT_KEYS and value is not None:
            spec1[key] = copy.deepcopy(value)
    return spec1


def _v1_residual(spec1: Mapping[str, Any], spec2: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`_v1_spec` needs beyond ``spec2`` to give back exactly ``spec1``."""
    residual: dict[str, Any] = {}
    for aspect in ASPECTS:
        value = spec1.get(aspect.v1_key, MISSING)
        if aspect.from_v2(aspect.v2_values(spec2)) != value:
            residual[aspect.v1_key] = None if value is MISSING else copy.deepcopy(value)
    for key, value in spec1.items():
        if key not in _ASPECT_KEYS:
            residual[key] = copy.deepcopy(value)
    return residual


def _plain_v2_spec(spec1: Mapping[str, Any]) -> dict[str, Any]:
    spec2: dict[str, Any] = {}
    for aspect in ASPECTS:
        for path, value in aspect.to_v2(spec1.get(aspect.v1_key, MISSING)).items():
            _set(spec2, path, value)
    return apply_defaults_v2(spec2)


def _merge_v1_edits(
    base: dict[str, Any], spec1: Mapping[str, Any], expected: Mapping[str, Any]
) -> dict[str, Any]:
    """``base`` with the v1 fields that differ from ``expected`` (what v1 was shown) applied."""
    spec2 = copy.deepcopy(base)
    for aspect in ASPECTS:
        value = spec1.get(aspect.v1_key, MISSING)
        if value == expected.get(aspect.v1_key, MISSING):
            continue
        for path in aspect.v2_paths:
            _delete(spec2, path)
        for path, new in aspect.to_v2(value).items():
            _set(spec2, path, new)
    return spec2


# --- object conversion ------------------------------------------------------------------------


def _split(obj: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str], Any]:
    """(a copy of obj, a copy of its annotations, its spec or MISSING); checks their shapes."""
    if not isinstance(obj, Mapping):
        raise ConversionError(f"object must be a JSON object, got {type(obj).__name__}")
    out = copy.deepcopy(dict(obj))
    metadata = out.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ConversionError("metadata must be an object")
    annotations = metadata.get("annotations", {})
    if not isinstance(annotations, dict):
        raise ConversionError("metadata.annotations must be an object")
    spec = out.get("spec", MISSING)
    if spec is not MISSING and not isinstance(spec, dict):
        raise ConversionError("spec must be an object")
    return out, dict(annotations), spec


def _finish(
    out: dict[str, Any], annotations: dict[str, str], api_version: str, spec: Any
) -> dict[str, Any]:
    out["apiVersion"] = api_version
    if spec is not MISSING:
        out["spec"] = spec
    metadata = out.get("metadata")
    if annotations:
        if not isinstance(metadata, dict):
            metadata = out["metadata"] = {}
        metadata["annotations"] = annotations
    elif isinstance(metadata, dict):
        # ObjectMeta omits empty annotations; so do we.
        metadata.pop("annotations", None)
    return out


def convert_v1_to_v2(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a locust.io/v1 LocustTest object to locust.io/v2."""
    out, annotations, spec1 = _split(obj)
    payload = _load_dict(annotations.pop(V2_SPEC_ANNOTATION, None))
    annotations.pop(V1_SPEC_ANNOTATION, None)
    if spec1 is MISSING:
        return _finish(out, annotations, names.V2_API_VERSION, MISSING)

    base = payload.get("spec") if payload else None
    if isinstance(base, dict):
        base_residual_raw = payload.get("v1Spec") if payload else None
        expected = _v1_spec(base, _load_dict(base_residual_raw))
        if spec1 == expected:
            # Unchanged since v2 -> v1: restore the v2 object exactly.
            if isinstance(base_residual_raw, str):
                annotations[V1_SPEC_ANNOTATION] = base_residual_raw
            return _finish(out, annotations, names.V2_API_VERSION, copy.deepcopy(base))
        spec2 = _merge_v1_edits(base, spec1, expected)
    else:
        spec2 = _plain_v2_spec(spec1)

    residual = _v1_residual(spec1, spec2)
    if residual:
        annotations[V1_SPEC_ANNOTATION] = _dump(residual)
    return _finish(out, annotations, names.V2_API_VERSION, spec2)


def convert_v2_to_v1(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a locust.io/v2 LocustTest object to locust.io/v1 (keeping v2-only state)."""
    out, annotations, spec2 = _split(obj)
    residual_raw = annotations.pop(V1_SPEC_ANNOTATION, None)
    annotations.pop(V2_SPEC_ANNOTATION, None)
    spec1 = MISSING if spec2 is MISSING else _v1_spec(spec2, _load_dict(residual_raw))
    converted = _finish(out, annotations, names.V1_API_VERSION, spec1)
    if spec2 is MISSING or convert_v1_to_v2(converted) == obj:
        return converted
    payload: dict[str, Any] = {"spec": spec2}
    if residual_raw is not None:
        payload["v1Spec"] = residual_raw
    annotations[V2_SPEC_ANNOTATION] = _dump(payload)
    return _finish(converted, annotations, names.V1_API_VERSION, spec1)


def convert(obj: Mapping[str, Any], desired_api_version: str) -> dict[str, Any]:
    """Convert a LocustTest object to ``desired_api_version`` (a copy if already there)."""
    if not isinstance(obj, Mapping):
        raise ConversionError(f"object must be a JSON object, got {type(obj).__name__}")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if kind != names.KIND:
        raise ConversionError(f"cannot convert kind {kind!r}: only {names.KIND} is supported")
    for version, role in ((api_version, "object apiVersion"), (desired_api_version, "desired")):
        if version not in SUPPORTED_API_VERSIONS:
            raise ConversionError(
                f"unsupported {role} {version!r}: expected one of {list(SUPPORTED_API_VERSIONS)}"
            )
    if api_version == desired_api_version:
        return copy.deepcopy(dict(obj))
    if desired_api_version == names.V2_API_VERSION:
        return convert_v1_to_v2(obj)
    return convert_v2_to_v1(obj)


# --- ConversionReview (apiextensions.k8s.io/v1) -----------------------------------------------

REVIEW_API_VERSION = "apiextensions.k8s.io/v1"
REVIEW_KIND = "ConversionReview"


class BadReview(ValueError):
    """The request body is not a well-formed ConversionReview (answer with HTTP 400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def review_request(review: Any) -> tuple[str, str, list[Any]]:
    """The uid, desiredAPIVersion and objects of a ConversionReview request; raises
    :class:`BadReview` if it is malformed. :func:`check_objects` checks the objects' items."""
    if not isinstance(review, dict):
        raise BadReview(f"a ConversionReview must be a JSON object, got {type(review).__name__}")
    if review.get("kind") != REVIEW_KIND or review.get("apiVersion") != REVIEW_API_VERSION:
        raise BadReview(
            f"expected {REVIEW_API_VERSION} {REVIEW_KIND}, got "
            f"{review.get('apiVersion')!r} {review.get('kind')!r}"
        )
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadReview("ConversionReview.request must be an object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("ConversionReview.request.uid must be a non-empty string")
    desired = request.get("desiredAPIVersion")
    if not isinstance(desired, str) or not desired:
        raise BadReview("ConversionReview.request.desiredAPIVersion must be a non-empty string")
    objects = request.get("objects")
    if not isinstance(objects, list):
        raise BadReview("ConversionReview.request.objects must be a list")
    return uid, desired, objects


def not_an_object(index: int) -> BadReview:
    """What is wrong with a review whose first item that is not an object is ``objects[index]``."""
    return BadReview(f"ConversionReview.request.objects[{index}] must be an object")


def check_objects(objects: list[Any]) -> list[dict[str, Any]]:
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise not_an_object(i)
    return objects


def conversion_failure(exc: Exception) -> dict[str, str]:
    """The result of a review in which converting an object raised ``exc``."""
    if isinstance(exc, ConversionError):
        return {"status": "Failure", "message": str(exc)}
    # A bug must fail this review, not the HTTP handler.
    return {
        "status": "Failure",
        "message": f"internal conversion error: {type(exc).__name__}: {exc}",
    }


def review_answer(
    uid: str, result: dict[str, str], converted: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The ConversionReview answering request ``uid``."""
    response: dict[str, Any] = {"uid": uid, "result": result}
    if converted is not None:
        response["convertedObjects"] = converted
    return {"apiVersion": REVIEW_API_VERSION, "kind": REVIEW_KIND, "response": response}


def convert_review(review: Any) -> dict[str, Any]:
    """Answer a ConversionReview request; raises :class:`BadReview` if it is malformed.

    Objects that cannot be converted yield a response with ``result.status: Failure``.
    (webhook/large_conversion.py gives the same answers for large reviews, a piece at a time.)
    """
    uid, desired, objects = review_request(review)
    check_objects(objects)
    try:
        converted = [convert(obj, desired) for obj in objects]
    except Exception as exc:
        return review_answer(uid, conversion_failure(exc))
    return review_answer(uid, {"status": "Success"}, converted)
