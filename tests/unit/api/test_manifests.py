"""The reference operator's manifests against our generated schema and webhook validation."""

from __future__ import annotations

import pytest

from locust_operator.api.crd import generate_crd
from locust_operator.api.validation import validate

from . import manifests
from .structural import apply_schema_defaults, schema_errors

VALID = [n for n in manifests.reference_names() if "invalid" not in n]
INVALID = {
    "v2-locusttest-invalid.yaml": ("spec.worker.replicas", "between 1 and 500, got 0"),
    "v2-locusttest-invalid-runtimeclass.yaml": (
        "spec.scheduling.runtimeClassName",
        "'gVisor_Sandbox' is not a valid RuntimeClass name",
    ),
}


def _version_schema(api_version: str) -> dict[str, object]:
    version = api_version.rpartition("/")[2]
    (entry,) = [v for v in generate_crd()["spec"]["versions"] if v["name"] == version]
    schema = entry["schema"]["openAPIV3Schema"]
    assert isinstance(schema, dict)
    return schema


def test_corpus_is_complete_when_present() -> None:
    manifests.require_corpus()
    assert len(VALID) >= 15
    assert set(INVALID) <= set(manifests.reference_names())


@pytest.mark.parametrize("name", manifests.params(VALID))
def test_valid_manifest_passes_schema_and_webhook(name: str) -> None:
    obj = manifests.load(name)
    schema = _version_schema(obj["apiVersion"])
    # Strict: unknown fields count too (the apiserver would silently prune them).
    assert schema_errors(obj, schema) == []
    assert schema_errors(apply_schema_defaults(obj, schema), schema) == []
    assert validate(obj) == []


@pytest.mark.parametrize("name", manifests.params(sorted(INVALID)))
def test_invalid_manifest_is_rejected_with_a_clear_message(name: str) -> None:
    obj = manifests.load(name)
    field, text = INVALID[name]
    assert [e.field for e in validate(obj)] == [field]
    assert text in validate(obj)[0].message
    # The schema alone rejects it too (a cluster without the webhook).
    errors = schema_errors(obj, _version_schema(obj["apiVersion"]))
    assert len(errors) == 1 and errors[0].startswith(f"<root>.{field}:")
