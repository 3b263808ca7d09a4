from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from locust_operator.api import crd as crd_module
from locust_operator.api.crd import (
    CRD_COPIES,
    generate_crd,
    render_crd_yaml,
    with_webhook_client_config,
)

from .manifests import REPO_ROOT
from .structural import schema_errors, walk


def versions() -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in generate_crd()["spec"]["versions"]}


def root_schema(version: str) -> dict[str, Any]:
    schema: dict[str, Any] = versions()[version]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("copy", CRD_COPIES)
def test_every_committed_copy_of_the_crd_is_up_to_date(copy: str) -> None:
    committed = (REPO_ROOT / copy).read_text(encoding="utf-8")
    assert committed == render_crd_yaml(), f"{copy} is stale; regenerate it with: make crd"


def test_rendering_is_deterministic_and_loads_back() -> None:
    text = render_crd_yaml()
    assert text == render_crd_yaml()
    assert yaml.safe_load(text) == generate_crd()


def test_names_scope_and_versions() -> None:
    spec = generate_crd()["spec"]
    assert generate_crd()["metadata"]["name"] == "locusttests.locust.io"
    assert spec["group"] == "locust.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "LocustTest",
        "listKind": "LocustTestList",
        "plural": "locusttests",
        "singular": "locusttest",
        "shortNames": ["lotest"],
    }
    v1, v2 = versions()["v1"], versions()["v2"]
    assert (v2["served"], v2["storage"], v2.get("deprecated", False)) == (True, True, False)
    assert (v1["served"], v1["storage"], v1["deprecated"]) == (True, False, True)
    assert v1["deprecationWarning"] == (
        "locust.io/v1 LocustTest is deprecated, migrate to locust.io/v2"
    )
    assert v1["subresources"] == v2["subresources"] == {"status": {}}
    assert root_schema("v1")["properties"]["status"] == root_schema("v2")["properties"]["status"]


def test_printer_columns() -> None:
    def columns(version: str) -> list[tuple[str, str, str, int]]:
        return [
            (c["name"], c["type"], c["jsonPath"], c.get("priority", 0))
            for c in versions()[version]["additionalPrinterColumns"]
        ]

    assert columns("v2") == [
        ("PHASE", "string", ".status.phase", 0),
        ("WORKERS", "integer", ".status.expectedWorkers", 0),  # not a later, ignored edit
        ("CONNECTED", "integer", ".status.connectedWorkers", 0),
        ("RPS", "number", ".status.results.currentRps", 0),
        ("FAILURES", "integer", ".status.results.failures", 0),
        ("IMAGE", "string", ".spec.image", 1),
        ("AGE", "date", ".metadata.creationTimestamp", 0),
    ]
    assert columns("v1") == [
        ("master_cmd", "string", ".spec.masterCommandSeed", 0),
        ("worker_replica_count", "integer", ".spec.workerReplicas", 0),
        ("Image", "string", ".spec.image", 0),
        ("Age", "date", ".metadata.creationTimestamp", 0),
    ]


def test_conversion_webhook_stanza() -> None:
    assert generate_crd()["spec"]["conversion"] == {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "service": {
                    "name": "locust-k8s-operator-webhook",
                    "namespace": "locust-operator-system",
                    "path": "/convert",
                    "port": 443,
                }
            },
        },
    }
    assert "conversion" not in generate_crd(conversion=None)["spec"]
    custom = {"strategy": "None"}
    assert generate_crd(conversion=custom)["spec"]["conversion"] == custom


def test_with_webhook_client_config() -> None:
    crd = generate_crd()
    config = {"url": "https://127.0.0.1:9443/convert", "caBundle": "Q0E="}
    patched = with_webhook_client_config(crd, config)
    webhook = patched["spec"]["conversion"]["webhook"]
    assert webhook["clientConfig"] == config
    assert webhook["conversionReviewVersions"] == ["v1"]
    assert patched["spec"]["conversion"]["strategy"] == "Webhook"
    assert crd == generate_crd()  # the input is untouched
    assert with_webhook_client_config(generate_crd(conversion=None), config) == patched


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_schema_is_structural(version: str) -> None:
    schema = root_schema(version)
    assert "$ref" not in json.dumps(schema)
    for path, node in walk(schema):
        if "<anyOf" in path:
            assert set(node) == {"type"}, path
            continue
        assert (
            "type" in node
            or node.get("x-kubernetes-int-or-string")
            or node.get("x-kubernetes-preserve-unknown-fields")
        ), f"{version}{path} has no type"
        if node.get("type") == "array":
            assert "items" in node, path
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string"), path
    # Root metadata may only restrict name and generateName and carry nothing else.
    assert schema["properties"]["metadata"] == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 253},
            "generateName": {"type": "string", "maxLength": 253},
        },
    }


# Per-role placement repeats spec.scheduling's Kubernetes types; their fields are documented
# there once, which keeps the CRD under what `kubectl apply` can record.
DOCUMENTED_IN_SPEC_SCHEDULING = tuple(
    f".spec.{role}.scheduling.{field}"
    for role in ("master", "worker")
    for field in ("affinity.", "tolerations[].", "topologySpreadConstraints[].")
)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_field_has_a_description(version: str) -> None:
    missing = [
        path
        for path, node in walk(root_schema(version))
        if path.rpartition(".")[2] not in ("", "metadata", "name", "generateName")
        and not path.endswith(("[]", "{}"))
        and "<anyOf" not in path
        and not node.get("description")
    ]
    # kubectl explain needs them; embedded Kubernetes fields included.
    undocumented = [
        p for p in missing if not p.startswith((".metadata", *DOCUMENTED_IN_SPEC_SCHEDULING))
    ]
    assert undocumented == []


def test_per_role_placement_fields_are_documented_in_spec_scheduling() -> None:
    spec = root_schema("v2")["properties"]["spec"]["properties"]
    for role in ("master", "worker"):
        scheduling = spec[role]["properties"]["scheduling"]["properties"]
        for field in ("affinity", "tolerations", "topologySpreadConstraints"):
            assert "same fields as there" in scheduling[field]["description"]
            # ...and there they are documented in full.
            assert spec["scheduling"]["properties"][field]["description"]


def test_explain_worker_fields() -> None:
    worker = root_schema("v2")["properties"]["spec"]["properties"]["worker"]
    assert worker["description"]
    assert set(worker["properties"]) == {
        "command", "replicas", "resources", "labels", "annotations", "extraArgs",
        "scheduling", "spread", "podTemplatePatch",
    }  # fmt: skip
    assert worker["required"] == ["command", "replicas"]
    replicas = worker["properties"]["replicas"]
    assert (replicas["minimum"], replicas["maximum"]) == (1, 500)


def test_v2_spec_defaults_and_enums() -> None:
    spec = root_schema("v2")["properties"]["spec"]
    props = spec["properties"]
    assert spec["required"] == ["image", "master", "worker"]
    assert props["imagePullPolicy"]["enum"] == ["Always", "IfNotPresent", "Never"]
    assert props["imagePullPolicy"]["default"] == "IfNotPresent"
    master = props["master"]["properties"]
    assert master["autostart"]["default"] is True
    assert master["autoquit"]["default"] == {}
    assert master["autoquit"]["properties"]["enabled"]["default"] is True
    assert master["autoquit"]["properties"]["timeout"] == {
        "description": master["autoquit"]["properties"]["timeout"]["description"],
        "type": "integer",
        "default": 60,
        "format": "int32",
        "minimum": 0,
    }
    test_files = props["testFiles"]["properties"]
    assert test_files["srcMountPath"]["default"] == "/lotest/src"
    assert test_files["libMountPath"]["default"] == "/opt/locust/lib"
    mounts = props["volumeMounts"]["items"]["properties"]
    assert mounts["target"]["enum"] == ["master", "worker", "both"]
    assert mounts["target"]["default"] == "both"
    assert {"name", "mountPath", "readOnly", "subPath"} <= set(mounts)
    secret_mount = props["env"]["properties"]["secretMounts"]["items"]
    assert secret_mount["properties"]["readOnly"]["default"] is True
    otel = props["observability"]["properties"]["openTelemetry"]["properties"]
    assert otel["protocol"]["enum"] == ["grpc", "http/protobuf"]
    assert (otel["protocol"]["default"], otel["enabled"]["default"]) == ("grpc", False)
    assert otel["insecure"]["default"] is False


def test_runtime_class_name_schema() -> None:
    scheduling = root_schema("v2")["properties"]["spec"]["properties"]["scheduling"]
    schema = scheduling["properties"]["runtimeClassName"]
    assert schema["maxLength"] == 253
    assert schema_errors("", schema) == []
    assert schema_errors("gvisor", schema) == []
    assert schema_errors("gVisor_Sandbox", schema) != []


def test_embedded_kubernetes_types_are_complete() -> None:
    props = root_schema("v2")["properties"]["spec"]["properties"]
    resources = props["master"]["properties"]["resources"]["properties"]
    quantity = resources["limits"]["additionalProperties"]
    assert quantity["x-kubernetes-int-or-string"] is True
    assert quantity["pattern"].startswith("^(\\+|-)?")
    volume = props["volumes"]["items"]
    assert volume["required"] == ["name"]
    assert {"configMap", "secret", "emptyDir", "persistentVolumeClaim", "csi"} <= set(
        volume["properties"]
    )
    scheduling = props["scheduling"]["properties"]
    affinity = scheduling["affinity"]["properties"]
    assert {"nodeAffinity", "podAffinity", "podAntiAffinity"} == set(affinity)
    assert scheduling["tolerations"]["items"]["properties"]["tolerationSeconds"]["type"] == (
        "integer"
    )
    env = props["env"]["properties"]["variables"]["items"]
    assert env["required"] == ["name"]
    security = props["security"]["properties"]
    assert "seccompProfile" in security["podSecurityContext"]["properties"]
    assert "capabilities" in security["containerSecurityContext"]["properties"]


def test_status_schema() -> None:
    status = root_schema("v2")["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == ["Pending", "Running", "Succeeded", "Failed"]
    for key in ("startTime", "completionTime"):
        assert status[key]["format"] == "date-time"
    for key in ("observedGeneration", "expectedWorkers", "connectedWorkers"):
        assert status[key]["type"] == "integer"
    conditions = status["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert set(item["properties"]) == {
        "type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"
    }  # fmt: skip
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert "type" in item["required"]  # list-map keys must be required


def test_v1_schema() -> None:
    spec = root_schema("v1")["properties"]["spec"]
    assert spec["required"] == ["image"]
    props = spec["properties"]
    assert set(props) == {
        "masterCommandSeed", "workerCommandSeed", "image", "workerReplicas", "imagePullPolicy",
        "imagePullSecrets", "configMap", "libConfigMap", "labels", "annotations", "affinity",
        "tolerations",
    }  # fmt: skip
    replicas = props["workerReplicas"]
    assert (replicas["minimum"], replicas["maximum"], replicas["default"]) == (1, 500, 1)
    assert props["imagePullSecrets"]["items"] == {"type": "string"}
    assert set(props["labels"]["properties"]) == {"master", "worker"}
    node_affinity = props["affinity"]["properties"]["nodeAffinity"]["properties"]
    assert node_affinity["requiredDuringSchedulingIgnoredDuringExecution"][
        "additionalProperties"
    ] == {"type": "string"}
    toleration = props["tolerations"]["items"]["properties"]
    assert toleration["operator"]["enum"] == ["Exists", "Equal"]
    assert toleration["effect"]["enum"] == ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def _rules(schema: dict[str, Any]) -> dict[str, list[str]]:
    return {
        path or "<root>": [r["rule"] for r in node["x-kubernetes-validations"]]
        for path, node in walk(schema)
        if "x-kubernetes-validations" in node
    }


def test_cel_rules_are_where_expected() -> None:
    rules = _rules(root_schema("v2"))
    assert set(rules) == {
        "<root>",
        ".spec",
        ".spec.master.extraArgs[]",
        ".spec.worker.extraArgs[]",
        ".spec.volumes[]",
        ".spec.observability.openTelemetry",
        ".spec.thresholds[]",
        ".spec.testFiles",
        ".spec.testFiles.git.url",
        ".spec.testFiles.git.subPath",
        ".spec.testFiles.archive.url",
        ".spec.testFiles.archive.sha256",
        ".spec.testFiles.archive.subPath",
        ".spec.testFiles.dependencies.requirementsFile",
    }
    assert any("has(self.max) != has(self.min)" in r for r in rules[".spec.thresholds[]"])
    assert any("size(self.metadata.name) <= 56" in r for r in rules["<root>"])
    assert any("self.metadata.name + '-master'" in r for r in rules["<root>"])
    assert any("self.volumes.exists" in r for r in rules[".spec"])
    assert sum("srcMountPath" in r for r in rules[".spec"]) == 2
    assert sum("libMountPath" in r for r in rules[".spec"]) == 2
    assert "expect-workers" in rules[".spec.worker.extraArgs[]"][0]
    assert any("self.metadata.name.matches('^[a-z]')" in r for r in rules["<root>"])
    assert _rules(root_schema("v1")) == {"<root>": rules["<root>"][:2]}
    for version in ("v1", "v2"):
        for path, node in walk(root_schema(version)):
            for rule in node.get("x-kubernetes-validations", []):
                assert rule["message"], path


def test_cel_inputs_are_bounded() -> None:
    # Without these bounds the apiserver rejects the CRD for exceeding the CEL cost budget.
    props = root_schema("v2")["properties"]["spec"]["properties"]
    assert props["volumes"]["maxItems"] == 128
    assert props["volumes"]["items"]["properties"]["name"]["maxLength"] == 63
    assert props["volumeMounts"]["maxItems"] == 128
    mount = props["volumeMounts"]["items"]["properties"]
    assert (mount["name"]["maxLength"], mount["mountPath"]["maxLength"]) == (63, 1024)
    secret_mounts = props["env"]["properties"]["secretMounts"]
    assert secret_mounts["maxItems"] == 64
    assert secret_mounts["items"]["properties"]["mountPath"]["maxLength"] == 1024
    for role in ("master", "worker"):
        extra = props[role]["properties"]["extraArgs"]
        assert (extra["maxItems"], extra["items"]["maxLength"]) == (128, 4096)
    test_files = props["testFiles"]["properties"]
    assert test_files["srcMountPath"]["maxLength"] == test_files["libMountPath"]["maxLength"]


def test_defaults_in_schema_are_valid_values() -> None:
    for version in ("v1", "v2"):
        for path, node in walk(root_schema(version)):
            if "default" in node:
                assert schema_errors(node["default"], node) == [], path


def test_crd_stays_below_client_side_apply_limit() -> None:
    # kubectl apply (client-side) stores the object in a 256 KiB annotation.
    assert len(json.dumps(generate_crd(), separators=(",", ":"))) < 256 * 1024


def test_module_exposes_file_location() -> None:
    assert crd_module.CRD_FILE == "config/crd/locust.io_locusttests.yaml"
