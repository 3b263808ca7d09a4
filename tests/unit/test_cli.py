"""The command line: configuration errors stop the operator before it touches a cluster."""

from __future__ import annotations

import argparse
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from locust_operator.cli import main


def test_invalid_setting_stops_startup_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POD_CPU_REQUEST", "lots")
    assert main(["run", "--kubeconfig", "/nonexistent/kubeconfig"]) == 2
    error = capsys.readouterr().err
    assert "POD_CPU_REQUEST" in error
    assert "lots" in error
    assert "Traceback" not in error


def test_crd_command_prints_the_crd(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crd"]) == 0
    assert "name: locusttests.locust.io" in capsys.readouterr().out


def test_namespaces_accept_repeats_and_commas() -> None:
    from locust_operator.cli import build_parser, watched_namespaces

    args = build_parser().parse_args(["run", "--namespace", "a, b", "--namespace", "c,a"])
    assert watched_namespaces(args.namespace) == ["a", "b", "c"]
    assert watched_namespaces([]) == []  # all namespaces


@pytest.fixture
def restore_logging() -> Iterator[None]:
    # main() configures the root logger; give pytest's handlers back afterwards.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def parse(*argv: str) -> argparse.Namespace:
    from locust_operator.cli import build_parser

    return build_parser().parse_args(["run", *argv])


def test_process_flag_defaults() -> None:
    args = parse()
    assert args.health_probe_bind_address == ("0.0.0.0", 8081)
    assert args.metrics_bind_address is None
    assert args.leader_elect is False
    assert args.leader_election_id == "locust-k8s-operator.locust.io"
    assert args.leader_election_namespace is None
    assert (
        args.leader_election_lease_duration,
        args.leader_election_renew_deadline,
        args.leader_election_retry_period,
    ) == (15.0, 10.0, 2.0)
    assert args.log_format == "console"
    assert args.log_level == "info"


def test_probe_and_metrics_addresses() -> None:
    args = parse("--health-probe-bind-address=", "--metrics-bind-address=127.0.0.1:8080")
    assert args.health_probe_bind_address is None  # empty: off
    assert args.metrics_bind_address == ("127.0.0.1", 8080)
    assert parse("--health-probe-bind-address=:9000").health_probe_bind_address == (
        "0.0.0.0",
        9000,
    )


@pytest.mark.parametrize(
    ("value", "seconds"), [("15s", 15.0), ("500ms", 0.5), ("1m", 60.0), ("2.5", 2.5)]
)
def test_durations(value: str, seconds: float) -> None:
    assert parse(f"--leader-election-retry-period={value}").leader_election_retry_period == seconds


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--leader-election-retry-period=soon"], "--leader-election-retry-period"),
        (["--leader-election-lease-duration=0s"], "--leader-election-lease-duration"),
        (["--health-probe-bind-address=8081"], "--health-probe-bind-address"),
        (["--metrics-bind-address=host:99999"], "--metrics-bind-address"),
        (["--log-format=xml"], "--log-format"),
        (["--log-level=loud"], "--log-level"),
    ],
)
def test_malformed_flags_are_named(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", *argv])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert flag in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        (
            ["--leader-election-lease-duration=5s"],
            ["--leader-election-lease-duration", "--leader-election-renew-deadline"],
        ),
        (
            ["--leader-election-renew-deadline=3s", "--leader-election-retry-period=3s"],
            ["--leader-election-renew-deadline", "--leader-election-retry-period"],
        ),
        (["--leader-election-id=Not_A_Name"], ["--leader-election-id"]),
        (["--leader-election-namespace=a.b"], ["--leader-election-namespace"]),
    ],
)
def test_inconsistent_leader_election_stops_startup(
    argv: list[str], flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--leader-elect", "--kubeconfig", "/nonexistent", *argv]) == 2
    error = capsys.readouterr().err
    for flag in flags:
        assert flag in error
    assert "Traceback" not in error


@pytest.mark.usefixtures("restore_logging")
def test_unreadable_kubeconfig_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [")
    argv = ["run", f"--kubeconfig={kubeconfig}", "--health-probe-bind-address="]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert f"--kubeconfig {kubeconfig}" in error
    assert "Traceback" not in error


@pytest.mark.usefixtures("restore_logging")
def test_a_taken_probe_address_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["run", "--kubeconfig=/nonexistent", f"--health-probe-bind-address=127.0.0.1:{port}"]
        assert main(argv) == 2
    error = capsys.readouterr().err
    assert f"--health-probe-bind-address 127.0.0.1:{port}" in error
    assert "Traceback" not in error
