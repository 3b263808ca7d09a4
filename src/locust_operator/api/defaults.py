"""Schema defaulting of LocustTest specs, identical to what the apiserver applies.

Both these functions and the CRD's ``default:`` keywords come from the same ``prop(default=...)``
declarations in :mod:`.v2` / :mod:`.v1`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import v1, v2
from .schema import apply_defaults


def apply_defaults_v2(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a v2 spec with the schema defaults filled in."""
    return apply_defaults(v2.LocustTestSpec, spec)


def apply_defaults_v1(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a v1 spec with the schema defaults filled in."""
    return apply_defaults(v1.LocustTestSpec, spec)
