"""Pure builders of the Kubernetes objects a LocustTest owns: the master Service and the
master and worker Jobs."""

from .children import (
    Children,
    build_children,
)
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
from .metadata import applied_spec, as_built, built_from_generation, spec_digest, trusted_built
from .names import master_job_name, master_service_name, worker_job_name

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
