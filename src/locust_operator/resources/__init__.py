"""Pure builders of the Kubernetes objects a LocustTest owns: the master Service and the
master and worker Jobs.

The labels and names are imported with the package; the builders (and the API types
they read) when first used, so that the operator's informers can select its children by
label without loading them (see ``__getattr__``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .labels import (
    APPLIED_SPEC_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    OPERATOR_SELECTOR,
    POD_NAME_LABEL,
    ROLE_LABEL,
    SPEC_GENERATION_ANNOTATION,
    TEST_NAME_LABEL,
)
from .names import master_job_name, master_service_name, worker_job_name

if TYPE_CHECKING:
    from .children import Children, build_children
    from .metadata import (
        applied_spec,
        as_built,
        built_from_generation,
        spec_digest,
        trusted_built,
    )

# Attribute -> the submodule that defines it, imported on first access.
_LAZY = {
    "Children": "children",
    "build_children": "children",
    "applied_spec": "metadata",
    "as_built": "metadata",
    "built_from_generation": "metadata",
    "spec_digest": "metadata",
    "trusted_built": "metadata",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "APPLIED_SPEC_ANNOTATION",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "OPERATOR_SELECTOR",
    "POD_NAME_LABEL",
    "ROLE_LABEL",
    "SPEC_GENERATION_ANNOTATION",
    "TEST_NAME_LABEL",
    "Children",
    "applied_spec",
    "as_built",
    "build_children",
    "built_from_generation",
    "master_job_name",
    "master_service_name",
    "spec_digest",
    "trusted_built",
    "worker_job_name",
]
