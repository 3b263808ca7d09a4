"""The results poller against real Locust (local processes on loopback, no cluster): live
results while a run goes on, agreeing with what the target counted; abortOnFail stopping
a run through the master's /stop; a run stopped in the web UI ended by the operator
after the stopped timeout with Locust's verdict (issue 13 item 3); the kept report holds
Locust's real HTML report and CSV; a master without a web UI (--headless) degrades to a
condition. The API server is an in-memory stand-in recording the poller's writes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localcluster.cluster import free_port
from locust_operator.config import OperatorConfig
from locust_operator.controller.results import ENDED_BY_ABORT, ENDED_BY_OPERATOR, apply_results
from locust_operator.controller.results_poller import ResultsPoller
from locust_operator.kube.master_client import DirectMasterClient
from tests.real_locust import LOOPBACK, inherited_env

LOCUST = str(Path(sys.executable).parent / "locust")
DEADLINE_SECONDS = 90
LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def home(self):
        self.client.get("/")

    @task(1)
    def fail(self):
        self.client.get("/fail")
"""


class Target:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        lock = threading.Lock()
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    hits[self.path] += 1
                self.send_response(500 if self.path == "/fail" else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@contextlib.contextmanager
def locust_master(tmp_path: Path, host: str, *extra: str) -> Iterator[str]:
    """A master (web UI, autostart off) and one worker; yields the web UI's base URL."""
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    web, bind = free_port(), free_port()
    common = ["--locustfile", str(locustfile)]
    logs = [(tmp_path / f"{role}.log").open("wb") for role in ("master", "worker")]
    master_args = [
        *common,
        "--master",
        f"--master-bind-port={bind}",
        f"--master-bind-host={LOOPBACK}",
        f"--web-host={LOOPBACK}",
        f"--web-port={web}",
        "--expect-workers=1",
        "--host",
        host,
        "--only-summary",
        *extra,
    ]
    master = subprocess.Popen(
        [LOCUST, *master_args], stdout=logs[0], stderr=logs[0], env=inherited_env()
    )
    worker = subprocess.Popen(
        [LOCUST, *common, "--worker", f"--master-host={LOOPBACK}", f"--master-port={bind}"],
        stdout=logs[1], stderr=logs[1], env=inherited_env(),
    )  # fmt: skip
    try:
        yield f"http://{LOOPBACK}:{web}"
    finally:
        for process in (worker, master):
            process.kill()
            process.wait()
        for log in logs:
            log.close()


def post(url: str, data: bytes | None = None) -> None:
    request = urllib.request.Request(url, data=data or b"", method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    urllib.request.urlopen(request, timeout=10).read()


class FakeApi:
    """Applies the poller's merge patches to one test; records created objects."""

    def __init__(self, test: dict[str, Any]) -> None:
        self.test = test
        self.created: list[Any] = []

    async def patch(self, res: Any, name: str, body: Any, **kwargs: Any) -> None:
        if "status" in body:
            status = self.test.setdefault("status", {})
            for key, value in body["status"].items():
                if isinstance(value, dict) and isinstance(status.get(key), dict):
                    merged = {**status[key], **value}
                    status[key] = {k: v for k, v in merged.items() if v is not None}
                else:
                    status[key] = value
        else:
            self.created.append(body)

    async def create(self, obj: Any) -> Any:
        self.created.append(obj)
        return obj

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        return None


class Cache:
    def __init__(self, *objects: Any) -> None:
        self._objects = list(objects)

    def objects(self) -> list[Any]:
        return self._objects

    def get(self, namespace: str, name: str) -> Any:
        return None


def locust_test(thresholds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"master": {"autostart": False}}
    if thresholds:
        spec["thresholds"] = thresholds
    return {
        "metadata": {"name": "real", "namespace": "default", "uid": "uid-1"},
        "spec": spec,
        "status": {"phase": "Running"},
    }


def poller(test: dict[str, Any], web: str, api: FakeApi, **config: Any) -> ResultsPoller:
    settings = {"results_interval_seconds": 1, "results_stopped_timeout_seconds": 2, **config}
    return ResultsPoller(
        api,  # type: ignore[arg-type]
        OperatorConfig(**settings),
        DirectMasterClient(url=lambda namespace, service, path: f"{web}/{path}"),
        tests=Cache(test),
        jobs=Cache(),
        enqueue=lambda key: None,
    )


async def until(condition: Any, step: Any) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await step()
        await asyncio.sleep(0.5)


def report_files(api: FakeApi) -> dict[str, bytes]:
    # Created when the run stopped, then again (a conflict, patched) when it was ended.
    config_map = [o for o in api.created if getattr(o, "kind", None) == "ConfigMap"][-1]
    return {k: gzip.decompress(base64.b64decode(v)) for k, v in config_map.binaryData.items()}


async def test_live_results_then_a_web_ui_stop_ends_the_test(tmp_path: Path) -> None:
    target = Target()
    test = locust_test([{"metric": "failRatio", "max": 0.5}])
    with locust_master(tmp_path, target.url) as web:
        api = FakeApi(test)
        results_poller = poller(test, web, api)
        results = lambda: test["status"].get("results") or {}  # noqa: E731
        await until(lambda: results().get("workers") == 1, results_poller.tick)
        assert results()["state"] == "ready"
        post(f"{web}/swarm", f"user_count=2&spawn_rate=2&host={target.url}".encode())
        await until(lambda: (results().get("requests") or 0) >= 50, results_poller.tick)
        live = results()
        assert live["state"] == "running" and live["users"] == 2 and "final" not in live
        assert 0 < live["failures"] < live["requests"]
        post(f"{web}/stop")  # as the web UI's Stop button
        await until(lambda: results().get("final") is True, results_poller.tick)
        assert "endedBy" not in results()  # not yet: the user may start it again
        await until(lambda: results().get("endedBy") == ENDED_BY_OPERATOR, results_poller.tick)
        final = results()
        # Locust counted what the target served (all requests finished: the run stopped).
        assert final["requests"] == sum(target.hits.values())
        assert final["failures"] == target.hits["/fail"]
        by_name = {e["name"]: e for e in final["endpoints"]}
        assert by_name["/fail"]["requests"] == target.hits["/fail"]
        assert by_name["/"]["requests"] == target.hits["/"]
        files = report_files(api)
        html = files["report.html.gz"].decode()
        assert html.startswith("<!DOCTYPE html>") and "<title>Locust</title>" in html
        assert '<div id="root">' in html and "window.templateArgs" in html
        csv_lines = files["requests.csv.gz"].decode().splitlines()
        assert csv_lines[0].startswith("Type,Name,Request Count,Failure Count")
        assert f",Aggregated,{final['requests']},{final['failures']}," in "\n".join(csv_lines)
        assert test["status"]["report"]["configMap"] == "real-report"
    # The reconciler's view: the run ended by the operator fails (requests failed, as
    # Locust's exit code would), the failRatio threshold is met.
    await results_poller.close()
    status = apply_results(test["status"], {"phase": "Running"}, test["spec"]["thresholds"], 1, "t")
    assert status["phase"] == "Failed"
    assert status["thresholds"][0]["met"] is True


async def test_abort_on_fail_stops_the_run(tmp_path: Path) -> None:
    target = Target()
    threshold = {"metric": "failures", "max": 10, "abortOnFail": True}
    test = locust_test([threshold])
    with locust_master(tmp_path, target.url) as web:
        api = FakeApi(test)
        results_poller = poller(test, web, api, results_stopped_timeout_seconds=3600)
        results = lambda: test["status"].get("results") or {}  # noqa: E731
        await until(lambda: results().get("workers") == 1, results_poller.tick)
        post(f"{web}/swarm", f"user_count=2&spawn_rate=2&host={target.url}".encode())
        await until(lambda: results().get("endedBy") == ENDED_BY_ABORT, results_poller.tick)
        final = results()
        assert final["state"] == "stopped" and final["failures"] > 10
        assert "failures was" in final["aborted"] and "above the max of 10" in final["aborted"]
        served = sum(target.hits.values())
        await asyncio.sleep(2)
        assert sum(target.hits.values()) == served  # stopped: no more requests
    await results_poller.close()
    status = apply_results(test["status"], {"phase": "Running"}, [threshold], 1, "t")
    assert status["phase"] == "Failed"
    met = next(c for c in status["conditions"] if c["type"] == "ThresholdsMet")
    assert met["status"] == "False" and "failures was" in met["message"]


async def test_a_master_without_web_ui_degrades_to_a_condition(tmp_path: Path) -> None:
    target = Target()
    test = locust_test()
    with locust_master(
        tmp_path, target.url, "--headless", "--users", "1", "--run-time", "60s"
    ) as web:
        api = FakeApi(test)
        results_poller = poller(test, web, api)
        results_poller._unreachable_grace = 2.0  # the default is 30 s
        results = lambda: test["status"].get("results") or {}  # noqa: E731

        async def tick_soon() -> None:
            for tracked in results_poller._tracked.values():
                tracked.next_try = 0.0  # skip the backoff
            await results_poller.tick()

        await until(lambda: "error" in results(), tick_soon)
        assert "did not answer" in results()["error"] and "--headless" in results()["error"]
    await results_poller.close()
    status = apply_results(test["status"], {"phase": "Running"}, [], 1, "t")
    assert status["phase"] == "Running"
    available = next(c for c in status["conditions"] if c["type"] == "ResultsAvailable")
    assert (available["status"], available["reason"]) == ("False", "MasterUnreachable")


def test_payloads_are_json(tmp_path: Path) -> None:
    """The fixtures the unit tests parse are what this Locust answers (same keys)."""
    fixture = json.loads(
        (Path(__file__).parents[1] / "fixtures/locust/stats-stopped.json").read_text()
    )
    assert {"state", "stats", "user_count", "worker_count", "fail_ratio"} <= set(fixture)
