"""Walking owner references: which object controls another (a Pod's Job, a Job's test).

Only the controlling reference (``controller: true``) counts: an object may have several
owners, but one controller, and that is the one the garbage collector and the operator
follow.
"""

from __future__ import annotations

from typing import Protocol

from lightkube.models.meta_v1 import ObjectMeta, OwnerReference


class HasMetadata(Protocol):
    @property
    def metadata(self) -> ObjectMeta | None: ...


def controller_reference(obj: HasMetadata) -> OwnerReference | None:
    """The object's controlling owner reference, if any."""
    for ref in (obj.metadata.ownerReferences if obj.metadata else None) or []:
        if ref.controller:
            return ref
    return None


def controller_uid(obj: HasMetadata) -> str | None:
    ref = controller_reference(obj)
    return ref.uid if ref is not None else None


def controller_name(obj: HasMetadata, kind: str) -> str | None:
    """The name of the object's controller when it is a ``kind``."""
    ref = controller_reference(obj)
    return ref.name if ref is not None and ref.kind == kind else None


def is_controlled_by(obj: HasMetadata, uid: str) -> bool:
    return controller_uid(obj) == uid
