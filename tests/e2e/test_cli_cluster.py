"""`locust-operator test` on the local cluster's real node, the operator running as a local
process: `run` of a locustfile and its lib directory to a passing verdict and to a broken
threshold (the CI output as text, the report and the JUnit file, the target's count), the
live display under a pseudo-terminal, `status`, `list`, `logs`, `report`, `delete`,
`--detach`, Ctrl-C with and without `--keep`, and the operator not running.

The three followed runs start at once (module fixture); each test checks one thing."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pexpect
import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import ConfigMap

from localcluster import LocalCluster
from localcluster.images.catalog import LOCUST_IMAGE, TARGET_PORT
from localcluster.workloads import service_url, target_count_path
from tests.e2e.conftest import LocustTestV2, RestartableOperator, get_status
from tests.helpers import eventually
from tests.real_node import get_json
from tests.unit.cli_test.helpers import assert_valid_junit

pytestmark = pytest.mark.cluster

LOCUSTFILE = """\
from locust import HttpUser, constant, task

from shoplib import PATH


class Shopper(HttpUser):
    wait_time = constant(0.2)

    @task
    def home(self):
        self.client.get(PATH)
"""
USERS = 2
GAP = r"(?:\x1b\[[0-9;?]*[a-zA-Z]|[ │┃|])+"  # spaces, box lines and style codes


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust_operator.cli", "test", *args]


def write_sources(folder: Path, path: str) -> tuple[Path, Path]:
    """A locustfile that imports its path from a helper module in a lib directory."""
    folder.mkdir(parents=True, exist_ok=True)
    lib = folder / "lib"
    lib.mkdir(exist_ok=True)
    (lib / "shoplib.py").write_text(f"PATH = {path!r}\n")
    locustfile = folder / "shop.py"
    locustfile.write_text(LOCUSTFILE)
    return locustfile, lib


@dataclass
class Env:
    kubeconfig: Path
    namespace: str
    host: str
    tmp: Path

    def flags(self) -> list[str]:
        return ["--kubeconfig", str(self.kubeconfig), "-n", self.namespace]

    def run_args(self, name: str, run_time: str, *extra: str) -> list[str]:
        locustfile, lib = write_sources(self.tmp / name, f"/{name}")
        return cli(
            "run",
            str(locustfile),
            "--lib",
            str(lib),
            "--name",
            name,
            "-H",
            self.host,
            "-u",
            str(USERS),
            "-r",
            str(USERS),
            "-t",
            run_time,
            "-w",
            "1",
            "--image",
            LOCUST_IMAGE,
            "--interval",
            "3",
            *self.flags(),
            *extra,
        )

    def test(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli(*args, *self.flags()), capture_output=True, text=True, timeout=timeout
        )


@dataclass
class Done:
    code: int
    out: str
    err: str


@dataclass
class Runs:
    env: Env
    passed: Done
    breached: Done
    terminal: Done
    target: dict[str, int]
    report: Path
    junit: Path


def spawn(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def pty_run(argv: list[str], timeout: float) -> Done:
    """The command under a pseudo-terminal (100x30), its whole screen output."""
    child = pexpect.spawn(
        argv[0],
        argv[1:],
        encoding="utf-8",
        codec_errors="replace",
        dimensions=(30, 100),
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"},
        timeout=timeout,
    )
    child.expect(pexpect.EOF)
    child.close()
    return Done(child.exitstatus if child.exitstatus is not None else -1, child.before or "", "")


@pytest.fixture(scope="module")
def env(kubeconfig: Path, real_namespace: str, tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env(
        kubeconfig,
        real_namespace,
        service_url(real_namespace, "target", TARGET_PORT),
        tmp_path_factory.mktemp("cli"),
    )


@pytest.fixture(scope="module")
async def runs(cluster: LocalCluster, env: Env) -> Runs:
    report, junit = env.tmp / "report.html", env.tmp / "junit.xml"
    passing = spawn(
        env.run_args(
            "cli-pass",
            "30s",
            "--threshold",
            "fail_ratio<=1%",
            "--threshold",
            "requests>=5",
            "--threshold",
            "/cli-pass:p95<=5s",
            "--report",
            str(report),
            "--junit",
            str(junit),
        )
    )
    breaching = spawn(env.run_args("cli-breach", "10s", "--threshold", "requests<=3"))
    terminal = await asyncio.to_thread(
        pty_run, env.run_args("cli-tty", "20s", "--threshold", "fail_ratio<=1%"), 400
    )
    outputs = {}
    for name, process in (("pass", passing), ("breach", breaching)):
        out, err = await asyncio.to_thread(process.communicate, timeout=400)
        outputs[name] = Done(process.returncode, out, err)
    target = get_json(cluster, target_count_path(env.namespace))["paths"]
    return Runs(env, outputs["pass"], outputs["breach"], terminal, target, report, junit)


# --- run: a passing verdict ---------------------------------------------------------------


def test_a_passing_run_exits_0_with_progress_lines_the_table_and_the_verdict(runs: Runs) -> None:
    done = runs.passed
    assert done.code == 0, done.out + done.err
    lines = done.out.splitlines()
    assert lines[0] == f"LocustTest {runs.env.namespace}/cli-pass created", done.out
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
    progress = [line for line in lines if re.match(stamp + "phase=", line)]
    assert any(
        re.match(stamp + rf"phase=Running workers=1/1 users={USERS} rps=\d", line)
        for line in progress
    ), done.out
    assert progress[-1].split(" ", 1)[1].startswith("phase=Succeeded"), done.out
    # The per-endpoint table, then the thresholds the operator judged, then the verdict.
    assert any(line.startswith("| GET") and "/cli-pass" in line for line in lines), done.out
    assert sum(line.startswith("  [PASS] ") for line in lines) == 3, done.out
    assert f"Report saved to {runs.report}" in done.out
    assert f"JUnit written to {runs.junit}" in done.out
    assert lines[-1] == "PASSED: the test succeeded, 3 thresholds met", done.out
    assert "Traceback" not in done.err, done.err


def test_the_thresholds_went_into_the_spec_and_the_cli_reports_the_operators_verdict(
    runs: Runs,
) -> None:
    shown = runs.env.test("status", "cli-pass", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    test = json.loads(shown.stdout)
    given = [
        {"metric": "failRatio", "max": 0.01},
        {"metric": "requests", "min": 5},
        {"metric": "p95ResponseTime", "max": 5000, "endpoint": "/cli-pass"},
    ]
    spec = test["spec"]["thresholds"]  # with the apiserver's defaults (abortOnFail, ...)
    assert len(spec) == len(given), spec
    assert [{key: entry[key] for key in want} for entry, want in zip(spec, given, strict=True)] == (
        given
    )
    status = test["status"]
    assert status["phase"] == "Succeeded"
    assert [t["met"] for t in status["thresholds"]] == [True, True, True]
    requests = status["results"]["requests"]
    # The lines are the operator's judgement (status.thresholds), word for word.
    assert f"  [PASS] requests was {requests}, at least 5" in runs.passed.out.splitlines()
    assert status["thresholds"][1]["message"] == f"requests was {requests}, at least 5"


def test_the_requests_counted_at_the_target_match_the_table(runs: Runs) -> None:
    table = next(
        line for line in runs.passed.out.splitlines() if line.startswith("| GET") and "/cli-pass"
    )
    requests = int(table.split("|")[3].strip())
    shown = runs.env.test("status", "cli-pass", "-o", "json")
    assert requests == json.loads(shown.stdout)["status"]["results"]["requests"]
    reached = runs.target["/cli-pass"]
    # A request in flight when the users stop reaches the target but not Locust's stats.
    # More than that missing: the final results were read before the worker's last stats
    # report (Locust's workers report every 3 s, and not at once on "stop").
    assert requests <= reached <= requests + USERS, (requests, reached)
    assert requests >= 5


class _Outline(HTMLParser):
    """What Locust's HTML report is made of: its title, its tables' headers, scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.title = ""
        self._in_title = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.text.append(data)


def test_the_report_is_locusts_html_report_of_this_run(runs: Runs) -> None:
    page = runs.report.read_text()
    assert page.lstrip().lower().startswith("<!doctype html"), page[:200]
    outline = _Outline()
    outline.feed(page)
    outline.close()
    assert {"html", "head", "body", "script"} <= set(outline.tags)
    assert "Locust" in outline.title, outline.title
    # Locust 2.x renders the report client-side from the statistics embedded in it.
    assert "window.templateArgs" in page and "/cli-pass" in page


def test_the_junit_file_is_schema_valid_with_the_run_and_each_threshold(runs: Runs) -> None:
    text = runs.junit.read_text()
    assert_valid_junit(text)
    assert text.count("<testcase ") == 4, text
    assert "<failure" not in text


# --- run: a broken threshold --------------------------------------------------------------


def test_a_broken_threshold_exits_1_naming_metric_limit_and_measured_value(runs: Runs) -> None:
    done = runs.breached
    assert done.code == 1, done.out + done.err
    shown = runs.env.test("status", "cli-breach", "-o", "json")
    status = json.loads(shown.stdout)["status"]
    requests = status["results"]["requests"]
    assert status["phase"] == "Failed"  # the operator's verdict is the CLI's
    broken = f"requests was {requests}, above the max of 3"
    assert f"  [FAIL] {broken}" in done.out.splitlines(), done.out
    last = done.out.splitlines()[-1]
    assert last.startswith("FAILED: the test failed: "), done.out
    assert last.count(broken) == 1, last


# --- the terminal display -----------------------------------------------------------------


def test_on_a_terminal_a_live_panel_then_the_table_and_the_verdict(runs: Runs) -> None:
    done = runs.terminal
    screen = done.out
    assert done.code == 0, screen
    assert "\x1b[" in screen  # styled: a terminal, not the CI lines
    assert not re.search(r"^\d{4}-\d\d-\d\dT.*phase=", screen, re.M), screen
    assert re.search("Phase" + GAP + "Workers" + GAP + "Users" + GAP + "RPS", screen), screen
    assert re.search("Running" + GAP + "1/1" + GAP + str(USERS), screen), screen
    assert re.search(r"━+.*\d+s/20s", screen), screen  # the run time's progress bar
    assert re.search("GET" + GAP + "/cli-tty", screen), screen
    assert "PASSED: the test succeeded, 1 thresholds met" in screen


# --- status, list, logs, report, delete ---------------------------------------------------


def test_status_as_text_names_phase_conditions_and_thresholds(runs: Runs) -> None:
    shown = runs.env.test("status", "cli-pass")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"LocustTest {runs.env.namespace}/cli-pass"
    assert lines[1].startswith("  phase=Succeeded workers="), shown.stdout
    assert any(line.startswith("  ThresholdsMet=True ThresholdsPassed") for line in lines)
    assert sum(line.startswith("  threshold [PASS] ") for line in lines) == 3, shown.stdout


def test_list_shows_every_test_with_its_phase(runs: Runs) -> None:
    shown = runs.env.test("list")
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[0]: line.split()[1] for line in shown.stdout.splitlines()[1:]}
    assert shown.stdout.split()[:2] == ["NAME", "PHASE"]
    assert rows["cli-pass"] == "Succeeded" and rows["cli-breach"] == "Failed", shown.stdout


def test_logs_of_the_master_are_locusts(runs: Runs) -> None:
    shown = runs.env.test("logs", "cli-pass", "--role", "master")
    assert shown.returncode == 0, shown.stderr
    assert "Starting Locust" in shown.stdout, shown.stdout[-2000:]
    assert "/cli-pass" in shown.stdout  # its summary table


def test_report_saves_the_kept_html_report(runs: Runs) -> None:
    target = runs.env.tmp / "saved.html"
    shown = runs.env.test("report", "cli-breach", "-o", str(target))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == (f"report of {runs.env.namespace}/cli-breach saved to {target}")
    page = target.read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "/cli-breach" in page


async def gone(kube: AsyncClient, namespace: str, name: str) -> bool:
    """The test and its ConfigMaps (files, lib, report) are deleted."""
    try:
        await kube.get(LocustTestV2, name, namespace=namespace)
        return False
    except ApiError as error:
        if error.status.code != 404:
            raise
    left = [
        cm.metadata.name
        async for cm in kube.list(ConfigMap, namespace=namespace)
        if cm.metadata and cm.metadata.name and cm.metadata.name.startswith(name + "-")
    ]
    return not left


async def test_delete_removes_the_test_and_its_config_maps(kube: AsyncClient, runs: Runs) -> None:
    namespace = runs.env.namespace
    names = {cm.metadata.name async for cm in kube.list(ConfigMap, namespace=namespace)}
    assert {"cli-breach-files", "cli-breach-lib", "cli-breach-report"} <= names
    shown = runs.env.test("delete", "cli-breach")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"LocustTest {namespace}/cli-breach deleted"
    await eventually(lambda: gone(kube, namespace, "cli-breach"), within=60, what="cleaned up")
    again = runs.env.test("delete", "cli-breach")
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"locust-operator test: LocustTest {namespace}/cli-breach not found"
    )


# --- --detach, Ctrl-C ---------------------------------------------------------------------


async def test_detach_returns_at_once_and_the_test_runs_on(kube: AsyncClient, env: Env) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        env.run_args("cli-detach", "5m", "--detach"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"LocustTest {env.namespace}/cli-detach created",
        f"following it: locust-operator test status cli-detach -n {env.namespace}",
    ]

    async def running() -> bool:
        return (await get_status(kube, env.namespace, "cli-detach")).get("phase") == "Running"

    await eventually(running, within=180, what="the detached test runs")
    assert env.test("delete", "cli-detach").returncode == 0
    await eventually(lambda: gone(kube, env.namespace, "cli-detach"), within=60, what="deleted")


def start_and_wait_for_running(argv: list[str]) -> subprocess.Popen[str]:
    process = spawn(argv)
    assert process.stdout is not None
    for line in process.stdout:
        if " phase=Running " in line:
            return process
    raise AssertionError(f"the run ended before Running: {process.wait()} {process.stderr}")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_ctrl_c_stops_the_test_and_deletes_it_and_its_config_maps(
    kube: AsyncClient, env: Env, processes: list[subprocess.Popen[str]]
) -> None:
    process = await asyncio.to_thread(start_and_wait_for_running, env.run_args("cli-intr", "5m"))
    processes.append(process)
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.to_thread(process.communicate, timeout=120)
    assert process.returncode == 130, out + err
    assert out.splitlines()[-1] == f"interrupted: {env.namespace}/cli-intr stopped and deleted"
    assert "Traceback" not in err, err
    await eventually(lambda: gone(kube, env.namespace, "cli-intr"), within=60, what="deleted")


async def test_ctrl_c_with_keep_leaves_the_test_running(
    kube: AsyncClient, env: Env, processes: list[subprocess.Popen[str]]
) -> None:
    process = await asyncio.to_thread(
        start_and_wait_for_running, env.run_args("cli-keep", "5m", "--keep")
    )
    processes.append(process)
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.to_thread(process.communicate, timeout=120)
    assert process.returncode == 130, out + err
    assert out.splitlines()[-1] == (
        f"interrupted: {env.namespace}/cli-keep keeps running (--keep); delete it with "
        f"locust-operator test delete cli-keep -n {env.namespace}"
    )
    await asyncio.sleep(2)
    assert (await get_status(kube, env.namespace, "cli-keep")).get("phase") == "Running"
    assert env.test("delete", "cli-keep").returncode == 0
    await eventually(lambda: gone(kube, env.namespace, "cli-keep"), within=60, what="deleted")


# --- the operator not running -------------------------------------------------------------


async def test_without_the_operator_the_run_gives_up_saying_so(
    kube: AsyncClient, env: Env, operator: RestartableOperator
) -> None:
    operator.stop()
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            env.run_args("cli-nooperator", "10s", "--operator-timeout", "5"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        operator.start()
    assert done.returncode == 3, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("INFRASTRUCTURE: the test has no status after "), done.stdout
    assert "the operator is not running" in last
    assert env.test("delete", "cli-nooperator").returncode == 0
