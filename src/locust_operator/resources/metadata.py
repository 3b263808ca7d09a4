"""A child's metadata, written and read in this one place: identity, labels, ownership,
and provenance (the generation and the spec the child was built from).

The provenance lets a healed child be rebuilt from the spec the test started with, not
from a spec edited later (tests are immutable).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from locust_operator.api.names import KIND, V2_API_VERSION
from locust_operator.config import Role
from locust_operator.kube.owners import HasMetadata

from .labels import APPLIED_SPEC_ANNOTATION, SPEC_GENERATION_ANNOTATION, operator_labels
from .source import LocustTestSource


def owner_reference(source: LocustTestSource) -> dict[str, Any]:
    """The LocustTest controls the child: deleting the test deletes it (garbage collection),
    and the test cannot be deleted in the foreground before the child is gone."""
    return {
        "apiVersion": V2_API_VERSION,
        "kind": KIND,
        "name": source.name,
        "uid": source.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child_metadata(source: LocustTestSource, name: str, role: Role) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if source.namespace:
        metadata["namespace"] = source.namespace
    metadata["labels"] = operator_labels(source.name, role)
    metadata["annotations"] = {
        SPEC_GENERATION_ANNOTATION: str(source.generation),
        APPLIED_SPEC_ANNOTATION: encode_spec(source.raw_spec),
    }
    metadata["ownerReferences"] = [owner_reference(source)]
    return metadata


def encode_spec(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, separators=(",", ":"), sort_keys=True)


def built_from_generation(child: HasMetadata) -> int | None:
    value = _annotations(child).get(SPEC_GENERATION_ANNOTATION)
    return int(value) if value and value.isdigit() else None


def applied_spec(child: HasMetadata) -> dict[str, Any] | None:
    raw = _annotations(child).get(APPLIED_SPEC_ANNOTATION)
    if not raw:
        return None
    try:
        spec = json.loads(raw)
    except ValueError:
        return None
    return spec if isinstance(spec, dict) else None


def as_built(test: Mapping[str, Any], child: HasMetadata) -> dict[str, Any] | None:
    """The test as it was when ``child`` was built: its recorded spec and generation, with
    today's identity (name, namespace, uid). None when the child records no provenance."""
    spec, generation = applied_spec(child), built_from_generation(child)
    if spec is None or generation is None:
        return None
    frozen = dict(test)
    frozen["spec"] = copy.deepcopy(spec)
    frozen["metadata"] = {**test["metadata"], "generation": generation}
    return frozen


def _annotations(obj: HasMetadata) -> Mapping[str, str]:
    return (obj.metadata.annotations if obj.metadata else None) or {}
