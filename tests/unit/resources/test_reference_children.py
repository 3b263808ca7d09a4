"""Differential test: our children against the reference operator's, manifest by manifest.

../shared/compat/reference-children/ holds what the reference operator created for each
valid v2 manifest (index.json maps manifest -> test name), run with the environment in
operator-env.sh. We build ours from the same manifest with the same environment and,
after normalising both (reference_diff.py), every remaining difference must be one of
ALLOWED below. Each allowed difference is explained in docs/migration.md under its id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from locust_operator.config import OperatorConfig
from locust_operator.resources import build_children
from tests.conftest import COMPAT_DIR, REPO_ROOT
from tests.locusttests import load_manifest

from .reference_diff import differences, read_env_file

REFERENCE_CHILDREN = COMPAT_DIR / "reference-children"
MIGRATION_DOC = REPO_ROOT / "docs" / "migration.md"
KINDS = ("Service", "MasterJob", "WorkerJob")


def _bind_port(ours: Any, theirs: Any) -> bool:
    """The master binds with --master-bind-port (a master ignores --master-port)."""
    return (
        isinstance(ours, list)
        and ["--master-port=5557" if arg == "--master-bind-port=5557" else arg for arg in ours]
        == theirs
    )


def _only_ours(ours: Any, theirs: Any) -> bool:
    return ours is not None and theirs is None


def _only_theirs(ours: Any, theirs: Any) -> bool:
    return ours is None and theirs is not None


@dataclass(frozen=True)
class Allowed:
    id: str  # named in docs/migration.md, where the difference is explained
    kinds: tuple[str, ...]
    path: str  # a regex over the flattened path (<name> stands for the test's name)
    holds: Callable[[Any, Any], bool]  # (our value, the reference's value)


_LABELS = r"(metadata|spec\.template\.metadata)\.labels\."
ALLOWED = (
    Allowed(
        "provenance-annotations",
        KINDS,
        r"metadata\.annotations\.locust\.io/(applied-spec|spec-generation)",
        _only_ours,
    ),
    Allowed(
        "role-and-recommended-labels",
        KINDS,
        _LABELS + r"(locust-role|app\.kubernetes\.io/.+)",
        _only_ours,
    ),
    Allowed(
        "service-labels",
        ("Service",),
        r"metadata\.labels\.(app|managed-by|performance-test-name|performance-test-pod-name)",
        _only_ours,
    ),
    Allowed(
        "service-selector",
        ("Service",),
        r"spec\.selector\.(locust-role|managed-by|performance-test-name)",
        _only_ours,
    ),
    Allowed("service-web-ui-port", ("Service",), r"spec\.ports\[(master|web-ui)\]\..+", _only_ours),
    Allowed("service-web-ui-port", ("Service",), r"spec\.ports\[port555[78]\]\..+", _only_theirs),
    Allowed("job-completions", ("MasterJob", "WorkerJob"), r"spec\.completions", _only_ours),
    Allowed(
        "master-bind-port",
        ("MasterJob",),
        r"spec\.template\.spec\.containers\[<name>-master\]\.args",
        _bind_port,
    ),
    Allowed(
        "kafka-variables",
        ("MasterJob", "WorkerJob"),
        r"spec\.template\.spec\.containers\[<name>-(master|worker)\]\.env\[KAFKA_[A-Z_]+\]\..+",
        _only_theirs,
    ),
    Allowed(
        "container-ports",
        ("MasterJob",),
        r"spec\.template\.spec\.(containers\[<name>-master\]\.ports\[(master|web-ui)\]"
        r"|initContainers\[locust-metrics-exporter\]\.ports\[metrics\])\..+",
        _only_ours,
    ),
    Allowed(
        "container-ports",
        ("MasterJob", "WorkerJob"),
        r"spec\.template\.spec\.(containers\[<name>-(master|worker)\]\.ports\[(5557|5558|8089|8080)\]"
        r"|initContainers\[locust-metrics-exporter\]\.ports\[9646\])\..+",
        _only_theirs,
    ),
)


def _cases() -> list[Any]:
    index = REFERENCE_CHILDREN / "index.json"
    if not index.is_file():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason="no reference-children"))]
    return [
        pytest.param(manifest, name, id=name)
        for manifest, name in json.loads(index.read_text()).items()
    ]


def _config() -> OperatorConfig:
    return OperatorConfig.from_env(read_env_file(REFERENCE_CHILDREN / "operator-env.sh"))


def _ours(manifest: str) -> dict[str, dict[str, Any]]:
    test = load_manifest(COMPAT_DIR / "reference-manifests" / manifest)
    test["metadata"].update(namespace="ref", uid="uid-ours", generation=1)
    built = build_children(test, _config())
    return {
        "Service": built.service.to_dict(),
        "MasterJob": built.master_job.to_dict(),
        "WorkerJob": built.worker_job.to_dict(),
    }


def unexplained(manifest: str, name: str, used: set[str] | None = None) -> list[str]:
    theirs = json.loads((REFERENCE_CHILDREN / f"{name}.json").read_text())
    ours = _ours(manifest)
    found = []
    for kind in KINDS:
        for path, (mine, reference) in differences(ours[kind], theirs[kind]).items():
            generic = path.replace(name, "<name>")
            match = next(
                (
                    allowed
                    for allowed in ALLOWED
                    if kind in allowed.kinds
                    and re.fullmatch(allowed.path, generic)
                    and allowed.holds(mine, reference)
                ),
                None,
            )
            if match is None:
                found.append(f"{kind} {path}: ours {mine!r}, the reference's {reference!r}")
            elif used is not None:
                used.add(match.id)
    return found


@pytest.mark.parametrize(("manifest", "name"), _cases())
def test_our_children_differ_from_the_references_only_as_documented(
    manifest: str, name: str
) -> None:
    assert unexplained(manifest, name) == []


def test_every_allowed_difference_is_explained_and_still_occurs() -> None:
    cases = [case.values for case in _cases() if case.values[0] is not None]
    if not cases:
        pytest.skip("no reference-children")
    used: set[str] = set()
    for manifest, name in cases:
        unexplained(str(manifest), str(name), used)
    ids = {allowed.id for allowed in ALLOWED}
    assert ids == used, f"allowed but never seen: {sorted(ids - used)}"
    doc = MIGRATION_DOC.read_text()
    assert [i for i in sorted(ids) if f"`{i}`" not in doc] == []


def test_the_normalisation_keeps_what_matters() -> None:
    """A difference in something users rely on is not normalised away."""
    cases = [case.values for case in _cases() if case.values[0] is not None]
    if not cases:
        pytest.skip("no reference-children")
    manifest, name = str(cases[0][0]), str(cases[0][1])
    theirs = json.loads((REFERENCE_CHILDREN / f"{name}.json").read_text())
    changed = json.loads(json.dumps(theirs["WorkerJob"]))
    changed["spec"]["parallelism"] += 1
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "other:1"
    found = differences(_ours(manifest)["WorkerJob"], changed)
    assert {"spec.parallelism", f"spec.template.spec.containers[{name}-worker].image"} <= set(found)
