"""The LocustTest a `test run` creates: a manifest (or a default one) with the command-line
flags applied on top, flags winning. Pure."""

from __future__ import annotations

import copy
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from locust_operator.api import names
from locust_operator.api.conversion import ConversionError, convert_v1_to_v2
from locust_operator.api.reserved import DEFAULT_SRC_MOUNT_PATH, MAX_TEST_NAME_LENGTH

from . import commandline
from .durations import run_time_seconds
from .exits import CliError
from .sources import TestSources

DEFAULT_IMAGE = "locustio/locust:2.47.0"
CREATED_BY_LABEL = "locust.io/created-by"
CREATED_BY = "locust-operator-test"
_SUFFIX_CHARS = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Overrides:
    """The flags of `test run` that shape the LocustTest; None: not given."""

    name: str | None = None
    users: int | None = None
    spawn_rate: float | None = None
    run_time: str | None = None
    workers: int | None = None
    image: str | None = None
    host: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


def files_config_map(test_name: str) -> str:
    return f"{test_name}-files"


def lib_config_map(test_name: str) -> str:
    return f"{test_name}-lib"


def load_manifest(path: Path) -> dict[str, Any]:
    """One LocustTest from a YAML file (v2, or v1 converted to v2)."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    except FileNotFoundError:
        raise CliError(f"manifest not found: {path}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise CliError(
            f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})"
        ) from None
    tests = [d for d in documents if isinstance(d, dict) and d.get("kind") == names.KIND]
    if len(tests) != 1:
        raise CliError(f"{path}: expected exactly one {names.KIND}, found {len(tests)}")
    (test,) = tests
    version = test.get("apiVersion")
    if version == names.V1_API_VERSION:
        try:
            test = convert_v1_to_v2(test)
        except ConversionError as error:
            raise CliError(f"{path}: cannot convert this locust.io/v1 manifest: {error}") from None
    elif version != names.V2_API_VERSION:
        raise CliError(
            f"{path}: apiVersion {version!r}; expected {names.V2_API_VERSION} "
            f"(or {names.V1_API_VERSION})"
        )
    if not isinstance(test.get("spec"), dict):
        raise CliError(f"{path}: the {names.KIND} has no spec")
    return dict(test)


def default_name(source: Path, suffix: str | None = None) -> str:
    """<file or folder name>-<5 random characters>: a rerun is a new test."""
    stem = re.sub(r"[^a-z0-9-]+", "-", source.stem.lower()).strip("-") or "test"
    if not stem[0].isalpha():
        stem = "t-" + stem
    suffix = suffix or "".join(secrets.choice(_SUFFIX_CHARS) for _ in range(5))
    return f"{stem[: MAX_TEST_NAME_LENGTH - len(suffix) - 1].rstrip('-')}-{suffix}"


def build_test(
    base: Mapping[str, Any] | None,
    sources: TestSources | None,
    overrides: Overrides,
    name: str,
    namespace: str,
) -> dict[str, Any]:
    """The v2 LocustTest to create."""
    if base is None and sources is None:
        raise CliError("nothing to run: pass a locustfile, a directory or a manifest")
    test: dict[str, Any] = copy.deepcopy(dict(base)) if base else _skeleton()
    metadata = test.setdefault("metadata", {})
    for server_side in (
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
    ):
        metadata.pop(server_side, None)
    test.pop("status", None)
    metadata["name"] = name
    metadata["namespace"] = namespace
    metadata["labels"] = {**(metadata.get("labels") or {}), CREATED_BY_LABEL: CREATED_BY}
    spec = test["spec"]
    master = spec.setdefault("master", {})
    worker = spec.setdefault("worker", {})
    master.setdefault("command", "")
    worker.setdefault("command", "")
    worker.setdefault("replicas", 1)
    spec.setdefault("image", DEFAULT_IMAGE)

    if sources is not None:
        files = spec.setdefault("testFiles", {})
        files["configMapRef"] = files_config_map(name)
        if sources.lib is not None:
            files["libConfigMapRef"] = lib_config_map(name)
        locustfile = (
            f"{files.get('srcMountPath', DEFAULT_SRC_MOUNT_PATH).rstrip('/')}/{sources.locustfile}"
        )
        for role in (master, worker):
            role["command"] = commandline.set_flag(
                role["command"], commandline.LOCUSTFILE, locustfile
            )

    if overrides.image:
        spec["image"] = overrides.image
    if overrides.workers is not None:
        worker["replicas"] = overrides.workers
    for value, flag in (
        (overrides.host, commandline.HOST),
        (overrides.users, commandline.USERS),
        (overrides.spawn_rate, commandline.SPAWN_RATE),
        (overrides.run_time, commandline.RUN_TIME),
    ):
        if value is not None:
            text = f"{value:g}" if isinstance(value, float) else str(value)
            master["command"] = commandline.set_flag(master["command"], flag, text)
    if overrides.labels:
        metadata["labels"].update(overrides.labels)
        for role in (master, worker):
            role["labels"] = {**(role.get("labels") or {}), **overrides.labels}
    if not master["command"].strip():
        raise CliError("spec.master.command is empty: pass a locustfile or a manifest that sets it")
    return test


def _skeleton() -> dict[str, Any]:
    return {"apiVersion": names.V2_API_VERSION, "kind": names.KIND, "metadata": {}, "spec": {}}


def run_time_of(test: Mapping[str, Any]) -> int | None:
    """Seconds of the master's --run-time, None when it has none (runs until stopped)."""
    value = commandline.get_flag(test["spec"]["master"]["command"], commandline.RUN_TIME)
    return run_time_seconds(value) if value else None


def parse_labels(values: list[str]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise CliError(f"--label {value!r}: expected KEY=VALUE")
        labels[key] = text
    return labels
