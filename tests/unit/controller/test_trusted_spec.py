"""A deleted child is rebuilt only from a spec the operator can trust (issue 12, finding 5):
the test's own spec, or a child's recorded spec whose digest equals status.appliedSpecDigest,
which only the operator writes. An annotation edited on a Service never reaches a rebuild."""

from __future__ import annotations

import copy
import json

from locust_operator.api.conditions import FAILED, READY, RESOURCES_FAILED
from locust_operator.controller.reconciler import APPLIED_SPEC_DIGEST, UNTRUSTED_SPEC, Result
from locust_operator.resources import APPLIED_SPEC_ANNOTATION, spec_digest
from tests.unit.controller.test_reconciler import NS, Setup
from tests.unit.resources.helpers import locust_test


async def started() -> Setup:
    setup = Setup()
    await setup.reconcile()  # children
    await setup.reconcile()  # first status
    return setup


def tamper(setup: Setup, kind: str, name: str, spec: dict[str, object]) -> None:
    child = setup.kube.child(kind, NS, name)
    child.metadata.annotations[APPLIED_SPEC_ANNOTATION] = json.dumps(spec)


def evil(spec: dict[str, object]) -> dict[str, object]:
    bad = copy.deepcopy(spec)
    bad["worker"]["extraArgs"] = ["--master-host=evil.example.com"]  # type: ignore[index]
    bad["security"] = {"containerSecurityContext": {"privileged": True}}
    return bad


async def test_the_status_records_the_digest_of_the_spec_the_children_were_built_from() -> None:
    setup = await started()
    assert setup.test["status"][APPLIED_SPEC_DIGEST] == spec_digest(setup.test["spec"])


async def test_an_edited_service_annotation_is_not_used_to_rebuild_a_deleted_job() -> None:
    setup = await started()
    tamper(setup, "Service", "demo-master", evil(setup.test["spec"]))
    tamper(setup, "Job", "demo-master", evil(setup.test["spec"]))
    del setup.kube.objects[("Job", NS, "demo-worker")]

    assert await setup.reconcile() == Result()
    worker = setup.kube.child("Job", NS, "demo-worker").to_dict()
    text = json.dumps(worker["spec"])
    assert "evil.example.com" not in text
    assert "privileged" not in text
    assert (
        "--master-host=demo-master" in worker["spec"]["template"]["spec"]["containers"][0]["args"]
    )


async def test_an_edited_spec_and_a_tampered_record_fail_the_test_instead_of_rebuilding() -> None:
    setup = await started()
    started_with = copy.deepcopy(setup.test["spec"])
    setup.test["spec"]["worker"]["replicas"] = 9  # edited: the test's spec is no source
    setup.test["metadata"]["generation"] += 1
    for kind, name in (("Service", "demo-master"), ("Job", "demo-master")):
        tamper(setup, kind, name, evil(started_with))
    del setup.kube.objects[("Job", NS, "demo-worker")]

    await setup.reconcile()
    assert setup.kube.child("Job", NS, "demo-worker") is None
    assert setup.test["status"]["phase"] == FAILED
    ready = setup.condition(READY)
    assert ready["reason"] == RESOURCES_FAILED
    assert UNTRUSTED_SPEC in ready["message"]
    # The digest of the spec it started with is kept, not replaced by the edit's.
    assert setup.test["status"][APPLIED_SPEC_DIGEST] == spec_digest(started_with)


async def test_an_edited_spec_rebuilds_from_an_untampered_record() -> None:
    setup = await started()
    started_with = copy.deepcopy(setup.test["spec"])
    setup.test["spec"]["worker"]["replicas"] = 9
    setup.test["metadata"]["generation"] += 1
    tamper(setup, "Service", "demo-master", evil(started_with))  # one altered, one intact
    del setup.kube.objects[("Job", NS, "demo-worker")]

    await setup.reconcile()
    worker = setup.kube.child("Job", NS, "demo-worker")
    assert worker.spec.parallelism == started_with["worker"]["replicas"]
    assert "evil.example.com" not in json.dumps(worker.to_dict())


async def test_a_huge_spec_is_not_recorded_in_an_annotation_and_still_runs() -> None:
    test = locust_test()
    test["spec"]["master"]["command"] = "--locustfile /lotest/src/t.py " + "x " * 300_000
    setup = Setup(test)
    assert await setup.reconcile() == Result(children_created=True)
    await setup.reconcile()
    for kind, name in (("Service", "demo-master"), ("Job", "demo-master"), ("Job", "demo-worker")):
        annotations = setup.kube.child(kind, NS, name).metadata.annotations
        assert APPLIED_SPEC_ANNOTATION not in annotations
        assert sum(len(k) + len(v) for k, v in annotations.items()) < 256 * 1024
    assert setup.test["status"][APPLIED_SPEC_DIGEST] == spec_digest(setup.test["spec"])
    # Unedited, a deleted child is rebuilt from the test's own spec.
    del setup.kube.objects[("Job", NS, "demo-worker")]
    await setup.reconcile()
    assert setup.kube.child("Job", NS, "demo-worker") is not None
