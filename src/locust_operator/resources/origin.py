"""Which LocustTest field produced a field of a child (pure).

The apiserver names the fields of the Job or Service it refuses
(``spec.template.spec.containers[0].resources.limits``); users wrote a LocustTest. Both the
validating webhook (which dry-runs the children at admission) and the reconciler (which
reports a refused child in the status) translate the one into the other here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from locust_operator.config import Role

_POD = "spec.template.spec."
_CONTAINER = re.compile(r"^spec\.template\.spec\.containers\[\d+\]\.")
_INIT_CONTAINER = re.compile(r"^spec\.template\.spec\.initContainers\[\d+\]")

# (prefix of the field inside the pod spec, LocustTest field); {role} is master or worker.
_POD_FIELDS: tuple[tuple[str, str], ...] = (
    ("volumes", "spec.volumes"),
    ("nodeSelector", "spec.scheduling.nodeSelector"),
    ("affinity", "spec.scheduling.affinity"),
    ("tolerations", "spec.scheduling.tolerations"),
    ("runtimeClassName", "spec.scheduling.runtimeClassName"),
    ("imagePullSecrets", "spec.imagePullSecrets"),
    ("securityContext", "spec.security.podSecurityContext"),
)
_CONTAINER_FIELDS: tuple[tuple[str, str], ...] = (
    ("image", "spec.image"),
    ("imagePullPolicy", "spec.imagePullPolicy"),
    ("resources", "spec.{role}.resources"),
    ("args", "spec.{role}.command"),
    ("command", "spec.{role}.command"),
    ("envFrom", "spec.env"),
    ("env", "spec.env.variables"),
    ("volumeMounts", "spec.volumeMounts"),
    ("securityContext", "spec.security.containerSecurityContext"),
    ("name", "metadata.name"),
)
_JOB_FIELDS: tuple[tuple[str, str], ...] = (
    ("spec.template.metadata.labels", "spec.{role}.labels"),
    ("spec.template.labels", "spec.{role}.labels"),
    ("spec.template.metadata.annotations", "spec.{role}.annotations"),
    ("spec.template.annotations", "spec.{role}.annotations"),
    # The Job carries its pods' labels (the test name's, validated with the name, and
    # the user's).
    ("metadata.labels", "spec.{role}.labels"),
    ("spec.parallelism", "spec.worker.replicas"),
    ("spec.completions", "spec.worker.replicas"),
    ("metadata.annotations", "spec"),
    ("metadata", "metadata.name"),
)


@dataclass(frozen=True)
class Origin:
    field: str  # the LocustTest field, e.g. spec.master.resources
    operator_setting: bool = False  # produced by the operator's configuration, not the test


def _starts(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def spec_field(child_field: str | None, role: Role | None) -> Origin:
    """The LocustTest field behind ``child_field`` of the child of ``role`` (None: the
    Service, whose fields come from the test's name alone)."""
    path = child_field or ""
    who = role or "master"
    if role is None:
        return Origin("metadata.name")
    if _INIT_CONTAINER.match(path):
        # The metrics exporter sidecar: configured by the operator's METRICS_EXPORTER_*.
        return Origin("spec", operator_setting=True)
    container = _CONTAINER.match(path)
    if container:
        rest = path[container.end() :]
        for prefix, field in _CONTAINER_FIELDS:
            if _starts(rest, prefix):
                return Origin(field.format(role=who))
        return Origin(f"spec.{who}")
    if path.startswith(_POD):
        rest = path[len(_POD) :]
        for prefix, field in _POD_FIELDS:
            if _starts(rest, prefix):
                return Origin(field.format(role=who))
        return Origin(f"spec.{who}")
    for prefix, field in _JOB_FIELDS:
        if _starts(path, prefix):
            return Origin(field.format(role=who))
    return Origin("spec")
