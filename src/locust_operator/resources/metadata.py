"""Object metadata shared by the children: identity, labels, ownership, provenance."""

from __future__ import annotations

from typing import Any

from locust_operator.api.names import KIND, V2_API_VERSION
from locust_operator.config import Role

from .labels import SPEC_GENERATION_ANNOTATION, operator_labels
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
    metadata["ownerReferences"] = [owner_reference(source)]
    return metadata
