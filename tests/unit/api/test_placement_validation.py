"""The webhook's checks of per-role placement and pod template patches: each names the
field and the fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from locust_operator.api.conversion import convert_v2_to_v1
from locust_operator.api.validation import validate

BASE: dict[str, Any] = {
    "apiVersion": "locust.io/v2",
    "kind": "LocustTest",
    "metadata": {"name": "demo"},
    "spec": {
        "image": "locustio/locust:2.43.1",
        "master": {"command": "--locustfile /lotest/src/test.py"},
        "worker": {"command": "--locustfile /lotest/src/test.py", "replicas": 2},
    },
}


def with_fields(role: str, **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    obj["spec"][role].update(fields)
    return obj


def errors(obj: dict[str, Any]) -> dict[str, str]:
    return {e.field: e.message for e in validate(obj)}


def test_a_full_placement_is_valid() -> None:
    obj = with_fields(
        "worker",
        spread="nodes",
        scheduling={
            "nodeSelector": {"pool": "load"},
            "tolerations": [{"key": "load", "operator": "Exists"}],
            "priorityClassName": "load-generators",
            "topologySpreadConstraints": [
                {"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 1,
                 "whenUnsatisfiable": "ScheduleAnyway"}
            ],
        },
        podTemplatePatch={
            "metadata": {"labels": {"cost-centre": "perf"}},
            "spec": {
                "initContainers": [{"name": "warm-up", "image": "busybox"}],
                "containers": [{"name": "demo-worker", "env": [{"name": "A", "value": "1"}]}],
                "volumes": [{"name": "x", "$patch": "delete"}],
            },
        },
    )  # fmt: skip
    assert validate(obj) == []


def test_replacing_the_locust_command_is_rejected_naming_the_field() -> None:
    obj = with_fields(
        "worker",
        podTemplatePatch={"spec": {"containers": [{"name": "demo-worker", "command": ["sh"]}]}},
    )
    found = errors(obj)
    message = found["spec.worker.podTemplatePatch.spec.containers[0].command"]
    assert "managed by the operator" in message
    assert "spec.worker.command" in message


def test_the_locust_container_of_a_dotted_name_is_recognised() -> None:
    obj = with_fields(
        "master",
        podTemplatePatch={"spec": {"containers": [{"name": "my-test-master", "args": ["x"]}]}},
    )
    obj["metadata"]["name"] = "my.test"
    assert "spec.master.podTemplatePatch.spec.containers[0].args" in errors(obj)


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ([], "spec.worker.podTemplatePatch", "must be an object"),
        ({"kind": "Pod"}, "spec.worker.podTemplatePatch.kind", "only metadata"),
        ({"metadata": {"name": "x"}}, "spec.worker.podTemplatePatch.metadata.name", "labels"),
        (
            {"metadata": {"labels": {"performance-test-name": "other"}}},
            "spec.worker.podTemplatePatch.metadata.labels['performance-test-name']",
            "select",
        ),
        (
            {"spec": {"nodeSelectr": {}}},
            "spec.worker.podTemplatePatch.spec.nodeSelectr",
            "spelling",
        ),
        (
            {"spec": {"affinity": {}}},
            "spec.worker.podTemplatePatch.spec.affinity",
            "spec.worker.scheduling.affinity",
        ),
        (
            {"spec": {"priorityClassName": "x"}},
            "spec.worker.podTemplatePatch.spec.priorityClassName",
            "spec.worker.scheduling.priorityClassName",
        ),
        (
            {"spec": {"initContainers": [{"image": "busybox"}]}},
            "spec.worker.podTemplatePatch.spec.initContainers[0].name",
            "merged",
        ),
        (
            {"spec": {"volumes": [{"name": "a", "$patch": "replace"}]}},
            "spec.worker.podTemplatePatch.spec.volumes[0].$patch",
            "only '$patch: delete'",
        ),
        (
            {"spec": {"containers": [{"name": "side", "imagee": "x"}]}},
            "spec.worker.podTemplatePatch.spec.containers[0].imagee",
            "Container field",
        ),
        (
            {"spec": {"containers": [{"name": "side", "env": [{"value": "1"}]}]}},
            "spec.worker.podTemplatePatch.spec.containers[0].env[0].name",
            "merged",
        ),
        (
            {"spec": {"containers": [{"name": "demo-worker", "$patch": "delete"}]}},
            "spec.worker.podTemplatePatch.spec.containers[0].$patch",
            "cannot be deleted",
        ),
        (
            {"spec": {"initContainers": [{"name": "-", "image": "busybox"}]}},
            "spec.worker.podTemplatePatch.spec.initContainers[0].name",
            "DNS-1123 label",
        ),
        (
            {"spec": {"containers": [{"name": "Side_Car", "image": "busybox"}]}},
            "spec.worker.podTemplatePatch.spec.containers[0].name",
            "DNS-1123 label",
        ),
        (
            {"spec": {"ephemeralContainers": [{"name": "d" * 64, "image": "busybox"}]}},
            "spec.worker.podTemplatePatch.spec.ephemeralContainers[0].name",
            "at most 63",
        ),
        (
            {"spec": {"initContainers": [{"name": "demo-worker", "image": "busybox"}]}},
            "spec.worker.podTemplatePatch.spec.initContainers[0].name",
            "distinct names",
        ),
        (
            {"spec": {"containers": [{"name": "fetch-test-files", "image": "busybox"}]}},
            "spec.worker.podTemplatePatch.spec.containers[0].name",
            "taken in initContainers",
        ),
        (
            {
                "spec": {
                    "containers": [{"name": "side", "image": "busybox"}],
                    "initContainers": [{"name": "side", "image": "busybox"}],
                }
            },
            "spec.worker.podTemplatePatch.spec.initContainers[0].name",
            "taken in containers",
        ),
    ],
)
def test_bad_patches_are_rejected_naming_the_field(patch: Any, field: str, words: str) -> None:
    found = errors(with_fields("worker", podTemplatePatch=patch))
    assert field in found, found
    assert words in found[field]


def test_deleting_a_container_by_any_name_and_merging_into_the_exporter_are_fine() -> None:
    patch = {
        "spec": {
            "containers": [{"name": "No_Such", "$patch": "delete"}],
            "initContainers": [{"name": "locust-metrics-exporter", "resources": {}}],
        }
    }
    found = errors(with_fields("master", podTemplatePatch=patch))
    assert not [f for f in found if "podTemplatePatch" in f], found


def test_spread_and_an_explicit_constraint_on_the_same_topology_conflict() -> None:
    constraint = {
        "topologyKey": "kubernetes.io/hostname",
        "maxSkew": 2,
        "whenUnsatisfiable": "DoNotSchedule",
    }
    obj = with_fields(
        "worker", spread="nodes", scheduling={"topologySpreadConstraints": [constraint]}
    )
    found = errors(obj)
    assert (
        "remove this constraint or spread"
        in found["spec.worker.scheduling.topologySpreadConstraints[0]"]
    )


def test_an_unknown_spread_and_a_bad_priority_class_name() -> None:
    obj = with_fields("worker", spread="racks", scheduling={"priorityClassName": "Not_Valid"})
    found = errors(obj)
    assert "'nodes'" in found["spec.worker.spread"]
    assert "DNS-1123" in found["spec.worker.scheduling.priorityClassName"]


def test_a_v1_view_of_a_bad_patch_is_rejected_too() -> None:
    obj = with_fields("worker", podTemplatePatch={"spec": {"restartPolicy": "Always"}})
    v1 = convert_v2_to_v1(obj)
    assert "spec.worker.podTemplatePatch.spec.restartPolicy" in errors(v1)
