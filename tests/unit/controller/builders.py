"""Test fixtures for the status computation: Jobs, Pods and observations of one test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod, Service

from locust_operator.controller.status import Observed

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
GRACE = timedelta(minutes=2)
LONG_AGO = NOW - timedelta(minutes=10)
TEST = "demo"
MASTER = f"{TEST}-master"
WORKER = f"{TEST}-worker"


def service() -> Service:
    return Service.from_dict({"metadata": {"name": MASTER}})


def job(
    name: str = MASTER,
    *,
    active: int = 0,
    ready: int | None = None,
    conditions: tuple[str, ...] = (),
    condition_reason: str | None = None,
    condition_message: str | None = None,
) -> Job:
    status: dict[str, Any] = {"active": active}
    if ready is not None:
        status["ready"] = ready
    if conditions:
        status["conditions"] = [
            {
                "type": kind,
                "status": "True",
                "reason": condition_reason,
                "message": condition_message,
            }
            for kind in conditions
        ]
    return Job.from_dict({"metadata": {"name": name}, "status": status})


def worker_job(active: int = 0) -> Job:
    return job(WORKER, active=active)


def container(
    name: str = "locust",
    *,
    waiting: str | None = None,
    message: str | None = None,
    exit_code: int | None = None,
) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {}}
    if waiting is not None:
        state = {"waiting": {"reason": waiting, "message": message}}
    elif exit_code is not None:
        state = {"terminated": {"exitCode": exit_code, "reason": "Error"}}
    return {
        "name": name,
        "image": "locustio/locust",
        "imageID": "",
        "ready": waiting is None and exit_code is None,
        "restartCount": 0,
        "state": state,
    }


def pod(
    name: str = f"{MASTER}-abcde",
    *,
    job_name: str = MASTER,
    created: datetime = LONG_AGO,
    phase: str = "Running",
    containers: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    sidecars: tuple[str, ...] = (),
    unschedulable: str | None = None,
    deleting: bool = False,
) -> Pod:
    metadata: dict[str, Any] = {
        "name": name,
        "creationTimestamp": created.isoformat(),
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": job_name,
                "uid": f"uid-{job_name}",
                "controller": True,
            }
        ],
    }
    if deleting:
        metadata["deletionTimestamp"] = NOW.isoformat()
    status: dict[str, Any] = {"phase": phase}
    if unschedulable is not None:
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable,
            }
        ]
    if containers is not None:
        status["containerStatuses"] = containers
    elif phase == "Running":
        status["containerStatuses"] = [container()]
    if init_containers is not None:
        status["initContainerStatuses"] = init_containers
    spec = {
        "containers": [{"name": "locust"}],
        "initContainers": [{"name": n, "restartPolicy": "Always"} for n in sidecars],
    }
    return Pod.from_dict({"metadata": metadata, "spec": spec, "status": status})


def worker_pod(name: str = f"{WORKER}-fghij", **kwargs: Any) -> Pod:
    return pod(name, job_name=WORKER, **kwargs)


def running(workers: int = 3, *, created: datetime = LONG_AGO, **overrides: Any) -> Observed:
    """A test whose master runs and whose workers are all active, past the grace period."""
    pods = [pod(created=created)] + [
        worker_pod(f"{WORKER}-{index}", created=created) for index in range(workers)
    ]
    base = Observed(
        generation=1,
        built_from_generation=1,
        expected_workers=workers,
        service=service(),
        master_job=job(active=1),
        worker_job=worker_job(active=workers),
        pods=pods,
    )
    return replace(base, **overrides)


def just_created(**overrides: Any) -> Observed:
    """Children just created: Jobs without pods yet."""
    return running(master_job=job(), worker_job=worker_job(), pods=[], **overrides)


def nothing(**overrides: Any) -> Observed:
    """No children yet."""
    base = running(
        built_from_generation=None, service=None, master_job=None, worker_job=None, pods=[]
    )
    return replace(base, **overrides)


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in status.get("conditions", []) if c["type"] == kind]
    assert len(found) == 1, f"{kind} in {status.get('conditions')}"
    return found[0]


def summary(status: dict[str, Any], kind: str) -> tuple[str, str]:
    found = condition(status, kind)
    return found["status"], found["reason"]
