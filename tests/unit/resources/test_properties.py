"""Whole-builder properties: determinism, purity, and invariants over arbitrary LocustTests."""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import HealthCheck, given, settings

from locust_operator.api.validation import validate
from locust_operator.config import OperatorConfig
from locust_operator.resources import build_children
from locust_operator.resources.pod_patch import PodPatchError
from tests.unit.api.strategies import v2_objects

from .checks import check_operator_parts
from .helpers import UID, children, locust, locust_test

FULL = locust_test(
    testFiles={"configMapRef": "scripts", "libConfigMapRef": "lib"},
    env={
        "configMapRefs": [{"name": "cfg"}],
        "variables": [{"name": "A", "value": "1"}],
        "secretMounts": [{"name": "creds", "mountPath": "/creds"}],
    },
    volumes=[{"name": "data", "emptyDir": {}}],
    volumeMounts=[{"name": "data", "mountPath": "/data", "target": "worker"}],
    scheduling={"nodeSelector": {"a": "b"}, "tolerations": [{"operator": "Exists"}]},
    observability={
        "openTelemetry": {
            "enabled": True,
            "endpoint": "c:4317",
            "extraEnvVars": {"B": "2", "A2": "1"},
        }
    },
)


def test_building_twice_gives_identical_children() -> None:
    assert children(FULL) == children(copy.deepcopy(FULL))


def test_building_does_not_modify_the_input() -> None:
    before = copy.deepcopy(FULL)
    children(FULL)
    assert before == FULL


def test_children_do_not_share_mutable_state_with_the_input() -> None:
    test = copy.deepcopy(FULL)
    built = build_children(test, OperatorConfig())
    test["spec"]["env"]["variables"][0]["value"] = "changed"
    assert {"name": "A", "value": "1"} in locust(built.worker_job.to_dict())["env"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v2_objects())
def test_any_schema_valid_locust_test_builds_sound_children(obj: dict[str, Any]) -> None:
    # The CRD preserves any podTemplatePatch, so a schema-valid test may carry one the
    # apiserver would refuse in a pod (e.g. an init container named '-'): the builder then
    # refuses it, naming the patch's field, and so does the webhook; never an unsound child.
    obj["metadata"].update(uid=UID, generation=2)
    try:
        first = children(obj)
    except PodPatchError as refused:
        field = str(refused).partition(": ")[0]
        assert re.match(r"spec\.(master|worker)\.podTemplatePatch\.", field), refused
        assert field in {e.field for e in validate(obj)}, refused
        return
    assert first == children(copy.deepcopy(obj))
    _, master, worker = first
    name = obj["metadata"]["name"]
    user_volumes = frozenset(v.get("name") for v in obj["spec"].get("volumes", []))
    check_operator_parts(name, "master", master, user_volumes)
    check_operator_parts(name, "worker", worker, user_volumes)
    assert worker["spec"]["parallelism"] == obj["spec"]["worker"]["replicas"]
