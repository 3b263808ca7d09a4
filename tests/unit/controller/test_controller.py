"""How the controller maps watch events to LocustTest keys (urgency, coalescing, the
Pod -> Job -> LocustTest chain), gates work on leadership, drains, and exports metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod
from prometheus_client import REGISTRY

from locust_operator.api.conditions import CONFIGURATION_ERROR
from locust_operator.config import OperatorConfig
from locust_operator.controller.controller import (
    STATUS_COALESCE_SECONDS,
    Controller,
    KeyReconciler,
    TimedWorkQueue,
)
from locust_operator.controller.reconciler import Result
from locust_operator.logs import current_test
from tests.unit.kube.fakeclock import FakeClock

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


def new_controller(
    queue: TimedWorkQueue | None = None, reconciler: KeyReconciler | None = None
) -> Controller:
    client = AsyncClient(config=KubeConfig.from_dict(KUBECONFIG))
    return Controller(client, OperatorConfig(), queue=queue, reconciler=reconciler)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def standby(fake_clock: FakeClock) -> Controller:
    return new_controller(TimedWorkQueue(clock=fake_clock))


@pytest.fixture
def controller(standby: Controller) -> Controller:
    standby.start_queueing()  # as on the leader; the standby case has a test of its own
    return standby


def locusttest(generation: int = 1, **metadata: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": "t",
            "uid": "u1",
            "generation": generation,
            **metadata,
        }
    }


def owner(kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "name": name, "uid": "x", "controller": True}


async def take(controller: Controller) -> tuple[str, str]:
    key = await controller.queue.get()
    controller.queue.done(key)
    return key


async def test_new_and_edited_tests_are_queued_but_status_echoes_are_not(
    controller: Controller,
) -> None:
    controller._on_test("ADDED", locusttest())
    assert await take(controller) == ("ns", "t")
    # Our own status write comes back as an update with the same generation.
    controller._on_test("MODIFIED", locusttest(resourceVersion="2"))
    assert len(controller.queue) == 0
    controller._on_test("MODIFIED", locusttest(generation=2))
    assert len(controller.queue) == 1
    await take(controller)
    controller._on_test("MODIFIED", locusttest(generation=2, deletionTimestamp="now"))
    assert len(controller.queue) == 1


async def test_new_tests_overtake_status_refreshes(
    controller: Controller, fake_clock: FakeClock
) -> None:
    job = Job.from_dict(
        {
            "metadata": {
                "namespace": "ns",
                "name": "old-master",
                "ownerReferences": [owner("LocustTest", "old")],
            }
        }
    )
    controller._on_child("MODIFIED", job)
    fake_clock.advance(STATUS_COALESCE_SECONDS)
    controller._on_test("ADDED", locusttest())
    assert await take(controller) == ("ns", "t")
    assert await take(controller) == ("ns", "old")


async def test_pod_changes_are_coalesced_per_test(
    controller: Controller, fake_clock: FakeClock
) -> None:
    for index in range(5):
        pod = Pod.from_dict(
            {
                "metadata": {
                    "namespace": "ns",
                    "name": f"t-worker-{index}",
                    "labels": {"performance-test-name": "t"},
                    "ownerReferences": [owner("Job", "t-worker")],
                }
            }
        )
        controller._on_pod("MODIFIED", pod)
    assert len(controller.queue) == 0  # not yet: gathered for a moment
    fake_clock.advance(STATUS_COALESCE_SECONDS)
    assert len(controller.queue) == 1
    assert await take(controller) == ("ns", "t")


async def test_a_deleted_child_is_urgent(controller: Controller) -> None:
    job = Job.from_dict(
        {
            "metadata": {
                "namespace": "ns",
                "name": "t-master",
                "ownerReferences": [owner("LocustTest", "t")],
            }
        }
    )
    controller._on_child("DELETED", job)
    assert len(controller.queue) == 1
    assert await take(controller) == ("ns", "t")


async def test_a_standby_queues_nothing(standby: Controller) -> None:
    controller = standby
    controller._on_test("ADDED", locusttest())
    job = Job.from_dict(
        {
            "metadata": {
                "namespace": "ns",
                "name": "m",
                "ownerReferences": [owner("LocustTest", "t")],
            }
        }
    )
    controller._on_child("DELETED", job)
    assert len(controller.queue) == 0


class BlockingReconciler:
    """Reconciles wait until ``finish`` is set; records what they saw."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        self.finished: list[tuple[str, str]] = []
        self.log_context: list[tuple[str, str] | None] = []
        self.finish = asyncio.Event()
        self.entered = asyncio.Event()

    async def reconcile(self, namespace: str, name: str) -> Result:
        self.started.append((namespace, name))
        self.log_context.append(current_test.get())
        self.entered.set()
        await self.finish.wait()
        self.finished.append((namespace, name))
        return Result()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_leading_replays_the_cache_and_stopping_drains_in_flight_reconciles() -> None:
    fake = BlockingReconciler()
    controller = new_controller(reconciler=fake)
    controller.tests.informers[0].store.put(locusttest())  # cached while a standby
    controller._on_test("ADDED", locusttest())
    waited_before = sample("locust_operator_workqueue_queue_duration_seconds_count")

    running = asyncio.create_task(controller.run_workers())
    await asyncio.wait_for(fake.entered.wait(), 10)
    assert fake.started == [("ns", "t")]
    assert fake.log_context == [("ns", "t")]  # log lines of the reconcile name the test
    assert sample("locust_operator_workqueue_queue_duration_seconds_count") == waited_before + 1

    controller.stop_workers()
    await asyncio.sleep(0.05)
    assert not running.done()  # the in-flight reconcile is not cut short
    fake.finish.set()
    await asyncio.wait_for(running, 10)
    assert fake.finished == [("ns", "t")]
    assert current_test.get() is None


async def test_scrape_time_metrics_read_the_cache_and_the_queue(controller: Controller) -> None:
    controller.export_metrics()
    store = controller.tests.informers[0].store
    store.put(locusttest(name="new"))
    for name, phase in (("a", "Running"), ("b", "Running"), ("c", "Succeeded")):
        test = locusttest(name=name)
        test["status"] = {"phase": phase}
        store.put(test)
    assert sample("locust_operator_locusttests", phase="Running") == 2
    assert sample("locust_operator_locusttests", phase="Succeeded") == 1
    assert sample("locust_operator_locusttests", phase="Pending") == 1  # not yet reconciled
    assert sample("locust_operator_locusttests", phase="Failed") == 0
    controller._on_test("ADDED", locusttest(name="a"))
    controller._on_test("ADDED", locusttest(name="b"))
    assert sample("locust_operator_workqueue_depth") == 2


def master_job(*, failed: bool = False) -> Job:
    conditions = [{"type": "Failed", "status": "True"}] if failed else []
    return Job.from_dict(
        {
            "metadata": {"namespace": "ns", "name": "t-master"},
            "status": {"conditions": conditions},
        }
    )


async def test_the_resync_leaves_final_tests_alone(controller: Controller) -> None:
    store = controller.tests.informers[0].store
    waiting = {
        "type": "PodsHealthy",
        "status": "False",
        "reason": CONFIGURATION_ERROR,
    }
    for name, status in (
        ("running", {"phase": "Running"}),
        ("new", None),
        ("succeeded", {"phase": "Succeeded"}),
        ("failed", {"phase": "Failed"}),
        # Failed by pods that never started, master Job still there: may still resume.
        ("resumable", {"phase": "Failed", "conditions": [waiting]}),
    ):
        test = locusttest(name=name)
        if status is not None:
            test["status"] = status
        store.put(test)
    job = master_job()
    assert job.metadata is not None
    job.metadata.name = "resumable-master"
    controller.jobs.informers[0].store.put(job)

    controller.resync_once()

    queued = set()
    while len(controller.queue):
        queued.add(await take(controller))
    assert queued == {("ns", "running"), ("ns", "new"), ("ns", "resumable")}
