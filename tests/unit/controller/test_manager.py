"""How the manager maps watch events to LocustTest keys: urgency, coalescing, and the
Pod -> Job -> LocustTest chain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod

from locust_operator.config import OperatorConfig
from locust_operator.controller.manager import STATUS_COALESCE_SECONDS, Controller
from locust_operator.kube.workqueue import WorkQueue
from tests.unit.kube.fakeclock import FakeClock

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


@pytest.fixture
def controller() -> Iterator[Controller]:
    client = AsyncClient(config=KubeConfig.from_dict(KUBECONFIG))
    made = Controller(client, OperatorConfig())
    made.queue = WorkQueue(clock=FakeClock())
    yield made


def clock(controller: Controller) -> FakeClock:
    fake = controller.queue._clock
    assert isinstance(fake, FakeClock)
    return fake


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


async def test_new_tests_overtake_status_refreshes(controller: Controller) -> None:
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
    clock(controller).advance(STATUS_COALESCE_SECONDS)
    controller._on_test("ADDED", locusttest())
    assert await take(controller) == ("ns", "t")
    assert await take(controller) == ("ns", "old")


async def test_pod_changes_are_coalesced_per_test(controller: Controller) -> None:
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
    clock(controller).advance(STATUS_COALESCE_SECONDS)
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
