"""Everything a LocustTest owns, built from the test alone (pure and deterministic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Service

from locust_operator.config import OperatorConfig

from . import jobs, service
from .source import LocustTestSource


@dataclass(frozen=True)
class Children:
    service: Service
    master_job: Job
    worker_job: Job


def build_children(test: Mapping[str, Any], config: OperatorConfig) -> Children:
    """The Service and Jobs of a v2 LocustTest (a camelCase dict as read from the
    apiserver, with metadata name, namespace, uid and generation)."""
    source = LocustTestSource.parse(test)
    return Children(
        service=service.master_service(source, config),
        master_job=jobs.master_job(source, config),
        worker_job=jobs.worker_job(source, config),
    )
