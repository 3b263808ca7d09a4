"""The per-role pod template patch: every strategic merge rule, and the managed fields it
cannot touch (refused by the builder too, naming the field)."""

from __future__ import annotations

from typing import Any

import pytest

from locust_operator.api.placement import PROTECTED_POD_LABELS
from locust_operator.resources.labels import MANAGED_BY, selector_labels
from locust_operator.resources.pod_patch import (
    PodPatchError,
    apply_pod_template_patch,
    strategic_merge,
)

from .helpers import jobs, locust, locust_test, pod, pod_metadata, with_role

INIT = {"name": "warm-up", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}


def patched(role: str, patch: dict[str, Any], **spec: Any) -> dict[str, dict[str, Any]]:
    return jobs(with_role(locust_test(**spec), role, podTemplatePatch=patch))


# --- merge rules on plain data -----------------------------------------------------------------


def test_maps_merge_recursively_and_null_removes_a_key() -> None:
    base = {"securityContext": {"runAsUser": 1, "fsGroup": 2}, "dnsPolicy": "ClusterFirst"}
    patch = {"securityContext": {"runAsUser": 3, "fsGroup": None}, "dnsPolicy": None}
    assert strategic_merge(base, patch, "PodSpec") == {"securityContext": {"runAsUser": 3}}


def test_lists_without_a_merge_key_are_replaced() -> None:
    base = {"readinessGates": [{"conditionType": "a"}], "dnsConfig": {"nameservers": ["1.1.1.1"]}}
    patch = {"readinessGates": [{"conditionType": "b"}], "dnsConfig": {"nameservers": ["8.8.8.8"]}}
    assert strategic_merge(base, patch, "PodSpec") == patch


def test_containers_merge_by_name_in_place_and_new_ones_are_appended() -> None:
    base = {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}
    patch = {"containers": [{"name": "c", "image": "z"}, {"name": "a", "image": "x2"}]}
    assert strategic_merge(base, patch, "PodSpec")["containers"] == [
        {"name": "a", "image": "x2"},
        {"name": "b", "image": "y"},
        {"name": "c", "image": "z"},
    ]


@pytest.mark.parametrize(
    ("field", "key", "old", "new"),
    [
        ("env", "name", {"name": "A", "value": "1"}, {"name": "A", "value": "2"}),
        (
            "volumeMounts",
            "mountPath",
            {"name": "v", "mountPath": "/d"},
            {"name": "w", "mountPath": "/d"},
        ),
        (
            "ports",
            "containerPort",
            {"containerPort": 80, "name": "h"},
            {"containerPort": 80, "name": "web"},
        ),
        (
            "volumeDevices",
            "devicePath",
            {"name": "v", "devicePath": "/dev/x"},
            {"name": "w", "devicePath": "/dev/x"},
        ),
    ],
)
def test_container_lists_merge_by_their_key(
    field: str, key: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    other = {**old, key: 9999 if isinstance(old[key], int) else "/other"}
    base = {"containers": [{"name": "c", field: [old, other]}]}
    merged = strategic_merge(base, {"containers": [{"name": "c", field: [new]}]}, "PodSpec")
    assert merged["containers"][0][field] == [new, other]


@pytest.mark.parametrize(
    ("field", "item"),
    [
        ("volumes", {"name": "data", "emptyDir": {}}),
        ("initContainers", {"name": "init", "image": "x"}),
        ("ephemeralContainers", {"name": "debug", "image": "x"}),
        ("imagePullSecrets", {"name": "registry"}),
        ("hostAliases", {"ip": "10.0.0.1", "hostnames": ["a"]}),
        ("schedulingGates", {"name": "gate"}),
    ],
)
def test_pod_lists_merge_by_their_key(field: str, item: dict[str, Any]) -> None:
    key = "ip" if field == "hostAliases" else "name"
    existing = {**item, key: "10.9.9.9" if key == "ip" else "existing"}
    merged = strategic_merge({field: [existing]}, {field: [item]}, "PodSpec")
    assert merged[field] == [existing, item]
    changed = {key: item[key], "marker": True}
    assert strategic_merge({field: [item]}, {field: [changed]}, "PodSpec")[field] == [
        {**item, "marker": True}
    ]


def test_patch_delete_removes_the_item_with_that_key() -> None:
    base = {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]}
    patch = {"volumes": [{"name": "a", "$patch": "delete"}, {"name": "gone", "$patch": "delete"}]}
    assert strategic_merge(base, patch, "PodSpec") == {"volumes": [{"name": "b", "emptyDir": {}}]}


def test_directives_and_nulls_are_never_stored() -> None:
    merged = strategic_merge({}, {"volumes": [{"name": "a", "emptyDir": None, "$x": 1}]}, "PodSpec")
    assert merged == {"volumes": [{"name": "a"}]}


def test_merging_does_not_modify_its_inputs() -> None:
    base = {"containers": [{"name": "a", "env": [{"name": "A", "value": "1"}]}]}
    patch = {"containers": [{"name": "a", "env": [{"name": "A", "value": "2"}]}]}
    strategic_merge(base, patch, "PodSpec")
    assert base["containers"][0]["env"] == [{"name": "A", "value": "1"}]


# --- in the built pods ------------------------------------------------------------------------


def test_an_init_container_patched_into_the_workers_only() -> None:
    built = patched("worker", {"spec": {"initContainers": [INIT]}})
    assert pod(built["worker"])["initContainers"] == [INIT]
    assert all(c["name"] != "warm-up" for c in pod(built["master"]).get("initContainers", []))


def test_the_master_patch_merges_with_the_exporter_sidecar() -> None:
    resources = {"limits": {"memory": "64Mi"}}
    patch = {
        "spec": {
            "initContainers": [INIT, {"name": "locust-metrics-exporter", "resources": resources}]
        }
    }
    init = pod(patched("master", patch)["master"])["initContainers"]
    assert [c["name"] for c in init] == ["locust-metrics-exporter", "warm-up"]
    # Maps merge: the limit given replaces the operator's, the others stay.
    assert init[0]["resources"]["limits"]["memory"] == "64Mi"
    assert "cpu" in init[0]["resources"]["limits"]
    assert init[0]["restartPolicy"] == "Always"  # the rest of the sidecar is kept


def test_the_locust_container_takes_env_mounts_and_resources_from_the_patch() -> None:
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "demo-worker",
                    "env": [{"name": "EXTRA", "value": "1"}],
                    "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                    "workingDir": "/tmp",
                }
            ],
            "volumes": [{"name": "cache", "emptyDir": {}}],
            "hostAliases": [{"ip": "10.0.0.9", "hostnames": ["target.local"]}],
            "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]},
        }
    }
    worker = patched("worker", patch)["worker"]
    container = locust(worker)
    assert {"name": "EXTRA", "value": "1"} in container["env"]
    assert {"name": "cache", "mountPath": "/cache"} in container["volumeMounts"]
    assert {"name": "demo-worker", "mountPath": "/lotest/src"}.items() <= container["volumeMounts"][
        0
    ].items()
    assert container["workingDir"] == "/tmp"
    assert container["args"][0] == "--locustfile"  # the operator's args are untouched
    spec = pod(worker)
    assert {"name": "cache", "emptyDir": {}} in spec["volumes"]
    assert spec["hostAliases"] == [{"ip": "10.0.0.9", "hostnames": ["target.local"]}]
    assert spec["dnsConfig"] == {"options": [{"name": "ndots", "value": "1"}]}


def test_patch_labels_and_annotations_are_added() -> None:
    patch = {"metadata": {"labels": {"cost": "load"}, "annotations": {"a": "b"}}}
    metadata = pod_metadata(patched("worker", patch)["worker"])
    assert metadata["labels"]["cost"] == "load"
    assert metadata["annotations"] == {"a": "b"}
    assert metadata["labels"].items() >= selector_labels("demo", "worker").items()


def test_protected_labels_are_those_pod_labels_keeps() -> None:
    expected = {*selector_labels("demo", "worker"), "app.kubernetes.io/managed-by"}
    assert set(PROTECTED_POD_LABELS) == expected
    assert MANAGED_BY == "locust-k8s-operator"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        (
            {"spec": {"containers": [{"name": "demo-worker", "command": ["sh"]}]}},
            "spec.worker.podTemplatePatch.spec.containers[0].command",
        ),
        (
            {"spec": {"containers": [{"name": "demo-worker", "args": ["--help"]}]}},
            "spec.worker.podTemplatePatch.spec.containers[0].args",
        ),
        (
            {"spec": {"containers": [{"name": "demo-worker", "$patch": "delete"}]}},
            "spec.worker.podTemplatePatch.spec.containers[0].$patch",
        ),
        (
            {"metadata": {"labels": {"locust-role": "master"}}},
            "spec.worker.podTemplatePatch.metadata.labels['locust-role']",
        ),
        ({"spec": {"restartPolicy": "Always"}}, "spec.worker.podTemplatePatch.spec.restartPolicy"),
        (
            {"spec": {"tolerations": [{"operator": "Exists"}]}},
            "spec.worker.podTemplatePatch.spec.tolerations",
        ),
        ({"spec": {"nodeName": "n1"}}, "spec.worker.podTemplatePatch.spec.nodeName"),
    ],
)
def test_the_builder_refuses_a_patch_of_managed_fields(patch: dict[str, Any], field: str) -> None:
    with pytest.raises(PodPatchError) as raised:
        patched("worker", patch)
    assert str(raised.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        (
            {"spec": {"initContainers": [{"name": "-", "image": "busybox:1.36"}]}},
            "spec.worker.podTemplatePatch.spec.initContainers[0].name",
            "DNS-1123 label",
        ),
        (
            {"spec": {"initContainers": [{"name": "demo-worker", "image": "busybox:1.36"}]}},
            "spec.worker.podTemplatePatch.spec.initContainers[0].name",
            "distinct names",
        ),
    ],
)
def test_the_builder_refuses_a_container_the_apiserver_would_refuse(
    patch: dict[str, Any], field: str, words: str
) -> None:
    # The CRD keeps any patch (x-kubernetes-preserve-unknown-fields): a test that never met
    # the webhook gets a clear refusal, not a Job the apiserver rejects.
    with pytest.raises(PodPatchError) as raised:
        patched("worker", patch)
    assert str(raised.value).startswith(f"{field}: ")
    assert words in str(raised.value)


def test_the_builder_checks_the_merged_pod_for_duplicate_container_names() -> None:
    # The final check sees the pod as merged, whatever let a duplicate through.
    template = {"spec": {"initContainers": [{"name": "prep"}], "containers": [{"name": "main"}]}}
    with pytest.raises(PodPatchError) as raised:
        apply_pod_template_patch(
            template,
            {"spec": {"containers": [{"name": "prep", "image": "busybox:1.36"}]}},
            field="spec.worker.podTemplatePatch",
            role="worker",
            locust_container="main",
        )
    assert str(raised.value).startswith(
        "spec.worker.podTemplatePatch.spec.initContainers[0].name: "
    )
    assert "'prep' (containers[1] and initContainers[0])" in str(raised.value)


def test_a_command_on_another_container_is_fine() -> None:
    built = patched("worker", {"spec": {"initContainers": [INIT]}})
    assert pod(built["worker"])["initContainers"][0]["command"] == ["sh", "-c", "true"]
