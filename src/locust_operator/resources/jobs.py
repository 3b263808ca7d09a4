"""The master and worker Jobs: run-to-completion, never retried (a rerun is a new test)."""

from __future__ import annotations

from typing import Any, cast

from lightkube.resources.batch_v1 import Job

from locust_operator.config import OperatorConfig, Role

from .metadata import child_metadata
from .names import MASTER, WORKER, child_name
from .pod import pod_template
from .source import LocustTestSource


def _job(source: LocustTestSource, config: OperatorConfig, role: Role, pods: int) -> Job:
    template = pod_template(source, config, role)
    spec: dict[str, Any] = {
        "parallelism": pods,
        "completions": pods,
        "backoffLimit": 0,
        "template": template,
    }
    metadata = child_metadata(source, child_name(source.name, role), role)
    # The Job carries its pods' labels, the user's included, as the reference's Jobs do
    # (there through the API's defaulting): `kubectl get jobs -l ...` finds what it finds
    # for pods.
    metadata["labels"] = dict(template["metadata"]["labels"])
    if config.job_ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = config.job_ttl_seconds_after_finished
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": spec,
    }
    # from_dict is typed as returning its mixin base.
    return cast(Job, Job.from_dict(manifest))


def master_job(source: LocustTestSource, config: OperatorConfig) -> Job:
    return _job(source, config, MASTER, 1)


def worker_job(source: LocustTestSource, config: OperatorConfig) -> Job:
    return _job(source, config, WORKER, source.spec.worker.replicas)
