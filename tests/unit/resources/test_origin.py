"""A refused child's field, traced back to the LocustTest field that produced it."""

from __future__ import annotations

import pytest

from locust_operator.resources.origin import spec_field

CONTAINER = "spec.template.spec.containers[0]."


@pytest.mark.parametrize(
    ("child_field", "role", "expected"),
    [
        (CONTAINER + "resources.limits", "master", "spec.master.resources"),
        (CONTAINER + "resources.requests[cpu]", "worker", "spec.worker.resources"),
        (CONTAINER + "image", "worker", "spec.image"),
        (CONTAINER + "imagePullPolicy", "master", "spec.imagePullPolicy"),
        (CONTAINER + "args", "master", "spec.master.command"),
        (CONTAINER + "env[2].name", "worker", "spec.env.variables"),
        (CONTAINER + "envFrom[0].secretRef.name", "worker", "spec.env"),
        (CONTAINER + "volumeMounts[1].mountPath", "worker", "spec.volumeMounts"),
        ("spec.template.spec.volumes[3]", "master", "spec.volumes"),
        ("spec.template.spec.nodeSelector", "worker", "spec.scheduling.nodeSelector"),
        ("spec.template.spec.affinity.nodeAffinity", "worker", "spec.scheduling.affinity"),
        ("spec.template.spec.tolerations[0].key", "master", "spec.scheduling.tolerations"),
        ("spec.template.metadata.labels", "worker", "spec.worker.labels"),
        ("spec.template.metadata.annotations", "master", "spec.master.annotations"),
        ("spec.template.labels", "worker", "spec.worker.labels"),
        ("metadata.labels", "master", "spec.master.labels"),
        ("spec.parallelism", "worker", "spec.worker.replicas"),
        ("metadata.name", "master", "metadata.name"),
        ("spec.ports[0]", None, "metadata.name"),
        (None, "worker", "spec"),
    ],
)
def test_child_fields_map_to_the_locusttest_field(
    child_field: str | None, role: str | None, expected: str
) -> None:
    assert spec_field(child_field, role).field == expected  # type: ignore[arg-type]


def test_the_metrics_sidecar_is_the_operators_configuration() -> None:
    origin = spec_field("spec.template.spec.initContainers[0].resources", "master")
    assert origin.operator_setting
