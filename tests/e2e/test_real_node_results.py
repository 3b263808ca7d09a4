"""Results on the real node, the operator outside the cluster (it reaches the masters
through the API server's service proxy): live results in status while a test runs, final
results after that agree with what the target counted, thresholds that pass and that
fail, abortOnFail stopping a run early, the report ConfigMap with Locust's real HTML
report and CSV (deleted with the test), and a master whose web UI the operator cannot
reach degrading to ResultsAvailable=False while the test still succeeds.

The four tests run two at a time (module fixture) and each test function checks one of them."""

from __future__ import annotations

import asyncio
import base64
import gzip
from dataclasses import dataclass, field
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap

from localcluster import LocalCluster
from localcluster.images.catalog import LOCUST_IMAGE, TARGET_PORT
from localcluster.workloads import service_url, target_count_path
from tests.e2e.conftest import (
    LocustTestV2,
    condition,
    create_test,
    get_status,
    locusttest,
)
from tests.helpers import eventually
from tests.real_node import get_json

pytestmark = pytest.mark.cluster

USERS = 2
LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.2)

    @task
    def hit(self):
        self.client.get("/{name}")
"""


@dataclass
class Seen:
    live: list[dict[str, Any]] = field(default_factory=list)  # results while Running
    final: dict[str, Any] = field(default_factory=dict)  # the status once finished


@dataclass
class Runs:
    namespace: str
    seen: dict[str, Seen]
    target: dict[str, int]


def spec(name: str, run_time: int, **master: Any) -> dict[str, Any]:
    host = service_url("NAMESPACE", "target", TARGET_PORT)
    return {
        "master": {
            "command": (
                f"--locustfile /lotest/src/locustfile.py --host {host} --users {USERS} "
                f"--spawn-rate {USERS} --run-time {run_time}s"
            ),
            "autoquit": {"enabled": True, "timeout": 30},
            **master,
        },
        "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 1},
        "testFiles": {"configMapRef": f"{name}-scripts"},
    }


TESTS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "pass": (
        spec("pass", 25),
        [
            {"metric": "failRatio", "max": 0.01},
            {"metric": "requests", "min": 10},
            {"metric": "p95ResponseTime", "max": 5000, "endpoint": "/pass"},
        ],
    ),
    "breach": (spec("breach", 15), [{"metric": "requests", "max": 3}]),
    "abort": (spec("abort", 600), [{"metric": "requests", "max": 30, "abortOnFail": True}]),
    # The web UI on the pod's loopback only: the exporter sidecar (same pod) reads it, the
    # operator cannot reach it, as behind a NetworkPolicy. (--headless turns the web UI off
    # altogether, and then the exporter sidecar fails the test, results or not.)
    "unreachable": (spec("unreachable", 70, extraArgs=["--web-host=127.0.0.1"]), []),
}


async def watch(kube: AsyncClient, namespace: str, name: str, seen: Seen) -> None:
    while True:
        status = await get_status(kube, namespace, name)
        if status.get("phase") in ("Succeeded", "Failed"):
            seen.final = status
            return
        if status.get("phase") == "Running" and status.get("results"):
            seen.live.append(dict(status["results"]))
        await asyncio.sleep(1)


@pytest.fixture(scope="module")
async def runs(cluster: LocalCluster, kube: AsyncClient, real_namespace: str) -> Runs:
    namespace = real_namespace
    seen = {name: Seen() for name in TESTS}
    # Two at a time: the real node has room for the pods of two tests (and others' tests).
    names = list(TESTS)
    for wave in (names[:2], names[2:]):
        for name in wave:
            body, thresholds = TESTS[name]
            await kube.create(
                ConfigMap(
                    metadata=ObjectMeta(name=f"{name}-scripts", namespace=namespace),
                    data={"locustfile.py": LOCUSTFILE.format(name=name)},
                )
            )
            body = {**body, "master": dict(body["master"])}
            body["master"]["command"] = body["master"]["command"].replace("NAMESPACE", namespace)
            if thresholds:
                body["thresholds"] = thresholds
            await create_test(kube, namespace, locusttest(name, image=LOCUST_IMAGE, **body))
        await asyncio.wait_for(
            asyncio.gather(*(watch(kube, namespace, name, seen[name]) for name in wave)), 300
        )
    target = get_json(cluster, target_count_path(namespace))["paths"]
    return Runs(namespace, seen, target)


async def test_live_results_while_running_then_final_results(runs: Runs) -> None:
    seen = runs.seen["pass"]
    running = [r for r in seen.live if r.get("state") == "running" and r.get("requests")]
    assert running, seen.live
    live = running[-1]
    assert live["users"] == USERS and live["workers"] == 1
    assert {"currentRps", "totalRps", "p95ResponseTime", "lastUpdateTime"} <= set(live)
    final = seen.final["results"]
    assert final["final"] is True and final["state"] == "stopped"
    assert final["requests"] >= live["requests"]
    assert [e["name"] for e in final["endpoints"]] == ["/pass"]


async def test_final_results_agree_with_what_the_target_counted(runs: Runs) -> None:
    final = runs.seen["pass"].final["results"]
    reached = runs.target["/pass"]
    # A request in flight when the users stop reaches the target but not Locust's stats.
    assert final["requests"] <= reached <= final["requests"] + USERS, (final, reached)
    assert final["failures"] == 0


async def test_thresholds_met_succeed(runs: Runs) -> None:
    status = runs.seen["pass"].final
    assert status["phase"] == "Succeeded"
    met = condition(status, "ThresholdsMet")
    assert (met["status"], met["reason"]) == ("True", "ThresholdsPassed"), met
    assert [t["met"] for t in status["thresholds"]] == [True, True, True]
    assert condition(status, "ResultsAvailable")["status"] == "True"


async def test_a_breached_threshold_fails_naming_metric_limit_and_value(runs: Runs) -> None:
    status = runs.seen["breach"].final
    assert status["phase"] == "Failed"
    met = condition(status, "ThresholdsMet")
    requests = status["results"]["requests"]
    assert (met["status"], met["reason"]) == ("False", "ThresholdsFailed")
    assert met["message"] == f"requests was {requests}, above the max of 3"
    assert "thresholds not met" in condition(status, "TestCompleted")["message"]


async def test_abort_on_fail_stops_the_run_early(kube: AsyncClient, runs: Runs) -> None:
    status = runs.seen["abort"].final
    assert status["phase"] == "Failed"
    results = status["results"]
    assert results["endedBy"] == "AbortOnFail"
    assert "requests was" in results["aborted"] and "above the max of 30" in results["aborted"]
    # The run was to last 600 s; it is over, and its Jobs (whose master would not quit)
    # go away.
    assert condition(status, "ThresholdsMet")["status"] == "False"

    async def jobs_gone() -> bool:
        for job in ("abort-master", "abort-worker"):
            try:
                await kube.get(Job, job, namespace=runs.namespace)
            except ApiError as error:
                if error.status.code == 404:
                    continue
                raise
            return False
        return True

    await eventually(jobs_gone, within=60, what="the aborted run's Jobs are deleted")


async def test_the_report_config_map_holds_the_html_report_and_csv(
    kube: AsyncClient, runs: Runs
) -> None:
    report = runs.seen["pass"].final["report"]
    assert report["configMap"] == "pass-report"
    assert sorted(report["keys"]) == ["report.html.gz", "requests.csv.gz"]
    config_map = await kube.get(ConfigMap, "pass-report", namespace=runs.namespace)
    data = {k: gzip.decompress(base64.b64decode(v)) for k, v in config_map.binaryData.items()}
    html = data["report.html.gz"].decode()
    assert html.startswith("<!DOCTYPE html>") and "<title>Locust</title>" in html
    assert '<div id="root">' in html and "window.templateArgs" in html
    csv = data["requests.csv.gz"].decode().splitlines()
    assert csv[0].startswith("Type,Name,Request Count,Failure Count")
    assert any(line.startswith("GET,/pass,") for line in csv)
    owner = (config_map.metadata.ownerReferences or [])[0]
    assert (owner.kind, owner.name, owner.controller) == ("LocustTest", "pass", True)

    await kube.delete(LocustTestV2, "pass", namespace=runs.namespace)

    async def gone() -> bool:
        try:
            await kube.get(ConfigMap, "pass-report", namespace=runs.namespace)
        except ApiError as error:
            return error.status.code == 404
        return False

    await eventually(gone, within=60, what="the report goes with its test")


async def test_a_master_the_operator_cannot_reach_degrades_to_a_condition(runs: Runs) -> None:
    status = runs.seen["unreachable"].final
    assert status["phase"] == "Succeeded", status  # the master Job's verdict, as without results
    available = condition(status, "ResultsAvailable")
    assert (available["status"], available["reason"]) == ("False", "MasterUnreachable")
    assert "did not answer" in available["message"] and "NetworkPolicy" in available["message"]
    assert "results" not in status or not status["results"].get("final")
