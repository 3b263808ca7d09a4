"""The pure parts of `locust-operator test`: sources, command lines, the manifest, thresholds,
the verdict, JUnit, the plain progress lines and the follow loop's timeouts."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from locust_operator.cli_test import commandline, exits
from locust_operator.cli_test.exits import CliError
from locust_operator.cli_test.follow import Timeouts, follow
from locust_operator.cli_test.junit import junit_xml
from locust_operator.cli_test.manifest import Overrides, build_test, default_name, load_manifest
from locust_operator.cli_test.plain import PlainDisplay
from locust_operator.cli_test.snapshot import Snapshot
from locust_operator.cli_test.sources import Files, check_size, load_sources
from locust_operator.cli_test.stats import Row, Stats, from_status_results
from locust_operator.cli_test.thresholds import evaluate, parse_threshold, to_spec
from locust_operator.cli_test.verdict import judge
from tests.unit.cli_test.helpers import assert_valid_junit

STATS = Stats(
    state="stopped",
    users=4,
    workers=2,
    current_rps=20.0,
    total=Row("Aggregated", requests=200, failures=4, p95_ms=120.0, rps=20.0),
    endpoints=(
        Row("/a", "GET", requests=150, failures=0, p95_ms=80.0, rps=15.0),
        Row("/b", "POST", requests=50, failures=4, p95_ms=300.0, rps=5.0),
    ),
)


def test_a_single_locustfile_becomes_one_config_map_key(tmp_path: Path) -> None:
    file = tmp_path / "shop.py"
    file.write_text("from locust import HttpUser\n")
    sources = load_sources(file)
    assert sources.files.data == {"shop.py": "from locust import HttpUser\n"}
    assert sources.locustfile == "shop.py"


def test_a_directory_picks_locustfile_py_and_refuses_subfolders(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text("x = 1\n")
    (tmp_path / "data.csv").write_text("a,b\n")
    (tmp_path / "__pycache__").mkdir()
    assert load_sources(tmp_path).locustfile == "locustfile.py"
    (tmp_path / "nested").mkdir()
    with pytest.raises(CliError, match="nested: test directory must be flat"):
        load_sources(tmp_path)


def test_missing_locustfile_and_oversized_config_map_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"locustfile not found: .*nope\.py") as missing:
        load_sources(tmp_path / "nope.py")
    assert missing.value.code == exits.USAGE
    big = Files(origin=tmp_path, data={"small.py": "x", "huge.json": "x" * 2_000_000})
    with pytest.raises(CliError, match=r"huge\.json: ConfigMap too big .*1 MiB") as error:
        check_size(big)
    assert "\n" not in error.value.message


@pytest.mark.parametrize(
    ("command", "value", "expected"),
    [
        ("-f a.py -u 5 --host x", "10", "-f a.py --host x --users 10"),
        ("-f a.py --users=5", "10", "-f a.py --users 10"),
        ("-f a.py -u5", "10", "-f a.py --users 10"),
        ("-f a.py", "10", "-f a.py --users 10"),
    ],
)
def test_a_flag_replaces_every_spelling_of_it(command: str, value: str, expected: str) -> None:
    assert commandline.set_flag(command, commandline.USERS, value) == expected
    assert commandline.get_flag(expected, commandline.USERS) == value


def test_manifest_and_flags_combine_and_flags_win(tmp_path: Path) -> None:
    manifest = tmp_path / "t.yaml"
    manifest.write_text(
        "apiVersion: locust.io/v2\nkind: LocustTest\nmetadata: {name: base, labels: {team: a}}\n"
        "spec:\n  image: locustio/locust:2.43.1\n"
        "  master: {command: '--locustfile /lotest/src/old.py --users 50 -t 10m'}\n"
        "  worker: {command: '--locustfile /lotest/src/old.py', replicas: 5}\n"
    )
    file = tmp_path / "new.py"
    file.write_text("pass\n")
    test = build_test(
        load_manifest(manifest),
        load_sources(file),
        Overrides(users=7, workers=2, run_time="30s", host="http://t", labels={"ci": "yes"}),
        "run-1",
        "ns",
    )
    spec = test["spec"]
    assert spec["image"] == "locustio/locust:2.43.1"  # kept from the manifest
    assert spec["worker"]["replicas"] == 2
    assert spec["master"]["command"] == (
        "--locustfile /lotest/src/new.py --host http://t --users 7 --run-time 30s"
    )
    assert spec["worker"]["command"] == "--locustfile /lotest/src/new.py"
    assert spec["testFiles"] == {"configMapRef": "run-1-files"}
    assert test["metadata"]["labels"]["team"] == "a" and test["metadata"]["labels"]["ci"] == "yes"
    assert spec["master"]["labels"] == {"ci": "yes"}
    assert test["metadata"]["namespace"] == "ns"


def test_a_v1_manifest_is_converted_and_bad_yaml_named(tmp_path: Path) -> None:
    v1 = tmp_path / "v1.yaml"
    v1.write_text(
        "apiVersion: locust.io/v1\nkind: LocustTest\nmetadata: {name: old}\n"
        "spec: {image: i, masterCommandSeed: '-f /lotest/src/a.py', workerCommandSeed: '-f "
        "/lotest/src/a.py', workerReplicas: 3, configMap: c}\n"
    )
    assert load_manifest(v1)["spec"]["worker"]["replicas"] == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [\n")
    with pytest.raises(CliError, match=r"bad\.yaml line \d+: not valid YAML"):
        load_manifest(bad)


def test_default_names_are_valid_and_unique_per_run() -> None:
    assert default_name(Path("My_Shop.py"), "abcde") == "my-shop-abcde"
    assert default_name(Path("9.py"), "abcde") == "t-9-abcde"
    assert default_name(Path("a.py")) != default_name(Path("a.py"))


def test_thresholds_parse_evaluate_and_become_spec_entries() -> None:
    ratio = parse_threshold("fail_ratio<=1%")
    assert ratio.value == pytest.approx(0.01)
    assert to_spec(ratio) == {"metric": "failRatio", "max": 0.01}
    slow = parse_threshold("POST /b:p95<=0.25s")
    assert to_spec(slow) == {
        "metric": "p95ResponseTime",
        "max": 250.0,
        "method": "POST",
        "endpoint": "/b",
    }
    outcomes = evaluate([ratio, slow, parse_threshold("rps>=10")], STATS)
    assert [o.passed for o in outcomes] == [False, False, True]
    assert outcomes[0].message == "fail_ratio <= 1.00% (Aggregated): measured 2.00%, BROKEN"
    for bad in ("p95<500", "latency<=1", "rps<=5%", "fail_ratio<=200%"):
        with pytest.raises(CliError, match="--threshold"):
            parse_threshold(bad)


def test_verdicts_and_exit_codes() -> None:
    done = Snapshot(phase="Succeeded", stats=STATS)
    assert judge(done, []).code == exits.SUCCEEDED
    broken = evaluate([parse_threshold("p95<=100")], STATS)
    verdict = judge(done, broken)
    assert verdict.code == exits.FAILED and verdict.run_passed
    assert verdict.headline.startswith("FAILED: 1 of 1 thresholds broken: p95 <= 100 ms")
    failed = Snapshot(
        phase="Failed", conditions={"TestCompleted": {"reason": "TestFailed", "message": "exit 1"}}
    )
    assert judge(failed, []).code == exits.FAILED
    crash = Snapshot(
        phase="Failed",
        conditions={
            "PodsHealthy": {"status": "False", "reason": "CrashLoopBackOff", "message": "pod x"}
        },
    )
    infra = judge(crash, [])
    assert infra.code == exits.INFRASTRUCTURE
    assert "PodsHealthy CrashLoopBackOff: pod x" in infra.headline
    assert judge(Snapshot(), [], gave_up="no operator").code == exits.INFRASTRUCTURE


def test_junit_has_the_run_and_one_case_per_threshold_and_is_schema_valid() -> None:
    outcomes = evaluate([parse_threshold("p95<=100"), parse_threshold("rps>=1")], STATS)
    verdict = judge(Snapshot(phase="Succeeded", stats=STATS), outcomes)
    text = junit_xml(
        "shop", verdict, outcomes, 12.5, now=datetime(2026, 1, 2, tzinfo=UTC), output="table"
    )
    assert_valid_junit(text)
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "run",
        "threshold p95 <= 100 ms (Aggregated)",
        "threshold rps >= 1.0/s (Aggregated)",
    ]
    assert [c.find("failure") is not None for c in cases] == [False, True, False]
    assert suite.get("failures") == "1" and suite.get("tests") == "3"


def test_status_results_read_as_stats() -> None:
    stats = from_status_results(
        {
            "final": True,
            "users": 3,
            "workers": 2,
            "requests": 10,
            "failures": 1,
            "totalRps": 2.5,
            "p95ResponseTime": 40,
            "endpoints": [{"name": "/x", "method": "GET", "requests": 10, "failures": 1}],
        }
    )
    assert stats.finished and stats.total.requests == 10 and stats.total.p95_ms == 40
    assert stats.endpoints[0].fail_ratio == pytest.approx(0.1)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Script:
    def __init__(self, *snapshots: Snapshot) -> None:
        self.snapshots = list(snapshots)

    def poll(self) -> Snapshot:
        return self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]


def test_plain_lines_are_timestamped_at_the_interval_and_on_phase_changes() -> None:
    out = io.StringIO()
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    clock = Clock()
    display = PlainDisplay(out, interval=10, now=lambda: start + timedelta(seconds=clock.now))
    running = Snapshot(
        phase="Running",
        expected_workers=2,
        connected_workers=2,
        run_time=30,
        stats=Stats(
            state="running",
            users=4,
            workers=2,
            current_rps=12.34,
            current_p95_ms=21.0,
            total=Row("Aggregated", requests=100, failures=1),
        ),
    )
    script = Script(
        Snapshot(phase="Pending", expected_workers=2, run_time=30),
        *[running] * 25,
        Snapshot(phase="Succeeded", expected_workers=2, run_time=30, stats=running.stats),
    )
    final, gave_up = follow(script, display, 1.0, Timeouts(), clock.monotonic, clock.sleep)
    assert gave_up is None and final.phase == "Succeeded"
    numbers = "workers=2/2 users=4 rps=12.3 failures=1 (1.00%) p95=21ms"
    assert out.getvalue().splitlines() == [
        "2026-03-01T12:00:00Z phase=Pending workers=-/2 users=- rps=- failures=- p95=- "
        "elapsed=-/30s",
        f"2026-03-01T12:00:01Z phase=Running {numbers} elapsed=0s/30s",
        f"2026-03-01T12:00:11Z phase=Running {numbers} elapsed=10s/30s",
        f"2026-03-01T12:00:21Z phase=Running {numbers} elapsed=20s/30s",
        f"2026-03-01T12:00:26Z phase=Succeeded {numbers} elapsed=25s/30s",
    ]


def test_no_status_means_no_operator_and_pending_too_long_names_pod_trouble() -> None:
    clock = Clock()
    silent = Script(Snapshot())
    _, gave_up = follow(
        silent,
        PlainDisplay(io.StringIO(), 10),
        1.0,
        Timeouts(operator=5),
        clock.monotonic,
        clock.sleep,
    )
    assert gave_up is not None and "the operator is not running" in gave_up
    stuck = Script(
        Snapshot(
            phase="Pending",
            conditions={
                "PodsHealthy": {
                    "status": "False",
                    "reason": "ImagePullError",
                    "message": "image x not found",
                }
            },
        )
    )
    _, gave_up = follow(
        stuck,
        PlainDisplay(io.StringIO(), 10),
        1.0,
        Timeouts(pending=30),
        clock.monotonic,
        clock.sleep,
    )
    assert gave_up is not None
    assert "still Pending after 30s: PodsHealthy ImagePullError: image x not found" in gave_up


def test_the_operator_command_does_not_import_the_cli_extras() -> None:
    import subprocess
    import sys

    code = (
        "import sys, locust_operator.cli as c; c.build_parser(); print(sorted(m for m in "
        "('rich', 'locust_operator.cli_test.commands') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
