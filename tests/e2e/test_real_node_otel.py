"""OpenTelemetry on (the FAQ's recommended path), on the real node: the master and the
workers run with `--otel` and the operator's OTEL_* variables, and their telemetry
arrives at an OTLP receiver running in the cluster, counted there per signal and per
service name."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap

from localcluster import LocalCluster
from localcluster.images.catalog import LOCUST_IMAGE, OTLP_GRPC_PORT, TARGET_PORT
from localcluster.workloads import otlp_count_path, otlp_receiver, service_url
from tests.e2e.conftest import create_test, locusttest, pods_of, unique, wait_for_phase
from tests.real_node import create_all, get_json, master_log, on_real_node, wait_available

pytestmark = pytest.mark.cluster

MASTER_SERVICE, WORKER_SERVICE = "locust-master", "locust-worker"
# Locust names every process's telemetry "locust" (OTEL_SERVICE_NAME); the test's own
# locustfile, imported before Locust sets OpenTelemetry up, names each role apart.
LOCUSTFILE = f"""\
import os
import sys

from locust import HttpUser, constant, task

os.environ["OTEL_SERVICE_NAME"] = (
    "{WORKER_SERVICE}" if "--worker" in sys.argv else "{MASTER_SERVICE}"
)


class Traced(HttpUser):
    wait_time = constant(0.2)

    @task
    def hit(self):
        self.client.get("/traced")
"""


async def test_master_and_worker_telemetry_arrives_at_the_otlp_receiver(
    cluster: LocalCluster, kube: AsyncClient, real_namespace: str
) -> None:
    namespace, name = real_namespace, unique("otel")
    await create_all(kube, namespace, otlp_receiver())
    await wait_available(kube, namespace, "otlp")
    await kube.create(
        ConfigMap(
            metadata=ObjectMeta(name=f"{name}-scripts", namespace=namespace),
            data={"locustfile.py": LOCUSTFILE},
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
                    "--users 2 --spawn-rate 2 --run-time 12s"
                ),
                "autoquit": {"enabled": True, "timeout": 2},
            },
            worker={"command": "--locustfile /lotest/src/locustfile.py", "replicas": 1},
            testFiles={"configMapRef": f"{name}-scripts"},
            observability={
                "openTelemetry": {
                    "enabled": True,
                    "endpoint": f"otlp.{namespace}.svc.cluster.local:{OTLP_GRPC_PORT}",
                    "protocol": "grpc",
                    "insecure": True,
                    # Export every second or two instead of every minute, within the run.
                    "extraEnvVars": {
                        "OTEL_METRIC_EXPORT_INTERVAL": "2000",
                        "OTEL_BSP_SCHEDULE_DELAY": "1000",
                    },
                }
            },
        ),
    )

    await wait_for_phase(kube, namespace, name, "Succeeded", within=180)

    pods = await pods_of(kube, namespace, name, "master")
    pods += await pods_of(kube, namespace, name, "worker")
    assert on_real_node(pods)
    log = master_log(cluster, namespace, name)
    assert "OpenTelemetry enabled" in log, log
    counts: dict[str, Any] = get_json(cluster, otlp_count_path(namespace))
    metrics = counts["metrics"]["services"]
    traces = counts["traces"]["services"]
    # The master reports the user count, the workers their requests' durations.
    assert metrics.get(MASTER_SERVICE, 0) > 0, counts
    assert metrics.get(WORKER_SERVICE, 0) > 0, counts
    # Only workers send requests, each one a span of the requests instrumentation.
    assert traces.get(WORKER_SERVICE, 0) > 0, counts
    assert set(metrics) | set(traces) <= {MASTER_SERVICE, WORKER_SERVICE}, counts
