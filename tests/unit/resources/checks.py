"""Invariants every set of children must satisfy, whatever the LocustTest."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, cast

from locust_operator.config import Role
from locust_operator.resources.labels import operator_labels, selector_labels

from .helpers import locust, pod, pod_metadata

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def _unique(names: list[str], what: str) -> None:
    duplicates = [name for name, count in Counter(names).items() if count > 1]
    assert not duplicates, f"duplicate {what}: {duplicates}"


def check_labels(labels: dict[str, str]) -> None:
    for value in labels.values():
        assert len(value) <= 63 and LABEL_VALUE.fullmatch(value), value


def check_operator_parts(
    test_name: str, role: str, job: dict[str, Any], user_volumes: frozenset[str] = frozenset()
) -> None:
    """What the operator adds: valid names, labels, volumes (other than ``user_volumes``,
    which the CRD validates), env."""
    protected = selector_labels(test_name, cast(Role, role))
    assert protected.items() <= pod_metadata(job)["labels"].items()
    assert operator_labels(test_name, cast(Role, role)).keys() <= pod_metadata(job)["labels"].keys()
    # The Job carries its pods' labels: the operator's must be valid whatever the test;
    # the user's are the CRD's to validate.
    job_labels = job["metadata"]["labels"]
    assert job_labels == pod_metadata(job)["labels"]
    check_labels({key: job_labels[key] for key in protected})
    spec = pod(job)
    containers = spec["containers"] + spec.get("initContainers", [])
    for container in containers:
        assert DNS1123_LABEL.fullmatch(container["name"]) and len(container["name"]) <= 63
    _unique([c["name"] for c in containers], "container names")
    volume_names = [v["name"] for v in spec.get("volumes", []) if v["name"] not in user_volumes]
    for name in volume_names:
        assert DNS1123_LABEL.fullmatch(name) and len(name) <= 63, name
    _unique(volume_names, "volume names")
    env_names = [v["name"] for v in locust(job).get("env", [])]
    _unique(env_names, "environment variables")


def check_mounts_resolve(job: dict[str, Any]) -> None:
    """Every mount names a volume of the pod (holds for specs the CRD admits)."""
    names = {v["name"] for v in pod(job).get("volumes", [])}
    for mount in locust(job).get("volumeMounts", []):
        assert mount["name"] in names, mount
