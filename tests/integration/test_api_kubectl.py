"""What a kubectl user sees of the CRD: explain, short name and printer columns."""

from __future__ import annotations

import subprocess
import time

import pytest
from lightkube import AsyncClient
from lightkube.types import PatchType

from localcluster import LocalCluster
from tests.helpers import kubectl, new_namespace
from tests.locusttests import LocustTestV2, minimal_v2

pytestmark = pytest.mark.cluster


def explain(cluster: LocalCluster, field: str) -> str:
    # The apiserver publishes a new CRD's OpenAPI a little after it is Established.
    deadline = time.monotonic() + 60
    while True:
        try:
            return kubectl(cluster, "explain", field)
        except subprocess.CalledProcessError as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"kubectl explain {field} failed: {error.stderr}") from None
            time.sleep(0.5)


def test_explain_describes_the_worker_fields(cluster: LocalCluster, crd: str) -> None:
    text = explain(cluster, "locusttest.spec.worker")
    for field in ("command", "replicas", "resources", "labels", "annotations", "extraArgs"):
        assert f"  {field}\t" in text, text
    assert "required" in text
    # Descriptions are there, not just names.
    replicas = explain(cluster, "locusttest.spec.worker.replicas")
    assert "DESCRIPTION:" in replicas and len(replicas.split("DESCRIPTION:")[1].strip()) > 20


async def test_short_name_and_printer_columns(
    cluster: LocalCluster, crd: str, kube: AsyncClient
) -> None:
    async with new_namespace(kube, "kubectl") as namespace:
        await kube.create(LocustTestV2.from_dict(minimal_v2("columns")), namespace=namespace)
        wide = kubectl(cluster, "get", "lotest", "-n", namespace, "-o", "wide").splitlines()
        assert wide[0].split() == [
            "NAME",
            "PHASE",
            "WORKERS",
            "CONNECTED",
            "RPS",  # status.results: empty until the test runs
            "FAILURES",
            "IMAGE",
            "AGE",
        ]
        # No operator here: no status, so only the name, the image and the age.
        assert wide[1].split()[:2] == ["columns", "locustio/locust:2.43.1"]
        # WORKERS is the count the test runs with, from its status (since f2195a2).
        status = {"status": {"phase": "Running", "expectedWorkers": 2, "connectedWorkers": 1}}
        await kube.patch(
            LocustTestV2.Status, "columns", status, namespace=namespace, patch_type=PatchType.MERGE
        )
        wide = kubectl(cluster, "get", "lotest", "-n", namespace, "-o", "wide").splitlines()
        assert wide[1].split()[:5] == ["columns", "Running", "2", "1", "locustio/locust:2.43.1"]
        narrow = kubectl(cluster, "get", "locusttests", "-n", namespace).splitlines()
        assert "IMAGE" not in narrow[0]  # priority 1: only with -o wide
