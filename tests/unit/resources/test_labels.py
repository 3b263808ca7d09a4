from __future__ import annotations

from locust_operator.resources import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    OPERATOR_SELECTOR,
    POD_NAME_LABEL,
    ROLE_LABEL,
    TEST_NAME_LABEL,
)
from locust_operator.resources.labels import operator_labels, selector_labels

from .helpers import children, jobs, locust_test, pod_metadata, with_role


def expected_labels(name: str, role: str) -> dict[str, str]:
    return {
        "performance-test-name": name,
        "performance-test-pod-name": f"{name}-{role}",
        "locust-role": role,
        "managed-by": "locust-k8s-operator",
        "app": name,
        "app.kubernetes.io/name": "locust",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/part-of": name,
        "app.kubernetes.io/managed-by": "locust-k8s-operator",
    }


def test_public_label_constants() -> None:
    assert TEST_NAME_LABEL == "performance-test-name"
    assert POD_NAME_LABEL == "performance-test-pod-name"
    assert ROLE_LABEL == "locust-role"
    assert (MANAGED_BY_LABEL, MANAGED_BY) == ("managed-by", "locust-k8s-operator")
    assert OPERATOR_SELECTOR == {"managed-by": "locust-k8s-operator"}


def test_jobs_service_and_pods_carry_the_operator_labels() -> None:
    service, master, worker = children(locust_test())
    assert service["metadata"]["labels"] == expected_labels("demo", "master")
    for role, job in (("master", master), ("worker", worker)):
        assert job["metadata"]["labels"] == expected_labels("demo", role)
        assert pod_metadata(job)["labels"] == expected_labels("demo", role)


def test_every_child_matches_the_informer_selector() -> None:
    for child in children(locust_test()):
        assert OPERATOR_SELECTOR.items() <= child["metadata"]["labels"].items()
    for job in jobs(locust_test()).values():
        assert OPERATOR_SELECTOR.items() <= pod_metadata(job)["labels"].items()


def test_user_labels_are_added_to_their_roles_pods_and_job_only() -> None:
    test = with_role(locust_test(), "master", labels={"team": "perf"})
    with_role(test, "worker", labels={"tier": "load"})
    built = jobs(test)
    assert pod_metadata(built["master"])["labels"]["team"] == "perf"
    assert built["master"]["metadata"]["labels"]["team"] == "perf"
    assert "tier" not in pod_metadata(built["master"])["labels"]
    assert pod_metadata(built["worker"])["labels"]["tier"] == "load"
    assert "team" not in built["worker"]["metadata"]["labels"]
    service = children(test)[0]
    assert "team" not in service["metadata"]["labels"]


def test_user_labels_cannot_override_the_labels_selected_on() -> None:
    hostile = {key: "hijacked" for key in operator_labels("demo", "master")}
    test = with_role(locust_test(), "master", labels=hostile)
    with_role(test, "worker", labels=hostile)
    for role, job in jobs(test).items():
        labels = pod_metadata(job)["labels"]
        for key in (*selector_labels("demo", role), "app.kubernetes.io/managed-by"):
            assert labels[key] == expected_labels("demo", role)[key], key


def test_user_labels_win_over_descriptive_labels() -> None:
    """As in the reference: manifests set e.g. `app: locust-master` for their own use."""
    test = with_role(locust_test(), "master", labels={"app": "locust-master"})
    labels = pod_metadata(jobs(test)["master"])["labels"]
    assert labels["app"] == "locust-master"
    assert pod_metadata(jobs(test)["worker"])["labels"]["app"] == "demo"


def test_cr_metadata_labels_and_annotations_never_reach_children() -> None:
    test = locust_test()
    test["metadata"]["labels"] = {"environment": "production"}
    test["metadata"]["annotations"] = {
        "conversion.locust.io/v1-spec": "{}",
        "description": "from the CR",
    }
    for child in children(test):
        assert "environment" not in child["metadata"]["labels"]
        assert set(child["metadata"]["annotations"]) == {
            "locust.io/spec-generation",
            "locust.io/applied-spec",
        }
    for job in jobs(test).values():
        metadata = pod_metadata(job)
        assert "environment" not in metadata["labels"]
        assert not any(
            k.startswith("conversion.locust.io/") for k in metadata.get("annotations", {})
        )
        assert "description" not in metadata.get("annotations", {})


def test_user_annotations_on_pods_win_over_the_operators() -> None:
    test = with_role(
        locust_test(),
        "master",
        annotations={"prometheus.io/port": "8089", "team": "perf"},
    )
    with_role(test, "worker", annotations={"prometheus.io/scrape": "false"})
    built = jobs(test)
    master = pod_metadata(built["master"])["annotations"]
    assert master["prometheus.io/port"] == "8089"
    assert master["prometheus.io/scrape"] == "true"
    assert master["team"] == "perf"
    assert pod_metadata(built["worker"])["annotations"] == {"prometheus.io/scrape": "false"}
