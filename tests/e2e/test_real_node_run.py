"""One real distributed Locust test on the real node, from creation to Succeeded, and what
Locust and Kubernetes did along the way: the workers joined the master through its Service
name, the locustfile imported its helper from the lib ConfigMap, the requests Locust
counted reached the in-cluster target, the exporter sidecar served Locust's metrics and
`kubectl port-forward svc/<name>-master 8089:8089` opened the web UI while it ran, and the
master quit by itself (autoquit) with exit code 0.

The test runs once (module fixture); each test function checks one of those facts."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Pod

from localcluster import LocalCluster
from localcluster.images.catalog import LOCUST_IMAGE, TARGET_PORT
from localcluster.workloads import proxy_path, service_url, target_count_path
from tests.e2e.conftest import (
    condition,
    create_test,
    get_status,
    locusttest,
    pods_of,
    wait_for_phase,
)
from tests.helpers import eventually, http_get
from tests.real_node import (
    get_json,
    get_raw,
    master_log,
    on_real_node,
    port_forward,
    summary_counts,
    terminated_exit_code,
)

pytestmark = pytest.mark.cluster

NAME = "run"
WORKERS = 2
USERS = 4
RUN_TIME_SECONDS = 20
WEB_UI_PORT = 8089

LOCUSTFILE = """\
from locust import HttpUser, constant, task

import mylib  # from the lib ConfigMap


class LibUser(HttpUser):
    wait_time = constant(0.2)

    @task
    def hit(self):
        self.client.get(mylib.path())
"""


@dataclass
class Run:
    """What the fixture saw of the one run; the tests judge it."""

    namespace: str
    lib_path: str
    status: dict[str, Any] = field(default_factory=dict)
    max_connected_workers: int = 0
    metrics_while_running: str = ""
    web_ui: tuple[int, str] = (0, "")
    master_log: str = ""
    master_pods: list[Pod] = field(default_factory=list)
    worker_pods: list[Pod] = field(default_factory=list)
    target_paths: dict[str, int] = field(default_factory=dict)


def metric_value(metrics: str, name: str, labels: str = "") -> float | None:
    """The sample of ``name`` (with exactly ``labels``, e.g. 'method="GET"', if given)."""
    label_part = re.escape(f"{{{labels}}}") if labels else r"(?:\{[^}]*\})?"
    found = re.search(rf"^{name}{label_part} (\S+)$", metrics, re.M)
    return float(found.group(1)) if found else None


def requests_served(metrics: str, path: str) -> float | None:
    return metric_value(metrics, "locust_requests_num_requests", f'method="GET",name="{path}"')


@pytest.fixture(scope="module")
async def run(cluster: LocalCluster, kube: AsyncClient, real_namespace: str) -> Run:
    namespace = real_namespace
    # A path only mylib knows: requests to it prove `import mylib` worked where users run.
    record = Run(namespace=namespace, lib_path=f"/known-only-to-mylib/{uuid.uuid4().hex[:8]}")
    for name, data in (
        ("scripts", {"locustfile.py": LOCUSTFILE}),
        ("lib", {"mylib.py": f"def path():\n    return {record.lib_path!r}\n"}),
    ):
        await kube.create(ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace), data=data))
    host = service_url(namespace, "target", TARGET_PORT)
    await create_test(
        kube,
        namespace,
        locusttest(
            NAME,
            image=LOCUST_IMAGE,
            master={
                "command": (
                    f"--locustfile /lotest/src/locustfile.py --host {host} --users {USERS} "
                    f"--spawn-rate {USERS} --run-time {RUN_TIME_SECONDS}s"
                ),
                "autoquit": {"enabled": True, "timeout": 2},
            },
            worker={"command": "--locustfile /lotest/src/locustfile.py", "replicas": WORKERS},
            testFiles={"configMapRef": "scripts", "libConfigMapRef": "lib"},
        ),
    )

    async def all_users_run() -> bool:
        status = await get_status(kube, namespace, NAME)
        record.max_connected_workers = max(
            record.max_connected_workers, int(status.get("connectedWorkers") or 0)
        )
        if status.get("phase") != "Running":
            return False
        metrics = get_raw(
            cluster, proxy_path(namespace, f"{NAME}-master", "prometheus-metrics", "/metrics")
        )
        record.metrics_while_running = metrics
        # Workers report their requests to the master every few seconds.
        served = requests_served(metrics, record.lib_path)
        return metric_value(metrics, "locust_users") == USERS and bool(served)

    await eventually(
        all_users_run, within=180, what=f"the exporter reports {USERS} users and their requests"
    )
    # The FAQ's command, on a free local port (8089 may be in use on this machine).
    with port_forward(cluster, namespace, f"svc/{NAME}-master", WEB_UI_PORT) as local_port:
        record.web_ui = http_get(local_port, "/")

    record.status = await wait_for_phase(kube, namespace, NAME, "Succeeded", within=180)
    record.master_log = master_log(cluster, namespace, NAME)
    record.master_pods = await pods_of(kube, namespace, NAME, "master")
    record.worker_pods = await pods_of(kube, namespace, NAME, "worker")
    record.target_paths = get_json(cluster, target_count_path(namespace))["paths"]
    return record


async def test_the_pods_ran_on_the_real_node(run: Run) -> None:
    assert len(run.master_pods) == 1
    assert len(run.worker_pods) == WORKERS
    assert on_real_node(run.master_pods + run.worker_pods)


async def test_workers_connect_through_the_master_service_name(run: Run) -> None:
    # The workers are told the Service's name, nothing else: DNS resolved it in the pod.
    for pod in run.worker_pods:
        assert pod.spec is not None
        assert f"--master-host={NAME}-master" in (pod.spec.containers[0].args or [])
    ready = set(re.findall(r"(\S+) \(index \d+\) reported as ready\.", run.master_log))
    assert len(ready) == WORKERS, run.master_log
    assert f"{WORKERS} workers connected." in run.master_log
    assert f"Sending spawn jobs of {USERS} users" in run.master_log
    assert run.max_connected_workers == WORKERS


async def test_the_locustfile_imports_its_helper_from_the_lib_config_map(run: Run) -> None:
    assert set(run.target_paths) == {run.lib_path}, run.target_paths


async def test_the_requests_locust_counted_reached_the_target(run: Run) -> None:
    requests, failures = summary_counts(run.master_log)
    assert requests > 0
    assert failures == 0
    reached = run.target_paths[run.lib_path]
    # A request in flight when the users stop reaches the target but not Locust's stats:
    # at most one per user.
    assert requests <= reached <= requests + USERS, (requests, reached)


async def test_the_exporter_sidecar_serves_locust_metrics_while_the_test_runs(run: Run) -> None:
    metrics = run.metrics_while_running
    assert metric_value(metrics, "locust_up") == 1
    assert metric_value(metrics, "locust_users") == USERS
    assert metric_value(metrics, "locust_workers_count") == WORKERS
    served = requests_served(metrics, run.lib_path)
    assert served is not None and served > 0, metrics


async def test_port_forward_to_the_master_service_opens_the_web_ui(run: Run) -> None:
    status, body = run.web_ui
    assert status == 200
    assert "<title>Locust</title>" in body


async def test_the_master_quits_by_autoquit_with_exit_code_0_and_the_test_succeeds(
    kube: AsyncClient, run: Run
) -> None:
    (master,) = run.master_pods
    assert terminated_exit_code(master, f"{NAME}-master") == 0
    assert "--autoquit time reached" in run.master_log
    status = await get_status(kube, run.namespace, NAME)
    assert status["phase"] == "Succeeded"
    assert condition(status, "TestCompleted")["reason"] == "TestSucceeded"
