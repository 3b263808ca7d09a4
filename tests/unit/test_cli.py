"""The command line: configuration errors stop the operator before it touches a cluster."""

from __future__ import annotations

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
