"""The results poller's final figures include the workers' last reports: Locust workers
report every 3 s, not when told to stop, so the first 'stopped' reading can be short."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from locust_operator.config import OperatorConfig
from locust_operator.controller.results_poller import (
    WORKER_REPORT_SETTLE_SECONDS,
    ResultsPoller,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "locust"
RUNNING = json.loads((FIXTURES / "stats-running.json").read_text())
STOPPED = json.loads((FIXTURES / "stats-stopped.json").read_text())
TEST = {
    "metadata": {"name": "shop", "namespace": "team-a", "uid": "u-1"},
    "spec": {"master": {"autostart": True, "autoquit": {"enabled": True, "timeout": 60}}},
    "status": {"phase": "Running"},
}


def stopped_with_extra(requests: int) -> dict[str, Any]:
    """The recorded stopped payload with ``requests`` more on the Aggregated row."""
    payload = copy.deepcopy(STOPPED)
    for row in payload["stats"]:
        if row["name"] == "Aggregated":
            row["num_requests"] += requests
    return payload


class FakeMaster:
    access = "proxy"

    def __init__(self) -> None:
        self.payload: dict[str, Any] = RUNNING
        self.reports = 0

    async def get(self, namespace: str, service: str, path: str, limit: int) -> bytes:
        if path == "stats/requests":
            return json.dumps(self.payload).encode()
        self.reports += 1
        return b"<html>report</html>" if path == "stats/report" else b"Type,Name\n"

    async def post(self, namespace: str, service: str, path: str) -> None:
        raise AssertionError("nothing is stopped here")

    async def close(self) -> None:
        pass


class FakeClient:
    def __init__(self) -> None:
        self.status_patches: list[dict[str, Any]] = []

    async def patch(self, resource: Any, name: str, body: Any, **_: Any) -> None:
        if "status" in body:
            self.status_patches.append(body["status"])

    async def create(self, obj: Any) -> None:
        pass


class CachedTests:
    def __init__(self, test: dict[str, Any]) -> None:
        self.test = test

    def objects(self) -> list[dict[str, Any]]:
        return [self.test]


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def poller(client: FakeClient, master: FakeMaster, clock: Clock) -> ResultsPoller:
    return ResultsPoller(
        client,  # type: ignore[arg-type]
        OperatorConfig(),
        master,
        tests=CachedTests(TEST),
        jobs=None,
        enqueue=lambda key: None,
        clock=clock,
    )


def aggregated_requests(patch: dict[str, Any]) -> int:
    return int(patch["results"]["requests"])


async def test_final_results_are_read_again_after_the_workers_last_reports() -> None:
    client, master, clock = FakeClient(), FakeMaster(), Clock()
    results = poller(client, master, clock)
    await results.tick()  # the run is seen running
    assert client.status_patches[-1]["results"]["state"] == "running"

    master.payload = STOPPED
    clock.now += 10.0
    await results.tick()  # the stop is first seen: final results kept at once
    assert aggregated_requests(client.status_patches[-1]) == 502
    assert client.status_patches[-1]["results"]["final"] is True
    assert master.reports == 2  # HTML and CSV

    master.payload = stopped_with_extra(8)  # a worker's last report arrives
    clock.now += 1.0
    await results.tick()  # too soon after the stop: nothing new read into status
    assert aggregated_requests(client.status_patches[-1]) == 502

    clock.now += WORKER_REPORT_SETTLE_SECONDS
    await results.tick()
    assert aggregated_requests(client.status_patches[-1]) == 510
    assert master.reports == 4  # the report is kept again, agreeing with the figures

    writes = len(client.status_patches)
    clock.now += 10.0
    await results.tick()  # settled: no further reads or writes until the run ends
    assert len(client.status_patches) == writes
    assert master.reports == 4
