"""Small LocustTests and accessors into the children built from them."""

from __future__ import annotations

import copy
from typing import Any

from locust_operator.config import OperatorConfig
from locust_operator.resources import build_children

NAME = "demo"
NAMESPACE = "load"
UID = "0b6f3c1e-8d52-4c1a-9e57-3f1c2d4e5a6b"
GENERATION = 4


def locust_test(name: str = NAME, **spec: Any) -> dict[str, Any]:
    """A v2 LocustTest as the apiserver returns it; ``spec`` replaces top-level spec fields."""
    base: dict[str, Any] = {
        "image": "locustio/locust:2.43.1",
        "master": {"command": "--locustfile /lotest/src/test.py --host https://example.com"},
        "worker": {"command": "--locustfile /lotest/src/test.py", "replicas": 3},
        "testFiles": {"configMapRef": "scripts"},
    }
    base.update(copy.deepcopy(spec))
    return {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": UID, "generation": GENERATION},
        "spec": base,
    }


def with_role(test: dict[str, Any], role: str, **fields: Any) -> dict[str, Any]:
    test["spec"][role].update(copy.deepcopy(fields))
    return test


def children(
    test: dict[str, Any], config: OperatorConfig | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(service, master job, worker job) as JSON dicts."""
    built = build_children(test, config or OperatorConfig())
    return built.service.to_dict(), built.master_job.to_dict(), built.worker_job.to_dict()


def jobs(test: dict[str, Any], config: OperatorConfig | None = None) -> dict[str, dict[str, Any]]:
    _, master, worker = children(test, config)
    return {"master": master, "worker": worker}


def pod(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def pod_metadata(job: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = job["spec"]["template"]["metadata"]
    return metadata


def locust(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod(job)["containers"]
    return dict(container)


def env(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value (or valueFrom) of the container's variables."""
    return {v["name"]: v.get("value", v.get("valueFrom")) for v in container.get("env", [])}


def env_names(container: dict[str, Any]) -> list[str]:
    return [v["name"] for v in container.get("env", [])]
