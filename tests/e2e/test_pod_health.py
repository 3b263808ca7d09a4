"""PodsHealthy: each reason the operator reports, after the grace period, from what kwok
(standing in for the kubelet) and the real scheduler report about the pods."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.resources.core_v1 import Event, Pod
from lightkube.types import PatchType

from tests.e2e.conftest import (
    condition,
    create_scripts,
    create_test,
    locusttest,
    pods_of,
    unique,
    wait_for_condition,
    wait_for_phase,
)
from tests.helpers import eventually, pod_outcome

pytestmark = pytest.mark.cluster

WAITING = "kwok.locust.io/waiting-reason"


def waiting(reason: str) -> dict[str, Any]:
    """Spec fields that keep every pod's containers waiting with ``reason``."""
    return {
        "master": {
            "command": "--locustfile /lotest/src/test.py",
            "annotations": {WAITING: reason},
        },
        "worker": {
            "command": "--locustfile /lotest/src/test.py",
            "replicas": 1,
            "annotations": {WAITING: reason},
        },
    }


@pytest.mark.parametrize(
    ("kubelet_reason", "reported"),
    [
        ("ErrImagePull", "ImagePullError"),
        ("ImagePullBackOff", "ImagePullError"),
        ("CrashLoopBackOff", "CrashLoopBackOff"),
        ("CreateContainerConfigError", "ConfigurationError"),
    ],
)
async def test_container_waiting_reasons(
    kube: AsyncClient, namespace: str, kubelet_reason: str, reported: str
) -> None:
    name = unique("health")
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name, **waiting(kubelet_reason)))
    seen = await wait_for_condition(kube, namespace, name, "PodsHealthy", "False", reported)
    assert name in seen["message"]  # names the failing pod(s)
    await assert_failed_by_pods(kube, namespace, name, reported)


async def test_unschedulable_pods_report_scheduling_error(
    kube: AsyncClient, namespace: str
) -> None:
    name = unique("sched")
    await create_scripts(kube, namespace)
    body = locusttest(name, scheduling={"nodeSelector": {"no-such-node-label": "x"}})
    await create_test(kube, namespace, body)
    seen = await wait_for_condition(
        kube, namespace, name, "PodsHealthy", "False", "SchedulingError"
    )
    assert seen["message"]
    await assert_failed_by_pods(kube, namespace, name, "SchedulingError")


async def test_configmap_created_later_recovers(kube: AsyncClient, namespace: str) -> None:
    """The FAQ: create the ConfigMap before or after the LocustTest; the operator detects
    the missing ConfigMap in PodsHealthy and the recovery by itself. Past the grace period
    the test is Failed (a CI job waiting for it gets an outcome); once the ConfigMap exists
    and the master runs, it resumes and ends with the master Job's verdict."""
    name = unique("late")
    # No ConfigMap yet: a kubelet would keep the containers in ContainerCreating.
    body = locusttest(name, **waiting("ContainerCreating"))
    body["spec"]["testFiles"] = {"configMapRef": "late-scripts"}
    await create_test(kube, namespace, body)
    seen = await wait_for_condition(
        kube, namespace, name, "PodsHealthy", "False", "ConfigurationError"
    )
    assert "late-scripts" in seen["message"]
    await assert_failed_by_pods(kube, namespace, name, "ConfigurationError")

    await create_scripts(kube, namespace, "late-scripts")
    # The kubelet retries the mount and starts the containers: drop the waiting state.
    for role in ("master", "worker"):
        for pod in await pods_of(kube, namespace, name, role):
            assert pod.metadata and pod.metadata.name
            await kube.patch(
                Pod,
                pod.metadata.name,
                [{"op": "remove", "path": "/metadata/annotations/kwok.locust.io~1waiting-reason"}],
                namespace=namespace,
                patch_type=PatchType.JSON,
            )
    await wait_for_condition(kube, namespace, name, "PodsHealthy", "True", "PodsHealthy")
    resumed = await wait_for_phase(kube, namespace, name, "Running")
    assert "completionTime" not in resumed
    assert condition(resumed, "TestCompleted")["reason"] == "TestInProgress"

    (master,) = await pods_of(kube, namespace, name, "master")
    await pod_outcome(kube, master, "Succeeded")
    done = await wait_for_phase(kube, namespace, name, "Succeeded")
    assert condition(done, "TestCompleted")["reason"] == "TestSucceeded"
    assert "Load test resumed" in " ".join(await event_messages(kube, namespace, name))


async def test_healthy_pods(kube: AsyncClient, namespace: str) -> None:
    name = unique("healthy")
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name))
    await wait_for_condition(kube, namespace, name, "PodsHealthy", "True", "PodsHealthy")

    async def all_running() -> bool:
        pods = [
            *await pods_of(kube, namespace, name, "master"),
            *await pods_of(kube, namespace, name, "worker"),
        ]
        return len(pods) == 3 and all(p.status and p.status.phase == "Running" for p in pods)

    await eventually(all_running, what="all three pods Running")


async def test_sidecar_that_cannot_start_reports_initialization_error(
    kube: AsyncClient, namespace: str
) -> None:
    """The master pod's metrics-exporter sidecar (an init container) never starts, so the
    pod never finishes initializing."""
    name = unique("init")
    await create_scripts(kube, namespace)
    master = {
        "command": "--locustfile /lotest/src/test.py",
        "annotations": {"kwok.locust.io/init-waiting-reason": "RunContainerError"},
    }
    await create_test(kube, namespace, locusttest(name, master=master))
    seen = await wait_for_condition(
        kube, namespace, name, "PodsHealthy", "False", "InitializationError"
    )
    assert f"{name}-master" in seen["message"]
    await assert_failed_by_pods(kube, namespace, name, "InitializationError")


async def assert_failed_by_pods(kube: AsyncClient, namespace: str, name: str, reason: str) -> None:
    """The test is Failed as the reference fails it, whatever the PodsHealthy reason."""
    status = await wait_for_phase(kube, namespace, name, "Failed", within=30)
    assert condition(status, "PodsHealthy")["reason"] == reason
    completed = condition(status, "TestCompleted")
    assert (completed["status"], completed["reason"]) == ("True", "TestFailed")
    assert completed["message"].startswith(f"Test failed: {reason}")
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ResourcesFailed")
    assert status["completionTime"]

    async def failed_event() -> bool:
        return "Load test execution failed" in await event_messages(kube, namespace, name)

    await eventually(failed_event, what=f"{name}: a TestFailed event")


async def event_messages(kube: AsyncClient, namespace: str, name: str) -> list[str]:
    return [
        str(event.message)
        async for event in kube.list(
            Event, namespace=namespace, fields={"involvedObject.name": name}
        )
    ]
