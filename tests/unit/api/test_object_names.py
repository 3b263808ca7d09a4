"""Names a spec carries are the Kubernetes names they stand for, at admission (issue 12,
finding 4): a path like ../../kube-system/configmaps/x is no ConfigMap name."""

from __future__ import annotations

from typing import Any

import pytest

from locust_operator.api.object_names import object_name_errors
from locust_operator.api.validation import validate
from tests.unit.resources.helpers import locust_test

TRAVERSAL = "../../kube-system/configmaps/coredns"


def fields(spec: dict[str, Any]) -> list[str]:
    return [field for field, _ in object_name_errors(spec)]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"testFiles": {"configMapRef": TRAVERSAL}}, "spec.testFiles.configMapRef"),
        ({"testFiles": {"libConfigMapRef": "Lib"}}, "spec.testFiles.libConfigMapRef"),
        ({"env": {"configMapRefs": [{"name": "a/b"}]}}, "spec.env.configMapRefs[0].name"),
        ({"env": {"secretRefs": [{"name": ".."}]}}, "spec.env.secretRefs[0].name"),
        (
            {"env": {"secretMounts": [{"name": "x%2F", "mountPath": "/s"}]}},
            "spec.env.secretMounts[0].name",
        ),
        ({"imagePullSecrets": [{"name": "../x"}]}, "spec.imagePullSecrets[0].name"),
        ({"volumes": [{"name": "Data.1", "emptyDir": {}}]}, "spec.volumes[0].name"),
    ],
)
def test_each_name_is_checked_as_what_it_names(spec: dict[str, Any], field: str) -> None:
    assert fields(spec) == [field]
    test = locust_test(**spec)
    errors = [e for e in validate(test) if e.field == field]
    assert errors, validate(test)
    assert "not a valid" in errors[0].message


def test_the_message_names_the_value_and_the_rule() -> None:
    [(field, message)] = object_name_errors({"testFiles": {"configMapRef": TRAVERSAL}})
    assert field == "spec.testFiles.configMapRef"
    assert TRAVERSAL in message and "DNS-1123 subdomain" in message


def test_valid_names_pass() -> None:
    spec = {
        "testFiles": {"configMapRef": "scripts.v2", "libConfigMapRef": "lib"},
        "env": {
            "configMapRefs": [{"name": "cfg"}],
            "secretRefs": [{"name": "creds"}],
            "secretMounts": [{"name": "tls", "mountPath": "/tls"}],
        },
        "imagePullSecrets": [{"name": "registry"}],
        "volumes": [{"name": "data", "emptyDir": {}}],
    }
    assert fields(spec) == []


def test_a_v1_object_is_checked_as_its_v2_form() -> None:
    v1 = {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": "t", "namespace": "n"},
        "spec": {
            "masterCommandSeed": "--locustfile /lotest/src/t.py",
            "workerCommandSeed": "--locustfile /lotest/src/t.py",
            "workerReplicas": 1,
            "image": "locustio/locust",
            "configMap": TRAVERSAL,
        },
    }
    assert any(TRAVERSAL in e.message for e in validate(v1))
