"""Which children a LocustTest has, and which spec they were built from.

Pure helpers over cached objects: ownership checks, and the spec snapshot the operator
records on every child so that a healed child is rebuilt from the spec the test started
with, not from a spec edited later (tests are immutable).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Protocol

from lightkube.models.meta_v1 import ObjectMeta

from locust_operator.resources import SPEC_GENERATION_ANNOTATION

APPLIED_SPEC_ANNOTATION = "locust.io/applied-spec"


class HasMetadata(Protocol):
    @property
    def metadata(self) -> ObjectMeta | None: ...


def controller_uid(obj: HasMetadata) -> str | None:
    """The uid of the object's controlling owner, if any."""
    refs = (obj.metadata.ownerReferences if obj.metadata else None) or []
    for ref in refs:
        if ref.controller:
            return ref.uid
    return None


def is_owned_by(obj: HasMetadata, uid: str) -> bool:
    return controller_uid(obj) == uid


def annotations_of(obj: HasMetadata) -> Mapping[str, str]:
    return (obj.metadata.annotations if obj.metadata else None) or {}


def built_from_generation(obj: HasMetadata) -> int | None:
    value = annotations_of(obj).get(SPEC_GENERATION_ANNOTATION)
    return int(value) if value and value.isdigit() else None


def applied_spec(obj: HasMetadata) -> dict[str, Any] | None:
    raw = annotations_of(obj).get(APPLIED_SPEC_ANNOTATION)
    if not raw:
        return None
    try:
        spec = json.loads(raw)
    except ValueError:
        return None
    return spec if isinstance(spec, dict) else None


def encode_spec(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, separators=(",", ":"), sort_keys=True)


def as_built(test: Mapping[str, Any], spec: Mapping[str, Any], generation: int) -> dict[str, Any]:
    """The test as it was when its children were first built: its recorded spec and
    generation, with today's identity (name, namespace, uid)."""
    frozen = dict(test)
    frozen["spec"] = copy.deepcopy(dict(spec))
    frozen["metadata"] = {**test["metadata"], "generation": generation}
    return frozen
