"""Compare our children with what the reference operator created for the same manifest.

Both sides are normalised first: what differs between any two runs (uids, timestamps,
resourceVersions, the Job controller's generated labels and selector) and what the
apiserver fills in by default is dropped, and quantities are compared by value. What is
left is flattened to ``path -> value`` and diffed; each difference is then matched
against the allow-list in test_reference_children.py.
"""

from __future__ import annotations

import copy
import re
import shlex
from decimal import Decimal
from pathlib import Path
from typing import Any

# Labels the Job controller generates from the Job's uid and name.
GENERATED_LABELS = frozenset(
    {
        "controller-uid",
        "batch.kubernetes.io/controller-uid",
        "job-name",
        "batch.kubernetes.io/job-name",
    }
)
RUN_SPECIFIC_METADATA = (
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "uid",
    "namespace",
    "managedFields",
)
# Fields the apiserver defaults, with their default value: dropped where they hold it.
DEFAULTED: dict[str, Any] = {
    "completionMode": "NonIndexed",
    "manualSelector": False,
    "podReplacementPolicy": "TerminatingOrFailed",
    "suspend": False,
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "dnsPolicy": "ClusterFirst",
    "schedulerName": "default-scheduler",
    "terminationGracePeriodSeconds": 30,
    "defaultMode": 420,
    "protocol": "TCP",
    "sessionAffinity": "None",
    "internalTrafficPolicy": "Cluster",
    "ipFamilyPolicy": "SingleStack",
    "type": "ClusterIP",
    "imagePullPolicy": "IfNotPresent",
}
SERVICE_ALLOCATED = ("clusterIP", "clusterIPs", "ipFamilies")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_FACTORS = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}


def read_env_file(path: Path) -> dict[str, str]:
    """The `export A=1 B=2` lines of operator-env.sh as a mapping."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line)
        if words[:1] != ["export"]:
            continue
        for word in words[1:]:
            key, _, value = word.partition("=")
            env[key] = value
    return env


def normalise(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.get("metadata", {})
    for key in RUN_SPECIFIC_METADATA:
        meta.pop(key, None)
    for ref in meta.get("ownerReferences", []):
        ref.pop("uid", None)
    spec = obj.get("spec", {})
    if obj.get("kind") == "Job":
        spec.pop("selector", None)
        template_meta = spec.get("template", {}).get("metadata", {})
        for labels in (meta.get("labels"), template_meta.get("labels")):
            for key in GENERATED_LABELS & set(labels or {}):
                del labels[key]
    if obj.get("kind") == "Service":
        for key in SERVICE_ALLOCATED:
            spec.pop(key, None)
    return _clean(obj)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {
            key: _clean(item)
            for key, item in value.items()
            if not (key in DEFAULTED and item == DEFAULTED[key])
        }
        return {key: item for key, item in cleaned.items() if item not in (None, {}, [])}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, str) and (match := _QUANTITY.match(value)):
        return format((Decimal(match[1]) * _FACTORS[match[2]]).normalize(), "f")
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`a.b[name=x].c -> value`; list items are keyed by their name when they have one."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else key))
        return flat
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(item, dict) and ("name" in item or "containerPort" in item) for item in value
        )
    ):
        flat = {}
        for item in value:
            key = item.get("name", item.get("containerPort"))
            flat.update(flatten(item, f"{prefix}[{key}]"))
        return flat
    return {prefix: value}


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """path -> (our value, the reference's value), None where one side lacks it."""
    mine, reference = flatten(normalise(ours)), flatten(normalise(theirs))
    return {
        path: (mine.get(path), reference.get(path))
        for path in sorted(mine.keys() | reference.keys())
        if mine.get(path) != reference.get(path)
    }
