"""Real failures on the real node and how the test reports them: a locustfile whose
requests fail (the master exits non-zero, the test goes Failed), an image that cannot be
pulled and a ConfigMap that does not exist (PodsHealthy says so once the operator's
grace period, shortened for these tests in conftest.py, has passed)."""

from __future__ import annotations

import pytest
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap

from localcluster import LocalCluster
from localcluster.images.catalog import LOCUST_IMAGE, TARGET_PORT
from localcluster.workloads import service_url, target_count_path
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
from tests.real_node import (
    get_json,
    master_log,
    on_real_node,
    summary_counts,
    terminated_exit_code,
)

pytestmark = pytest.mark.cluster

FAILING_LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Failing(HttpUser):
    wait_time = constant(0.2)

    @task
    def fail(self):
        self.client.get("/fail")  # the target answers 500 here
"""
# Pulled from a registry on the node's own loopback, where none listens: a real pull
# failure that sends nothing off the machine.
ABSENT_IMAGE = "localhost/absent-locust:v1"


async def test_failing_requests_make_the_master_exit_non_zero_and_the_test_fail(
    cluster: LocalCluster, kube: AsyncClient, real_namespace: str
) -> None:
    namespace, name = real_namespace, unique("failing")
    await kube.create(
        ConfigMap(
            metadata=ObjectMeta(name=f"{name}-scripts", namespace=namespace),
            data={"locustfile.py": FAILING_LOCUSTFILE},
        )
    )
    host = service_url(namespace, "target", TARGET_PORT)
    await create_test(
        kube,
        namespace,
        locusttest(
            name,
            image=LOCUST_IMAGE,
            master={
                "command": (
                    f"--locustfile /lotest/src/locustfile.py --host {host} "
                    "--users 2 --spawn-rate 2 --run-time 8s"
                ),
                "autoquit": {"enabled": True, "timeout": 1},
            },
            worker={"command": "--locustfile /lotest/src/locustfile.py", "replicas": 1},
            testFiles={"configMapRef": f"{name}-scripts"},
        ),
    )

    status = await wait_for_phase(kube, namespace, name, "Failed", within=180)

    assert condition(status, "TestCompleted")["reason"] == "TestFailed"
    (master,) = await pods_of(kube, namespace, name, "master")
    assert on_real_node([master])
    exit_code = terminated_exit_code(master, f"{name}-master")
    assert exit_code is not None and exit_code != 0
    log = master_log(cluster, namespace, name)
    requests, failures = summary_counts(log)
    assert requests > 0 and failures == requests, log
    # The failures are the target's answers, not a request that never left.
    assert get_json(cluster, target_count_path(namespace))["paths"]["/fail"] >= requests


async def test_an_image_that_cannot_be_pulled_is_diagnosed(
    kube: AsyncClient, real_namespace: str
) -> None:
    namespace, name = real_namespace, unique("absent-image")
    await create_scripts(kube, namespace, f"{name}-scripts")
    await create_test(
        kube,
        namespace,
        locusttest(
            name,
            image=ABSENT_IMAGE,
            imagePullPolicy="Always",
            testFiles={"configMapRef": f"{name}-scripts"},
        ),
    )

    health = await wait_for_condition(
        kube, namespace, name, "PodsHealthy", "False", "ImagePullError", within=120
    )

    assert ABSENT_IMAGE in health["message"] or "ImagePull" in health["message"], health
    pods = await pods_of(kube, namespace, name, "master")
    pods += await pods_of(kube, namespace, name, "worker")
    assert on_real_node(pods)
    # What the kubelet really reported for the Locust containers (the master's may still
    # wait behind its exporter sidecar: PodInitializing).
    waiting = {
        status.state.waiting.reason
        for pod in pods
        for status in (pod.status and pod.status.containerStatuses) or []
        if status.state and status.state.waiting
    }
    assert waiting & {"ErrImagePull", "ImagePullBackOff"}, waiting


async def test_a_missing_config_map_is_diagnosed_by_name(
    kube: AsyncClient, real_namespace: str
) -> None:
    namespace, name = real_namespace, unique("no-scripts")
    missing = f"{name}-never-created"
    await create_test(
        kube,
        namespace,
        locusttest(name, image=LOCUST_IMAGE, testFiles={"configMapRef": missing}),
    )

    health = await wait_for_condition(
        kube, namespace, name, "PodsHealthy", "False", "ConfigurationError", within=120
    )

    assert f'ConfigMap "{missing}"' in health["message"], health
    pods = await pods_of(kube, namespace, name, "master")
    assert on_real_node(pods)
    assert all(pod.status and pod.status.phase == "Pending" for pod in pods)
