"""Every valid LocustTest written for the reference operator builds children that follow
the rules (manifests read from ../shared/compat at test time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from locust_operator.api.conversion import convert
from locust_operator.config import OperatorConfig
from locust_operator.resources import build_children
from locust_operator.resources.labels import selector_labels
from tests.conftest import compat_manifests
from tests.locusttests import load_manifest

from .checks import check_mounts_resolve, check_operator_parts
from .helpers import env_names, locust, pod, pod_metadata


def _locust_tests() -> list[Any]:
    paths = [
        p
        for p in compat_manifests()
        if "invalid" not in p.name and load_manifest(p).get("kind") == "LocustTest"
    ]
    if not paths:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no ../shared/compat"))]
    return [pytest.param(p, id=p.name) for p in paths]


def _as_stored(path: Path) -> dict[str, Any]:
    """The manifest as the operator reads it back: v2, with identity filled in."""
    obj = load_manifest(path)
    if obj["apiVersion"] != "locust.io/v2":
        obj = convert(obj, "locust.io/v2")
    obj["metadata"].update(namespace="compat", uid="uid-" + path.stem, generation=1)
    return obj


@pytest.mark.parametrize("path", _locust_tests())
def test_reference_manifest_builds_children_by_the_rules(path: Path) -> None:
    test = _as_stored(path)
    name, spec = test["metadata"]["name"], test["spec"]
    built = build_children(test, OperatorConfig())
    service, master, worker = (
        built.service.to_dict(),
        built.master_job.to_dict(),
        built.worker_job.to_dict(),
    )
    jobs = {"master": master, "worker": worker}
    otel = spec.get("observability", {}).get("openTelemetry", {}).get("enabled", False)

    assert service["metadata"]["name"] == master["metadata"]["name"] == f"{name}-master"
    assert worker["metadata"]["name"] == f"{name}-worker"
    assert service["spec"]["selector"]["performance-test-pod-name"] == f"{name}-master"
    assert {p["port"] for p in service["spec"]["ports"]} >= {5557, 8089}
    for child in (service, master, worker):
        assert child["metadata"]["ownerReferences"][0]["uid"] == test["metadata"]["uid"]
        assert child["metadata"]["annotations"]["locust.io/spec-generation"] == "1"

    replicas = spec["worker"]["replicas"]
    assert worker["spec"]["parallelism"] == worker["spec"]["completions"] == replicas
    master_args, worker_args = locust(master)["args"], locust(worker)["args"]
    assert (
        master_args[: len(spec["master"]["command"].split())] == spec["master"]["command"].split()
    )
    assert (
        worker_args[: len(spec["worker"]["command"].split())] == spec["worker"]["command"].split()
    )
    assert {"--master", "--master-bind-port=5557", f"--expect-workers={replicas}"} <= set(
        master_args
    )
    assert {"--worker", "--master-port=5557", f"--master-host={name}-master"} <= set(worker_args)
    assert ("--otel" in master_args) == ("--otel" in worker_args) == otel
    assert ("initContainers" in pod(master)) == (not otel)

    for role, job in jobs.items():
        check_operator_parts(name, role, job)
        check_mounts_resolve(job)
        user_labels = spec[role].get("labels", {})
        labels = pod_metadata(job)["labels"]
        protected = set(selector_labels(name, role)) | {"app.kubernetes.io/managed-by"}
        assert {k: v for k, v in user_labels.items() if k not in protected}.items() <= (
            labels.items()
        )
        container = locust(job)
        config_map = spec.get("testFiles", {}).get("configMapRef")
        if config_map:
            volume = {"name": f"{name}-{role}", "configMap": {"name": config_map}}
            assert volume in pod(job)["volumes"]
            assert {"name": f"{name}-{role}", "mountPath": "/lotest/src"} in container[
                "volumeMounts"
            ]
        env = spec.get("env", {})
        for variable in env.get("variables", []):
            assert variable["name"] in env_names(container)
        assert len(container.get("envFrom", [])) == len(env.get("configMapRefs", [])) + len(
            env.get("secretRefs", [])
        )
        for secret in env.get("secretMounts", []):
            assert {"secretName": secret["name"]} in [v.get("secret") for v in pod(job)["volumes"]]
        node_selector = spec.get("scheduling", {}).get("nodeSelector")
        assert pod(job).get("nodeSelector") == node_selector
        runtime_class = spec.get("scheduling", {}).get("runtimeClassName")
        assert pod(job).get("runtimeClassName") == (runtime_class or None)
