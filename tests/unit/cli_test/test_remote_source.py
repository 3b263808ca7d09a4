"""`locust-operator test run --git URL ... FILE`: the LocustTest it creates points at the
repository (no ConfigMap shipped), and misuse is one clear line."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from locust_operator.cli import build_parser
from locust_operator.cli_test.commands import _prepare
from locust_operator.cli_test.exits import CliError

REPO = "https://git.example.com/team/load.git"


def prepare(line: str) -> tuple[dict[str, Any], Any]:
    args = build_parser().parse_args(shlex.split(f"test run {line}"))
    return _prepare(args, "team-a")


def test_git_run_points_the_test_at_the_repository() -> None:
    test, sources = prepare(
        f"--git {REPO} --ref v1.4.0 --sub-path tests/load --git-secret repo-token "
        "shop/locustfile.py -H http://shop:8080 -w 3"
    )
    assert sources is None  # nothing to ship as ConfigMaps
    files = test["spec"]["testFiles"]
    assert files == {
        "git": {
            "url": REPO,
            "ref": "v1.4.0",
            "subPath": "tests/load",
            "credentials": {"secretName": "repo-token"},
        }
    }
    for role in ("master", "worker"):
        assert "--locustfile /lotest/src/shop/locustfile.py" in test["spec"][role]["command"]
    assert test["spec"]["worker"]["replicas"] == 3
    assert "--host http://shop:8080" in test["spec"]["master"]["command"]


def test_git_over_a_manifest_replaces_its_config_map(tmp_path: Path) -> None:
    manifest = tmp_path / "t.yaml"
    manifest.write_text(
        "apiVersion: locust.io/v2\nkind: LocustTest\nmetadata: {name: shop}\n"
        "spec:\n  image: locustio/locust:2.43.1\n  master: {command: ''}\n"
        "  worker: {command: '', replicas: 2}\n"
        "  testFiles: {configMapRef: scripts, srcMountPath: /suite}\n"
    )
    test, _ = prepare(f"--git {REPO} --manifest {manifest} locustfile.py")
    assert "configMapRef" not in test["spec"]["testFiles"]
    assert test["spec"]["testFiles"]["srcMountPath"] == "/suite"
    assert "--locustfile /suite/locustfile.py" in test["spec"]["master"]["command"]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--ref main locustfile.py", "--ref apply to --git only"),
        (f"--git {REPO} --local locustfile.py", "cluster only"),
        (f"--git {REPO} --lib lib locustfile.py", "keep the helpers in the repository"),
        (f"--git {REPO} ../outside.py", "path in the repository"),
    ],
)
def test_misuse_is_one_clear_line(line: str, says: str) -> None:
    with pytest.raises(CliError) as caught:
        prepare(line)
    assert says in caught.value.message
