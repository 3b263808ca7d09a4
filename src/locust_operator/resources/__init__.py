"""Pure builders of the Kubernetes objects a LocustTest owns: the master Service and the
master and worker Jobs."""

from .children import (
    Children,
    build_children,
    build_master_job,
    build_master_service,
    build_worker_job,
)
from .labels import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    OPERATOR_SELECTOR,
    POD_NAME_LABEL,
    ROLE_LABEL,
    SPEC_GENERATION_ANNOTATION,
    TEST_NAME_LABEL,
)
from .names import master_job_name, master_service_name, worker_job_name

__all__ = [
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "OPERATOR_SELECTOR",
    "POD_NAME_LABEL",
    "ROLE_LABEL",
    "SPEC_GENERATION_ANNOTATION",
    "TEST_NAME_LABEL",
    "Children",
    "build_children",
    "build_master_job",
    "build_master_service",
    "build_worker_job",
    "master_job_name",
    "master_service_name",
    "worker_job_name",
]
