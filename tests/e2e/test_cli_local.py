"""`locust-operator test run --local`: a real Locust master and workers, started from the
command lines the operator generates, run to a verdict; the CI output as text, and the live
display under a pseudo-terminal. Loopback only, no cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pexpect

from tests.real_locust import http_target
from tests.unit.cli_test.helpers import assert_valid_junit

LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Shopper(HttpUser):
    wait_time = constant(0.1)

    @task
    def home(self):
        self.client.get("/home")
"""


# Spaces and the terminal's style codes between the words of a line.
GAP = r"(?:\x1b\[[0-9;]*m|[ │])+"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust_operator.cli", "test", "run", *args]


def run_args(tmp_path: Path, host: str, *extra: str) -> list[str]:
    locustfile = tmp_path / "shop.py"
    locustfile.write_text(LOCUSTFILE)
    return cli(
        str(locustfile),
        "--local",
        "-H",
        host,
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "4s",
        "-w",
        "2",
        "--interval",
        "2",
        *extra,
    )


def test_a_passing_run_prints_progress_lines_the_table_and_writes_report_and_junit(
    tmp_path: Path,
) -> None:
    report, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    with http_target() as target:
        done = subprocess.run(
            run_args(
                tmp_path,
                target.url,
                "--threshold",
                "fail_ratio<=1%",
                "--report",
                str(report),
                "--junit",
                str(junit),
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert target.hits and {path for path, _ in target.hits} == {"/home"}
    lines = out.splitlines()
    progress = [line for line in lines if " phase=" in line]
    assert any("phase=Running workers=2/2 users=4" in line for line in progress), out
    assert progress[-1].split(" ", 1)[1].startswith("phase=Succeeded"), out
    assert any(line.startswith("| GET") and "/home" in line for line in lines), out
    assert "[PASS] fail_ratio <= 1.00% (Aggregated): measured 0.00%, met" in out
    assert f"Report saved to {report}" in out
    assert lines[-1] == "PASSED: the test succeeded, 1 thresholds met"
    page = report.read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "</html>" in page
    assert_valid_junit(junit.read_text())


def test_a_broken_threshold_exits_1_and_names_metric_limit_and_value(tmp_path: Path) -> None:
    with http_target() as target:
        done = subprocess.run(
            run_args(tmp_path, target.url, "--threshold", "requests<=3"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith(
        "FAILED: 1 of 1 thresholds broken: requests <= 3 (Aggregated): measured "
    )
    assert last.endswith(", BROKEN")


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        cli(str(tmp_path / "missing.py"), "--local"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"locust-operator test: locustfile not found: {tmp_path / 'missing.py'} "
        "(pass a locustfile, a directory or a manifest)"
    ]


def test_the_terminal_shows_a_live_panel_then_the_verdict(tmp_path: Path) -> None:
    with http_target() as target:
        argv = run_args(tmp_path, target.url, "--threshold", "p95<=5s")
        child = pexpect.spawn(argv[0], argv[1:], dimensions=(40, 120), encoding="utf-8", timeout=90)
        child.expect(GAP.join(("Phase", "Workers", "Users", "RPS", "Failures", "p95")))
        child.expect(GAP.join(("Running", "2/2", "4", "")))  # the live row once all users run
        child.expect("━")  # the progress bar of the run time
        child.expect("Final results")
        child.expect("PASSED: the test succeeded, 1 thresholds met")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
