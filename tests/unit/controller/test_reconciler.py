"""LocustTestReconciler against an in-memory apiserver: children, finalizer, conflicts,
foreign children, creation errors, healing, deletion."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from lightkube import AsyncClient
from lightkube.models.batch_v1 import JobCondition, JobStatus
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod, Service

from locust_operator.api.conditions import (
    CONFIGURATION_ERROR,
    FAILED,
    PENDING,
    READY,
    RESOURCES_CREATED,
    RESOURCES_CREATING,
    RESOURCES_FAILED,
    RUNNING,
)
from locust_operator.config import OperatorConfig
from locust_operator.controller.reconciler import (
    FINALIZER,
    FOREIGN_CHILD_RETRY_SECONDS,
    ChildCreationFailed,
    Conflict,
    LocustTestReconciler,
    Result,
)
from locust_operator.controller.status import conditions_by_type
from locust_operator.kube.owners import is_controlled_by
from locust_operator.resources import APPLIED_SPEC_ANNOTATION, as_built, build_children
from tests.unit.controller.builders import NOW, container
from tests.unit.controller.builders import pod as make_pod
from tests.unit.controller.fakekube import Cache, FakeKube, RecordedEvents, api_error
from tests.unit.resources.helpers import locust_test

NS, NAME = "load", "demo"
CHILDREN = (("Service", "demo-master"), ("Job", "demo-master"), ("Job", "demo-worker"))


class Setup:
    def __init__(self, test: dict[str, Any] | None = None) -> None:
        self.kube = FakeKube()
        self.events = RecordedEvents()
        self.now = NOW
        self.kube.add_test(test or locust_test())
        self.reconciler = LocustTestReconciler(
            cast(AsyncClient, self.kube),
            OperatorConfig(),
            tests=Cache(self.kube, "LocustTest"),
            services=Cache(self.kube, "Service"),
            jobs=Cache(self.kube, "Job"),
            pods=Cache(self.kube, "Pod"),
            recorder=self.events,
            clock=lambda: self.now,
        )

    async def reconcile(self) -> Result:
        return await self.reconciler.reconcile(NS, NAME)

    @property
    def test(self) -> dict[str, Any]:
        return self.kube.test(NS, NAME)

    def condition(self, kind: str) -> dict[str, Any]:
        return dict(conditions_by_type(self.test.get("status") or {})[kind])

    def uid(self) -> str:
        return str(self.test["metadata"]["uid"])


def foreign(kind: str, name: str) -> Service | Job:
    """An object of a child's name that no LocustTest controls (a user's, a leftover)."""
    cls = Service if kind == "Service" else Job
    return cls.from_dict({"metadata": {"name": name, "namespace": NS, "uid": "someone-else"}})


async def test_a_new_test_gets_its_children_then_its_status_and_no_finalizer() -> None:
    setup = Setup()
    assert await setup.reconcile() == Result(children_created=True)
    # No finalizer: nothing blocks deleting the test, its namespace or the CRD when no
    # operator runs (issue 12, finding 10).
    assert not setup.test["metadata"].get("finalizers")
    for kind, name in CHILDREN:
        child = setup.kube.child(kind, NS, name)
        assert child is not None, name
        assert is_controlled_by(child, setup.uid())
        assert APPLIED_SPEC_ANNOTATION in child.metadata.annotations
    assert "status" not in setup.test  # written on the next round, behind other new tests

    assert await setup.reconcile() == Result()
    assert setup.test["status"]["phase"] == PENDING
    ready = setup.condition(READY)
    assert (ready["status"], ready["reason"]) == ("True", RESOURCES_CREATED)
    # One per child as the reference writes them, then ours once all exist.
    assert setup.events.messages("Created") == [
        "Created Service demo-master",
        "Created Job demo-master",
        "Created Job demo-worker",
        "All resources created",
    ]


async def test_a_steady_test_is_not_written_again() -> None:
    setup = Setup()
    await setup.reconcile()
    await setup.reconcile()
    writes = len(setup.kube.writes)
    assert await setup.reconcile() == Result()
    assert len(setup.kube.writes) == writes


async def test_a_child_the_cache_has_not_seen_yet_is_taken_as_ours() -> None:
    setup = Setup()
    # Created by an earlier round whose watch event has not arrived: create answers 409.
    ours = build_children(setup.test, OperatorConfig()).worker_job
    setup.kube.add(ours)
    setup.kube.uncached.add(("Job", NS, "demo-worker"))
    assert await setup.reconcile() == Result(children_created=True)
    assert ("create", "Job", "demo-worker") not in setup.kube.writes
    setup.kube.uncached.clear()
    await setup.reconcile()
    assert setup.condition(READY)["reason"] == RESOURCES_CREATED
    assert setup.events.messages("Created") == [
        "Created Service demo-master",
        "Created Job demo-master",
        "All resources created",
    ]


async def test_a_foreign_object_in_the_way_fails_creation_and_is_left_untouched() -> None:
    setup = Setup()
    setup.kube.add(foreign("Service", "demo-master"))
    setup.kube.uncached.add(("Service", NS, "demo-master"))  # as the cache never holds it
    with pytest.raises(ChildCreationFailed, match="Service demo-master already exists"):
        await setup.reconcile()
    ready = setup.condition(READY)
    assert (ready["status"], ready["reason"]) == ("False", RESOURCES_FAILED)
    assert "does not belong to this LocustTest" in ready["message"]
    assert setup.kube.child("Service", NS, "demo-master").metadata.uid == "someone-else"
    # All or none: no Job runs while its Service is someone else's.
    assert setup.kube.child("Job", NS, "demo-master") is None
    assert setup.kube.child("Job", NS, "demo-worker") is None
    assert setup.events.messages("Created") == []


async def test_a_cached_child_of_an_earlier_test_is_waited_for() -> None:
    setup = Setup()
    setup.kube.add(foreign("Job", "demo-worker"))
    result = await setup.reconcile()
    assert result == Result(requeue_after=FOREIGN_CHILD_RETRY_SECONDS)
    assert setup.kube.writes == []


async def test_a_refused_child_is_reported_in_the_status_and_retried() -> None:
    setup = Setup()
    setup.kube.fail[("create", "Job", "demo-worker")] = api_error(403, "quota exceeded")
    with pytest.raises(ChildCreationFailed, match="creating Job demo-worker failed"):
        await setup.reconcile()
    ready = setup.condition(READY)
    assert (ready["status"], ready["reason"]) == ("False", RESOURCES_FAILED)
    assert "quota exceeded" in ready["message"]

    # All or none: the master Job made in the same round was deleted again.
    assert setup.kube.child("Job", NS, "demo-master") is None
    assert ("delete", "Job", "demo-master") in setup.kube.writes
    assert setup.kube.child("Service", NS, "demo-master") is not None  # runs nothing: kept

    # The retry creates what is missing, and the status recovers.
    assert await setup.reconcile() == Result(children_created=True)
    creates = [(kind, name) for verb, kind, name in setup.kube.writes if verb == "create"]
    assert sorted(creates) == [
        ("Job", "demo-master"),
        ("Job", "demo-master"),
        ("Job", "demo-worker"),
        ("Service", "demo-master"),
    ]
    await setup.reconcile()
    assert setup.condition(READY)["reason"] == RESOURCES_CREATED
    # Created events for what exists, once each: not for the master that was deleted again.
    assert setup.events.messages("Created") == [
        "Created Service demo-master",
        "Created Job demo-master",
        "Created Job demo-worker",
        "All resources created",
    ]


def with_legacy_finalizer() -> dict[str, Any]:
    """A test an earlier version started: it carries the locust.io/cleanup finalizer."""
    test = locust_test()
    test["metadata"]["finalizers"] = [FINALIZER, "example.com/keep"]
    return test


async def test_an_earlier_versions_finalizer_is_removed_others_kept() -> None:
    setup = Setup(with_legacy_finalizer())
    assert await setup.reconcile() == Result(children_created=True)
    assert setup.test["metadata"]["finalizers"] == ["example.com/keep"]


async def test_a_stale_test_conflicts_on_the_finalizer() -> None:
    setup = Setup(with_legacy_finalizer())
    setup.kube.fail[("patch", "LocustTest", NAME)] = api_error(409, "modified")
    with pytest.raises(Conflict):
        await setup.reconcile()


async def test_a_test_deleted_while_its_finalizer_is_removed_is_left_alone() -> None:
    setup = Setup(with_legacy_finalizer())
    setup.kube.fail[("patch", "LocustTest", NAME)] = api_error(404, "gone")
    assert await setup.reconcile() == Result()
    assert "status" not in setup.test


async def test_a_stale_status_write_conflicts_and_a_vanished_test_does_not() -> None:
    setup = Setup()
    await setup.reconcile()
    setup.kube.fail[("patch status", "LocustTest", NAME)] = api_error(409, "modified")
    with pytest.raises(Conflict):
        await setup.reconcile()
    setup.kube.fail[("patch status", "LocustTest", NAME)] = api_error(404, "gone")
    assert await setup.reconcile() == Result()


async def test_a_test_gone_from_the_cache_needs_nothing() -> None:
    setup = Setup()
    setup.kube.objects.clear()
    assert await setup.reconcile() == Result()
    assert setup.kube.writes == []


async def test_a_deleted_child_is_recreated_from_the_spec_the_test_started_with() -> None:
    setup = Setup()
    await setup.reconcile()
    await setup.reconcile()
    started_with = copy.deepcopy(setup.test["spec"])
    setup.test["spec"]["worker"]["replicas"] = 9  # an edit, never applied
    setup.test["metadata"]["generation"] += 1
    del setup.kube.objects[("Job", NS, "demo-worker")]

    assert await setup.reconcile() == Result()
    worker = setup.kube.child("Job", NS, "demo-worker")
    assert worker.spec.parallelism == started_with["worker"]["replicas"]
    rebuilt = as_built(setup.test, worker)
    assert rebuilt is not None and rebuilt["spec"] == started_with
    assert setup.test["status"]["phase"] == PENDING
    assert setup.condition(READY)["reason"] == RESOURCES_CREATING
    assert setup.events.messages("ResourceDeleted") == [
        "Worker Job demo-worker was deleted externally, will attempt recreation"
    ]
    assert setup.events.messages("Created")[-1] == "Created Job demo-worker"
    assert setup.condition("SpecDrifted")["status"] == "True"


async def test_a_deleted_test_gets_the_deleting_event() -> None:
    setup = Setup()
    await setup.reconcile()
    await setup.reconciler.deleted(setup.test)  # its DELETED event
    assert setup.events.reasons()[-1] == "Deleting"
    assert setup.events.messages("Deleting") == ["LocustTest and owned resources being cleaned up"]


async def test_a_test_being_deleted_loses_an_earlier_versions_finalizer() -> None:
    setup = Setup(with_legacy_finalizer())
    setup.test["metadata"]["deletionTimestamp"] = NOW.isoformat()
    assert await setup.reconcile() == Result()
    assert setup.test["metadata"]["finalizers"] == ["example.com/keep"]
    assert "Deleting" not in setup.events.reasons()  # that comes with the DELETED event


async def test_a_stale_deletion_conflicts() -> None:
    setup = Setup(with_legacy_finalizer())
    setup.test["metadata"]["deletionTimestamp"] = NOW.isoformat()
    setup.kube.fail[("patch", "LocustTest", NAME)] = api_error(409, "modified")
    with pytest.raises(Conflict):
        await setup.reconcile()


def _stuck_master_pod(setup: Setup, created: datetime) -> Pod:
    job = setup.kube.child("Job", NS, "demo-master")
    pod = make_pod(
        "demo-master-abcde",
        job_name="demo-master",
        created=created,
        phase="Pending",
        containers=[container(waiting="ContainerCreating")],
    )
    assert pod.metadata is not None and pod.metadata.ownerReferences
    pod.metadata.namespace = NS
    pod.metadata.labels = {"performance-test-name": NAME}
    pod.metadata.ownerReferences[0].uid = job.metadata.uid
    return pod


async def test_a_missing_config_map_is_named_once_the_grace_period_is_over() -> None:
    setup = Setup()
    await setup.reconcile()
    setup.kube.add(_stuck_master_pod(setup, created=NOW))
    await setup.reconcile()
    assert setup.condition("PodsHealthy")["status"] == "True"  # still in the grace period
    assert setup.kube.reads == []  # no lookups before a problem may be diagnosed

    setup.now = NOW + timedelta(minutes=3)
    await setup.reconcile()
    health = setup.condition("PodsHealthy")
    assert (health["status"], health["reason"]) == ("False", CONFIGURATION_ERROR)
    assert 'ConfigMap "scripts"' in health["message"]
    assert setup.kube.reads == [("ConfigMap", "scripts")]
    assert setup.test["status"]["phase"] == FAILED  # a CI job waiting for it gets an outcome

    # Still looked up while Failed: the test resumes once the pods start.
    setup.now += timedelta(seconds=30)
    await setup.reconcile()
    assert setup.kube.reads == [("ConfigMap", "scripts")] * 2


def invalid(field: str, message: str) -> Exception:
    """The apiserver's 422 for a Job, with one field cause."""
    from lightkube.core.exceptions import ApiError
    from lightkube.models.meta_v1 import Status, StatusCause, StatusDetails

    status = Status(
        code=422,
        reason="Invalid",
        message=f'Job.batch "demo-worker" is invalid: {field}: {message}',
        details=StatusDetails(causes=[StatusCause(field=field, message=message)]),
    )
    return ApiError(status=status)


async def test_a_child_the_apiserver_refuses_as_invalid_fails_the_test_with_no_job_left() -> None:
    setup = Setup()
    field = "spec.template.spec.containers[0].resources.limits"
    setup.kube.fail[("create", "Job", "demo-worker")] = invalid(field, "must be >= request")
    result = await setup.reconcile()  # no ChildCreationFailed: nothing to retry

    assert result.requeue_after is None and not result.children_created
    # All or none: the master made in the same round is deleted again before the status
    # says Failed; no Job is left to run a master without its workers.
    assert setup.kube.child("Job", NS, "demo-master") is None
    assert setup.kube.child("Job", NS, "demo-worker") is None
    assert ("delete", "Job", "demo-master") in setup.kube.writes
    assert setup.events.messages("Created") == ["Created Service demo-master"]  # runs nothing
    status = setup.test["status"]
    assert status["phase"] == "Failed"
    ready = setup.condition(READY)
    assert (ready["status"], ready["reason"]) == ("False", RESOURCES_FAILED)
    assert "must be >= request" in ready["message"]
    assert "spec.worker.resources" in ready["message"]  # the field of the LocustTest
    failed = [e for e in setup.events.events if e[0] == "Warning"]
    assert len(failed) == 1, setup.events.events

    # Later rounds (resync) neither create nor write nor emit again.
    writes, events = list(setup.kube.writes), list(setup.events.events)
    await setup.reconcile()
    assert setup.kube.writes == writes and setup.events.events == events


async def test_a_stored_spec_that_cannot_be_read_fails_the_test_once() -> None:
    test = locust_test()
    test["spec"]["master"]["extraArgs"] = "--not-a-list"
    setup = Setup(test)
    await setup.reconcile()
    status = setup.test["status"]
    assert status["phase"] == "Failed"
    assert "spec.master.extraArgs" in setup.condition(READY)["message"]
    events = list(setup.events.events)
    await setup.reconcile()
    assert setup.events.events == events
    assert [w for w in setup.kube.writes if w[0] == "create"] == []


async def test_transient_refusals_still_retry() -> None:
    setup = Setup()
    setup.kube.fail[("create", "Job", "demo-master")] = api_error(403, "quota exceeded")
    with pytest.raises(ChildCreationFailed, match="quota exceeded"):
        await setup.reconcile()
    assert setup.test.get("status", {}).get("phase") != "Failed"
    assert setup.kube.child("Job", NS, "demo-worker") is None  # no workers without master


async def test_a_roll_back_that_fails_is_finished_by_the_retry() -> None:
    setup = Setup()
    field = "spec.template.spec.containers[0].resources.limits"
    setup.kube.fail[("create", "Job", "demo-worker")] = invalid(field, "must be >= request")
    setup.kube.fail[("delete", "Job", "demo-master")] = api_error(503, "apiserver busy")
    with pytest.raises(ChildCreationFailed, match="deleting Job demo-master again failed"):
        await setup.reconcile()
    # Not judged Failed while a master is left: the retry deletes it first.
    assert setup.test.get("status", {}).get("phase") != "Failed"
    assert setup.kube.child("Job", NS, "demo-master") is not None

    setup.kube.fail[("create", "Job", "demo-worker")] = invalid(field, "must be >= request")
    await setup.reconcile()
    assert setup.kube.child("Job", NS, "demo-master") is None
    assert setup.test["status"]["phase"] == "Failed"
    assert len([e for e in setup.events.events if e[0] == "Warning"]) == 1


async def test_a_running_test_keeps_its_master_when_its_workers_cannot_be_recreated() -> None:
    """Roll-back is for tests not started yet: a running test's children are never deleted."""
    setup = Setup()
    await setup.reconcile()
    await setup.reconcile()
    setup.test["status"]["phase"] = RUNNING
    del setup.kube.objects[("Job", NS, "demo-worker")]  # deleted by someone
    setup.kube.fail[("create", "Job", "demo-worker")] = api_error(403, "quota exceeded")
    with pytest.raises(ChildCreationFailed, match="quota exceeded"):
        await setup.reconcile()
    assert setup.kube.child("Job", NS, "demo-master") is not None
    assert not [w for w in setup.kube.writes if w[0] == "delete"]


def _as_the_reference_created(child: Service | Job) -> Service | Job:
    """A child shaped as the reference operator creates it: owned by the test, without our
    annotations; its Service without labels (its Jobs get theirs from their pods)."""
    assert child.metadata is not None
    child.metadata.annotations = None
    if isinstance(child, Service):
        child.metadata.labels = None
    return child


async def test_children_the_reference_created_are_adopted_not_recreated() -> None:
    """Switching over while a test runs: the reference wrote its status and children."""
    test = locust_test()
    test["metadata"]["finalizers"] = [FINALIZER]
    test["status"] = {
        "phase": RUNNING,
        "conditions": [{"type": READY, "status": "True", "reason": RESOURCES_CREATED}],
    }
    setup = Setup(test)
    built = build_children(setup.test, OperatorConfig())
    for child in (built.service, built.master_job, built.worker_job):
        setup.kube.add(_as_the_reference_created(child))
    # Our informers select on a label the reference's Service does not carry.
    setup.kube.uncached.add(("Service", NS, "demo-master"))
    master = setup.kube.child("Job", NS, "demo-master")
    master.status = JobStatus(active=1, ready=1)

    for _ in range(2):
        assert await setup.reconcile() == Result()
        assert not [w for w in setup.kube.writes if w[0] == "create"]
        assert setup.test["status"]["phase"] == RUNNING
        assert setup.condition(READY)["reason"] == RESOURCES_CREATED
    assert "ResourceDeleted" not in setup.events.reasons()
    assert "Created" not in setup.events.reasons()

    master.status = JobStatus(
        succeeded=1,
        conditions=[JobCondition(type="Complete", status="True")],
    )
    await setup.reconcile()
    assert setup.test["status"]["phase"] == "Succeeded"
    assert setup.events.reasons() == ["TestCompleted"]
