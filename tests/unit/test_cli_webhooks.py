"""`locust-operator webhooks unregister`: a bad kubeconfig or an unreachable cluster is one
line naming it, never a traceback (the cluster-side behaviour is in
tests/integration/test_operator_exit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from locust_operator.cli import main

UNREACHABLE = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {}}]
"""


def test_a_missing_kubeconfig_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["webhooks", "unregister", "--kubeconfig", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"--kubeconfig {missing}" in err
    assert "Traceback" not in err


def test_an_unreachable_cluster_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(UNREACHABLE)
    assert main(["webhooks", "unregister", "--kubeconfig", str(kubeconfig)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("locust-operator: cannot reach the cluster:")
    assert len(err.strip().splitlines()) == 1


def test_the_action_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["webhooks"])
    assert exit_.value.code == 2
    assert "ACTION" in capsys.readouterr().err
