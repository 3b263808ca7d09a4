"""Owner references: only the controlling one counts."""

from __future__ import annotations

from typing import Any

from lightkube.resources.core_v1 import Pod

from locust_operator.kube.owners import (
    controller_name,
    controller_reference,
    controller_uid,
    is_controlled_by,
)


def pod(*refs: dict[str, Any]) -> Pod:
    return Pod.from_dict({"metadata": {"name": "p", "ownerReferences": list(refs)}})


def ref(kind: str, name: str, uid: str, *, controller: bool | None) -> dict[str, Any]:
    found: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "name": name, "uid": uid}
    if controller is not None:
        found["controller"] = controller
    return found


def test_the_controlling_reference_wins_over_other_owners() -> None:
    obj = pod(
        ref("ReplicaSet", "other", "u0", controller=None),
        ref("Job", "t-master", "u1", controller=False),
        ref("Job", "t-worker", "u2", controller=True),
    )
    found = controller_reference(obj)
    assert found is not None and found.name == "t-worker"
    assert controller_uid(obj) == "u2"
    assert controller_name(obj, "Job") == "t-worker"
    assert is_controlled_by(obj, "u2")
    assert not is_controlled_by(obj, "u1")


def test_owners_that_do_not_control_are_no_controller() -> None:
    obj = pod(ref("Job", "t-master", "u1", controller=False))
    assert controller_reference(obj) is None
    assert controller_uid(obj) is None
    assert controller_name(obj, "Job") is None
    assert controller_uid(Pod.from_dict({"metadata": {"name": "bare"}})) is None
    assert controller_uid(Pod()) is None


def test_a_controller_of_another_kind_is_not_named() -> None:
    assert controller_name(pod(ref("Job", "j", "u", controller=True)), "LocustTest") is None
