"""No finalizer strands anything when no operator runs (issue 12, finding 10), on a
control plane of its own: a test an earlier version finalized loses the finalizer when the
operator starts (migration), new tests get none, the Deleting event still comes when a test
goes; then, with the operator stopped, a user deletes tests, their namespace and the CRD."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Event, Namespace

from localcluster import LocalCluster
from locust_operator.api.names import CRD_NAME
from tests.integration.test_recovery import body, children_exist, install, until
from tests.locusttests import LocustTestV2
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.cluster

NAMESPACE = "recovery"  # install() creates it
LEGACY = "locust.io/cleanup"


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path / "cluster", nodes=1)
    local.start()
    try:
        yield local
    finally:
        local.stop()


def gone(kube: Client, resource: type, name: str, namespace: str | None = None) -> bool:
    try:
        if namespace is None:
            kube.get(resource, name)
        else:
            kube.get(resource, name, namespace=namespace)
    except ApiError as error:
        return error.status.code == 404
    return False


def test_nothing_waits_for_an_operator_that_is_not_there(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    kube = install(own_cluster)
    legacy = body("legacy")
    legacy["metadata"]["finalizers"] = [LEGACY]  # type: ignore[index]
    kube.create(LocustTestV2(legacy), namespace=NAMESPACE)

    operator = OperatorProcess(kubeconfig=own_cluster.kubeconfig, log_path=tmp_path / "op.log")
    operator.start()
    try:
        operator.wait_for_log("controller started")
        until(
            lambda: (
                not kube.get(LocustTestV2, "legacy", namespace=NAMESPACE)["metadata"].get(
                    "finalizers"
                )
            ),
            "the earlier version's finalizer removed at startup",
        )
        kube.create(LocustTestV2(body("fresh")), namespace=NAMESPACE)
        until(lambda: children_exist(kube, "fresh"), "children of a new test")
        assert not kube.get(LocustTestV2, "fresh", namespace=NAMESPACE)["metadata"].get(
            "finalizers"
        )
        kube.delete(LocustTestV2, "fresh", namespace=NAMESPACE)

        def deleting_event() -> bool:
            events = kube.list(Event, namespace=NAMESPACE, fields={"involvedObject.name": "fresh"})
            return any(e.reason == "Deleting" for e in events)

        until(deleting_event, "the Deleting event of a deleted test")
        kube.create(LocustTestV2(body("left")), namespace=NAMESPACE)
        until(lambda: children_exist(kube, "left"), "children of the test left behind")
    finally:
        assert operator.stop() == 0, operator.log_tail()

    # No operator: a test, the namespace and the CRD go at once.
    started = time.monotonic()
    kube.delete(LocustTestV2, "legacy", namespace=NAMESPACE)
    until(lambda: gone(kube, LocustTestV2, "legacy", NAMESPACE), "the test deleted")
    kube.create(LocustTestV2(body("in-namespace")), namespace=NAMESPACE)
    kube.delete(Namespace, NAMESPACE)
    until(lambda: gone(kube, Namespace, NAMESPACE), "the namespace with its tests deleted")
    kube.create(Namespace(metadata=ObjectMeta(name="again")))
    kube.create(LocustTestV2({**body("x"), "metadata": {"name": "x"}}), namespace="again")
    kube.delete(CustomResourceDefinition, CRD_NAME)
    until(lambda: gone(kube, CustomResourceDefinition, CRD_NAME), "the CRD with its tests deleted")
    took = time.monotonic() - started
    print(f"\nwithout an operator: a test, its namespace and the CRD deleted in {took:.1f}s")
