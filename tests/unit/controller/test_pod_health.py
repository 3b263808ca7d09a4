"""PodsHealthy diagnosis: each reason, before and after the grace period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from lightkube.resources.core_v1 import Pod

from locust_operator.api.conditions import (
    CONFIGURATION_ERROR,
    CRASH_LOOP_BACK_OFF,
    IMAGE_PULL_ERROR,
    INITIALIZATION_ERROR,
    PODS_HEALTHY_REASON,
    PODS_STARTING,
    SCHEDULING_ERROR,
)
from locust_operator.controller.pod_health import MAX_LISTED_PODS, analyze_pods
from tests.unit.controller.builders import GRACE, MASTER, NOW, container, pod, worker_pod

FAILING_PODS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, pod arguments, reason, text the message must contain)
    (
        "ErrImagePull",
        {"containers": [container(waiting="ErrImagePull", message="pull access denied")]},
        IMAGE_PULL_ERROR,
        "pull access denied",
    ),
    (
        "ImagePullBackOff",
        {"containers": [container(waiting="ImagePullBackOff")]},
        IMAGE_PULL_ERROR,
        "ImagePullBackOff",
    ),
    (
        "InvalidImageName",
        {"containers": [container(waiting="InvalidImageName")]},
        IMAGE_PULL_ERROR,
        "InvalidImageName",
    ),
    (
        "CreateContainerConfigError",
        {
            "containers": [
                container(
                    waiting="CreateContainerConfigError", message='configmap "scripts" not found'
                )
            ]
        },
        CONFIGURATION_ERROR,
        'Create ConfigMap "scripts"',
    ),
    (
        "missing Secret",
        {
            "containers": [
                container(waiting="CreateContainerConfigError", message='secret "creds" not found')
            ]
        },
        CONFIGURATION_ERROR,
        'Create Secret "creds"',
    ),
    (
        "CrashLoopBackOff",
        {"containers": [container(waiting="CrashLoopBackOff", message="back-off 5m0s")]},
        CRASH_LOOP_BACK_OFF,
        "back-off 5m0s",
    ),
    (
        "main container exited non-zero",
        {"containers": [container(exit_code=137)]},
        CRASH_LOOP_BACK_OFF,
        "exited with code 137",
    ),
    (
        "init container exited non-zero",
        {
            "phase": "Pending",
            "init_containers": [container("setup", exit_code=1)],
            "containers": [container(waiting="PodInitializing")],
        },
        INITIALIZATION_ERROR,
        "setup exited with code 1",
    ),
    (
        "init container crash looping",
        {"phase": "Pending", "init_containers": [container("setup", waiting="CrashLoopBackOff")]},
        INITIALIZATION_ERROR,
        "setup",
    ),
    (
        "init container stuck with an error",
        {"phase": "Pending", "init_containers": [container("setup", waiting="RunContainerError")]},
        INITIALIZATION_ERROR,
        "RunContainerError",
    ),
    (
        "native sidecar cannot start",
        {
            "phase": "Pending",
            "sidecars": ("exporter",),
            "init_containers": [container("exporter", waiting="RunContainerError")],
        },
        INITIALIZATION_ERROR,
        "exporter: RunContainerError",
    ),
    (
        "init container image pull",
        {"phase": "Pending", "init_containers": [container("setup", waiting="ImagePullBackOff")]},
        IMAGE_PULL_ERROR,
        "setup",
    ),
    (
        "Unschedulable",
        {"phase": "Pending", "unschedulable": "0/3 nodes are available: insufficient cpu"},
        SCHEDULING_ERROR,
        "0/3 nodes are available: insufficient cpu",
    ),
]


@pytest.mark.parametrize(
    ("arguments", "reason", "text"),
    [case[1:] for case in FAILING_PODS],
    ids=[case[0] for case in FAILING_PODS],
)
def test_failure_after_grace_period(arguments: dict[str, Any], reason: str, text: str) -> None:
    health = analyze_pods([pod(**arguments)], (), NOW, GRACE)
    assert (health.status, health.reason, health.failing) == ("False", reason, True)
    assert health.message.startswith(f"{reason}: 1 pod(s) affected [{MASTER}-abcde]: ")
    assert text in health.message
    assert health.requeue_after is None


@pytest.mark.parametrize(
    "arguments", [case[1] for case in FAILING_PODS], ids=[case[0] for case in FAILING_PODS]
)
def test_failure_within_grace_period_is_starting(arguments: dict[str, Any]) -> None:
    age = timedelta(seconds=30)
    health = analyze_pods([pod(created=NOW - age, **arguments)], (), NOW, GRACE)
    assert (health.status, health.reason, health.failing) == ("True", PODS_STARTING, False)
    assert health.message == "Pods are starting up"
    assert health.requeue_after == (GRACE - age).total_seconds() == 90.0


CREATING = [container(waiting="ContainerCreating")]


def starting(**arguments: Any) -> Pod:
    """A pod whose container is not running yet."""
    return pod(phase="Pending", containers=CREATING, **arguments)


def test_no_pods_yet() -> None:
    health = analyze_pods([], (), NOW, GRACE)
    assert (health.status, health.reason, health.message) == (
        "True",
        PODS_STARTING,
        "Waiting for pods to be created",
    )
    assert health.requeue_after is None and not health.failing


def test_grace_period_counts_from_the_oldest_pod() -> None:
    pods = [
        starting(created=NOW - timedelta(seconds=10)),
        worker_pod(created=NOW - timedelta(seconds=100)),
    ]
    assert analyze_pods(pods, (), NOW, GRACE).requeue_after == 20.0


def test_grace_period_is_a_parameter() -> None:
    young = [starting(created=NOW - timedelta(seconds=3))]
    assert analyze_pods(young, (), NOW, timedelta(seconds=4)).requeue_after == 1.0
    assert analyze_pods(young, (), NOW, timedelta(seconds=2)).reason == PODS_HEALTHY_REASON


def test_grace_period_ends_exactly() -> None:
    pods = [pod(created=NOW - GRACE, containers=[container(waiting="ErrImagePull")])]
    assert analyze_pods(pods, (), NOW, GRACE).reason == IMAGE_PULL_ERROR


def test_healthy_pods() -> None:
    health = analyze_pods([pod(), worker_pod()], (), NOW, GRACE)
    assert (health.status, health.reason, health.message) == (
        "True",
        PODS_HEALTHY_REASON,
        "All pods are healthy",
    )
    assert not health.failing and health.requeue_after is None


@pytest.mark.parametrize(
    "healthy",
    [
        pod(phase="Succeeded", containers=[container(exit_code=1)]),
        pod(sidecars=("otel",), init_containers=[container("otel", exit_code=143)]),
        pod(phase="Pending", containers=[container(waiting="ContainerCreating")]),
        pod(phase="Pending", init_containers=[container("setup", waiting="PodInitializing")]),
        pod(containers=[container(exit_code=0)]),
    ],
    ids=["succeeded", "native sidecar stopped", "creating", "initializing", "exit 0"],
)
def test_not_failures(healthy: Pod) -> None:
    assert analyze_pods([healthy], (), NOW, GRACE).reason == PODS_HEALTHY_REASON


def test_pods_being_deleted_are_ignored() -> None:
    broken = dict(containers=[container(waiting="CrashLoopBackOff")], deleting=True)
    assert analyze_pods([pod(**broken)], (), NOW, GRACE).message == "Waiting for pods to be created"
    young = starting(name=f"{MASTER}-new", created=NOW - timedelta(seconds=5))
    health = analyze_pods([pod(**broken), young], (), NOW, GRACE)
    assert (health.reason, health.requeue_after) == (PODS_STARTING, 115.0)


def test_missing_config_map_names_it_on_pods_that_cannot_start() -> None:
    stuck = pod(phase="Pending", containers=[container(waiting="ContainerCreating")])
    health = analyze_pods([stuck], ["late-scripts"], NOW, GRACE)
    assert (health.status, health.reason) == ("False", CONFIGURATION_ERROR)
    assert 'ConfigMap "late-scripts" not found' in health.message
    assert MASTER in health.message
    assert health.message.endswith(
        'Create ConfigMap "late-scripts" and the pods will restart automatically.'
    )


def test_missing_config_maps_are_listed_sorted() -> None:
    stuck = pod(phase="Pending", containers=[container(waiting="ContainerCreating")])
    health = analyze_pods([stuck], ["zeta", "alpha"], NOW, GRACE)
    assert 'ConfigMaps "alpha", "zeta" not found' in health.message


def test_missing_config_map_does_not_fail_running_pods() -> None:
    assert analyze_pods([pod()], ["gone-later"], NOW, GRACE).reason == PODS_HEALTHY_REASON


def test_most_actionable_failure_wins_and_names_only_its_pods() -> None:
    pods = [
        worker_pod("demo-worker-b", containers=[container(waiting="CrashLoopBackOff")]),
        worker_pod(
            "demo-worker-a",
            containers=[container(waiting="CreateContainerConfigError", message="no config")],
        ),
    ]
    health = analyze_pods(pods, (), NOW, GRACE)
    assert health.reason == CONFIGURATION_ERROR
    assert "[demo-worker-a]" in health.message and "demo-worker-b" not in health.message


def test_several_failing_pods_are_ordered_by_name() -> None:
    pods = [
        worker_pod(
            f"demo-worker-{letter}", containers=[container(waiting="ErrImagePull", message=letter)]
        )
        for letter in "cab"
    ]
    health = analyze_pods(pods, (), NOW, GRACE)
    assert "3 pod(s) affected [demo-worker-a, demo-worker-b, demo-worker-c]" in health.message
    assert health.message.endswith("(a)")  # the first pod's detail
    assert analyze_pods(list(reversed(pods)), (), NOW, GRACE) == health


def test_long_pod_lists_are_cut() -> None:
    pods = [
        worker_pod(f"demo-worker-{index:03}", containers=[container(waiting="ErrImagePull")])
        for index in range(MAX_LISTED_PODS + 5)
    ]
    health = analyze_pods(pods, (), NOW, GRACE)
    assert f"{MAX_LISTED_PODS + 5} pod(s) affected" in health.message
    assert "demo-worker-009, +5 more]" in health.message
    assert "demo-worker-010" not in health.message


def test_naive_now_is_utc() -> None:
    young = [starting(created=NOW - timedelta(seconds=30))]
    assert analyze_pods(young, (), NOW.replace(tzinfo=None), GRACE).requeue_after == 90.0


def test_pods_all_up_are_healthy_within_the_grace_period() -> None:
    """No need to wait out the grace period when every pod runs ready (or succeeded)."""
    young = NOW - timedelta(seconds=5)
    pods = [
        pod(created=young),
        worker_pod(created=young),
        pod(
            f"{MASTER}-done", created=young, phase="Succeeded", containers=[container(exit_code=0)]
        ),
        # Locust quit (exit 0) while the exporter sidecar still runs: done, not starting.
        pod(f"{MASTER}-quit", created=young, containers=[container(exit_code=0), container("x")]),
    ]
    health = analyze_pods(pods, (), NOW, GRACE)
    assert (health.status, health.reason, health.message) == (
        "True",
        PODS_HEALTHY_REASON,
        "All pods are healthy",
    )
    assert health.requeue_after is None and not health.failing


@pytest.mark.parametrize(
    "not_up",
    [
        pod(phase="Pending", containers=CREATING),
        pod(containers=[container(), {**container("exporter"), "ready": False}]),
        pod(containers=[container(exit_code=1)]),
        pod(phase="Running", containers=[]),
    ],
    ids=["creating", "one container not ready", "exited", "no container status yet"],
)
def test_one_pod_not_up_keeps_the_grace_period(not_up: Pod) -> None:
    young = NOW - timedelta(seconds=30)
    pods = [worker_pod(created=young), replace_created(not_up, young)]
    health = analyze_pods(pods, (), NOW, GRACE)
    assert (health.reason, health.requeue_after) == (PODS_STARTING, 90.0)


def replace_created(original: Pod, when: Any) -> Pod:
    copy = Pod.from_dict(original.to_dict())
    assert copy.metadata is not None
    copy.metadata.creationTimestamp = when
    return copy
