"""A child's metadata, written and read in this one place: identity, labels, ownership,
and provenance (the generation and the spec the child was built from).

The provenance lets a healed child be rebuilt from the spec the test started with, not
from a spec edited later (tests are immutable). Anyone who may edit a Service or a Job can
edit its annotations, so a recorded spec is never trusted as such: it is used only when its
digest equals ``status.appliedSpecDigest`` of the test, which only the operator writes
(:func:`trusted_built`). The record is bounded: a spec larger than
``APPLIED_SPEC_MAX_BYTES`` is not recorded (an annotation may not hold unbounded data; all
of an object's annotations together are limited to 256 KiB).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
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
    metadata["annotations"] = {SPEC_GENERATION_ANNOTATION: str(source.generation)}
    encoded = encode_spec(source.raw_spec)
    if len(encoded.encode()) <= APPLIED_SPEC_MAX_BYTES:
        metadata["annotations"][APPLIED_SPEC_ANNOTATION] = encoded
    metadata["ownerReferences"] = [owner_reference(source)]
    return metadata


# Far below the 256 KiB all annotations of an object may hold together.
APPLIED_SPEC_MAX_BYTES = 64 * 1024


def encode_spec(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, separators=(",", ":"), sort_keys=True)


def spec_digest(spec: Mapping[str, Any]) -> str:
    """What ``status.appliedSpecDigest`` records: the SHA-256 of the canonical JSON."""
    return "sha256:" + hashlib.sha256(encode_spec(spec).encode()).hexdigest()


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


def trusted_built(
    test: Mapping[str, Any], children: Sequence[HasMetadata], digest: str | None
) -> dict[str, Any] | None:
    """The test to build children from, from nothing a user other than the test's own
    writer could have altered: ``digest`` is ``status.appliedSpecDigest``.

    - No digest yet (a new test, or one started by an earlier version): the test as it is;
      its spec passed admission.
    - The test's spec has that digest (it was not edited): the test as it is, with the
      generation the children recorded.
    - Else the first child whose recorded spec has that digest (the spec was edited since
      the test started: the edit is ignored).
    - Else None: the spec the test started with is known nowhere the operator can trust
      (edited, and the record on the children altered, removed or too large to keep).
    """
    if digest is None:
        return dict(test)
    generations = [g for g in map(built_from_generation, children) if g is not None]
    spec = test.get("spec")
    if isinstance(spec, Mapping) and spec_digest(spec) == digest:
        if not generations:
            return dict(test)
        return {**test, "metadata": {**test["metadata"], "generation": generations[0]}}
    for child in children:
        recorded = applied_spec(child)
        if recorded is not None and spec_digest(recorded) == digest:
            return as_built(test, child)
    return None


def _annotations(obj: HasMetadata) -> Mapping[str, str]:
    return (obj.metadata.annotations if obj.metadata else None) or {}
