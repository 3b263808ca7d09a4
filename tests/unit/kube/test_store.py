from __future__ import annotations

from typing import Any

import pytest
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod

from locust_operator.kube.informer import Store

TEST_LABEL = "performance-test-name"
Gadget = create_namespaced_resource("informer.test.locust.io", "v1", "Gadget", "gadgets")


def pod(namespace: str, name: str, version: str = "1", **labels: str) -> Pod:
    meta = ObjectMeta(namespace=namespace, name=name, resourceVersion=version, labels=labels)
    return Pod(metadata=meta)


def names(objects: list[Any]) -> set[str]:
    return {o.metadata.name for o in objects}


def test_get_and_list_by_namespace() -> None:
    store: Store[Pod] = Store()
    for namespace, name in [("a", "p1"), ("a", "p2"), ("b", "p1")]:
        store.put(pod(namespace, name))
    assert len(store) == 3
    found = store.get("b", "p1")
    assert found is not None and found.metadata and found.metadata.namespace == "b"
    assert store.get("b", "p2") is None
    assert names(store.list("a")) == {"p1", "p2"}
    assert store.list("c") == []
    assert len(store.list()) == 3
    assert sorted(store.keys()) == [("a", "p1"), ("a", "p2"), ("b", "p1")]


def test_put_returns_the_replaced_object_and_remove_the_removed_one() -> None:
    store: Store[Pod] = Store()
    first = pod("a", "p", "1")
    assert store.put(first) is None
    assert store.put(pod("a", "p", "2")) is first
    removed = store.remove("a", "p")
    assert removed is not None and removed.metadata and removed.metadata.resourceVersion == "2"
    assert store.remove("a", "p") is None
    assert len(store) == 0


def test_by_label_finds_the_tests_pods_in_a_namespace_or_all() -> None:
    store: Store[Pod] = Store(index_labels=[TEST_LABEL])
    store.put(pod("a", "x-master", **{TEST_LABEL: "x"}))
    store.put(pod("a", "x-worker", **{TEST_LABEL: "x"}))
    store.put(pod("a", "y-master", **{TEST_LABEL: "y"}))
    store.put(pod("b", "x-master", **{TEST_LABEL: "x"}))
    store.put(pod("a", "unlabelled"))
    assert names(store.by_label(TEST_LABEL, "x", "a")) == {"x-master", "x-worker"}
    assert len(store.by_label(TEST_LABEL, "x")) == 3
    assert store.by_label(TEST_LABEL, "x", "c") == []
    assert store.by_label(TEST_LABEL, "z", "a") == []


def test_the_index_follows_label_changes_and_removals() -> None:
    store: Store[Pod] = Store(index_labels=[TEST_LABEL])
    store.put(pod("a", "p", "1", **{TEST_LABEL: "x"}))
    store.put(pod("a", "p", "2", **{TEST_LABEL: "y"}))
    assert store.by_label(TEST_LABEL, "x", "a") == []
    assert names(store.by_label(TEST_LABEL, "y", "a")) == {"p"}
    store.put(pod("a", "p", "3"))
    assert store.by_label(TEST_LABEL, "y") == []
    store.put(pod("a", "p", "4", **{TEST_LABEL: "y"}))
    store.remove("a", "p")
    assert store.by_label(TEST_LABEL, "y") == []
    assert store._label_index == {TEST_LABEL: {}}  # no empty buckets left behind


def test_by_label_on_an_unindexed_label_is_an_error_not_a_scan() -> None:
    store: Store[Pod] = Store(index_labels=[TEST_LABEL])
    with pytest.raises(KeyError, match="not indexed"):
        store.by_label("app", "x")


def test_replace_reports_what_changed() -> None:
    store: Store[Pod] = Store(index_labels=[TEST_LABEL])
    store.put(pod("a", "kept", "1"))
    store.put(pod("a", "changed", "1", **{TEST_LABEL: "x"}))
    store.put(pod("a", "gone", "1", **{TEST_LABEL: "x"}))
    changes = store.replace([pod("a", "kept", "1"), pod("a", "changed", "2"), pod("b", "new", "5")])
    summary = {(event, o.metadata.namespace, o.metadata.name) for event, o in changes}
    assert summary == {
        ("DELETED", "a", "gone"),
        ("MODIFIED", "a", "changed"),
        ("ADDED", "b", "new"),
    }
    assert sorted(store.keys()) == [("a", "changed"), ("a", "kept"), ("b", "new")]
    assert store.by_label(TEST_LABEL, "x") == []  # the index follows replace too


def test_generic_resources_are_stored_by_their_metadata() -> None:
    store: Any = Store(index_labels=[TEST_LABEL])
    gadget = Gadget(
        {"metadata": {"namespace": "a", "name": "g", "labels": {TEST_LABEL: "x"}}, "spec": {}}
    )
    store.put(gadget)
    assert store.get("a", "g") is gadget
    assert store.by_label(TEST_LABEL, "x", "a") == [gadget]


def test_cluster_scoped_objects_live_under_the_empty_namespace() -> None:
    store: Store[Pod] = Store()
    store.put(Pod(metadata=ObjectMeta(name="node-like")))
    assert store.get("", "node-like") is not None
