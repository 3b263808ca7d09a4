from __future__ import annotations

import copy
import json

import pytest

from locust_operator.config import OperatorConfig
from locust_operator.resources import (
    APPLIED_SPEC_ANNOTATION,
    SPEC_GENERATION_ANNOTATION,
    as_built,
    build_children,
)

from .helpers import GENERATION, UID, children, jobs, locust, locust_test, pod, with_role


def test_job_names_and_namespace() -> None:
    built = jobs(locust_test())
    assert built["master"]["metadata"]["name"] == "demo-master"
    assert built["worker"]["metadata"]["name"] == "demo-worker"
    assert {job["metadata"]["namespace"] for job in built.values()} == {"load"}


def test_master_job_runs_one_pod_once() -> None:
    spec = jobs(locust_test())["master"]["spec"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (1, 1, 0)
    assert pod(jobs(locust_test())["master"])["restartPolicy"] == "Never"


def test_worker_job_runs_one_pod_per_replica_once() -> None:
    job = jobs(with_role(locust_test(), "worker", replicas=7))["worker"]
    spec = job["spec"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (7, 7, 0)
    assert pod(job)["restartPolicy"] == "Never"


def test_ttl_seconds_after_finished_only_when_configured() -> None:
    for job in jobs(locust_test()).values():
        assert "ttlSecondsAfterFinished" not in job["spec"]
    for ttl in (0, 3600):
        config = OperatorConfig(job_ttl_seconds_after_finished=ttl)
        for job in jobs(locust_test(), config).values():
            assert job["spec"]["ttlSecondsAfterFinished"] == ttl


def test_every_child_is_controlled_by_the_locust_test() -> None:
    for child in children(locust_test()):
        assert child["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "locust.io/v2",
                "kind": "LocustTest",
                "name": "demo",
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


def test_every_child_records_the_generation_and_spec_it_was_built_from() -> None:
    test = locust_test()
    for child in children(test):
        annotations = child["metadata"]["annotations"]
        assert annotations[SPEC_GENERATION_ANNOTATION] == str(GENERATION)
        assert json.loads(annotations[APPLIED_SPEC_ANNOTATION]) == test["spec"]
    assert SPEC_GENERATION_ANNOTATION == "locust.io/spec-generation"
    assert APPLIED_SPEC_ANNOTATION == "locust.io/applied-spec"


def test_a_child_gives_back_the_test_as_it_was_built() -> None:
    test = locust_test()
    built = build_children(test, OperatorConfig())
    edited = copy.deepcopy(test)
    edited["spec"]["worker"]["replicas"] = 9
    edited["metadata"]["generation"] = GENERATION + 1
    recovered = as_built(edited, built.worker_job)
    assert recovered is not None
    assert recovered["spec"] == test["spec"]
    assert recovered["metadata"]["generation"] == GENERATION
    assert recovered["metadata"]["uid"] == UID
    assert build_children(recovered, OperatorConfig()).worker_job == built.worker_job


def test_a_child_without_provenance_gives_back_nothing() -> None:
    child = build_children(locust_test(), OperatorConfig()).service
    assert child.metadata is not None
    child.metadata.annotations = {APPLIED_SPEC_ANNOTATION: "not json"}
    assert as_built(locust_test(), child) is None


def test_children_without_a_namespace_leave_it_to_the_client() -> None:
    test = locust_test()
    del test["metadata"]["namespace"]
    for child in children(test):
        assert "namespace" not in child["metadata"]


@pytest.mark.parametrize("missing", ["name", "uid", "generation"])
def test_identity_is_required(missing: str) -> None:
    test = locust_test()
    del test["metadata"][missing]
    with pytest.raises(ValueError, match=f"metadata.{missing}"):
        build_children(test, OperatorConfig())


def test_spec_defaults_are_applied_before_building() -> None:
    # No autostart, autoquit, imagePullPolicy or mount paths given: the schema defaults hold.
    test = locust_test(testFiles={"configMapRef": "scripts", "libConfigMapRef": "lib"})
    container = locust(jobs(test)["master"])
    assert "--autostart" in container["args"]
    assert container["args"][container["args"].index("--autoquit") + 1] == "60"
    assert container["imagePullPolicy"] == "IfNotPresent"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"demo-master": "/lotest/src", "locust-lib": "/opt/locust/lib"}


def test_jobs_carry_their_pod_templates_labels_the_users_included() -> None:
    """As the reference's Jobs do: `kubectl get jobs -l role=worker` finds the worker Job."""
    test = with_role(locust_test(), "worker", labels={"role": "worker", "team": "perf"})
    test = with_role(test, "master", labels={"role": "master"})
    for role, job in jobs(test).items():
        labels = job["metadata"]["labels"]
        assert labels == job["spec"]["template"]["metadata"]["labels"]
        assert labels["role"] == role
        assert labels["managed-by"] == "locust-k8s-operator"
        assert labels["performance-test-pod-name"] == f"demo-{role}"
    assert jobs(test)["worker"]["metadata"]["labels"]["team"] == "perf"
