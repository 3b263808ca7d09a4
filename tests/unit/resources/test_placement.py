"""Per-role placement: every merge rule of <role>.scheduling over spec.scheduling, the
injection switches at every level, and worker.spread."""

from __future__ import annotations

from typing import Any

from locust_operator.config import OperatorConfig
from locust_operator.resources.placement import (
    merge_affinity,
    merge_node_selectors,
    merge_spread_constraints,
    merge_tolerations,
)

from .helpers import jobs, locust_test, pod, with_role

SPOT = {"key": "spot", "operator": "Exists", "effect": "NoSchedule"}
LOAD = {"key": "dedicated", "operator": "Equal", "value": "load", "effect": "NoSchedule"}


def _node_affinity(zone: str) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": "zone", "operator": "In", "values": [zone]}]}
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}


POD_ANTI = {
    "preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}
    ]
}


def _hostname(when: str = "DoNotSchedule", skew: int = 1) -> dict[str, Any]:
    return {"topologyKey": "kubernetes.io/hostname", "maxSkew": skew, "whenUnsatisfiable": when}


def placed(test: dict[str, Any], config: OperatorConfig | None = None) -> dict[str, Any]:
    return {role: pod(job) for role, job in jobs(test, config).items()}


# --- the pure merge rules ------------------------------------------------------------------


def test_node_selectors_merge_key_by_key_and_the_role_wins() -> None:
    merged = merge_node_selectors({"pool": "default", "os": "linux"}, {"pool": "load"})
    assert merged == {"pool": "load", "os": "linux"}
    assert merge_node_selectors(None, None) is None


def test_tolerations_are_appended_and_exact_duplicates_kept_once() -> None:
    assert merge_tolerations([SPOT], [LOAD, SPOT]) == [SPOT, LOAD]
    assert merge_tolerations(None, [LOAD]) == [LOAD]
    assert merge_tolerations([], []) is None


def test_affinity_is_replaced_per_kind() -> None:
    test = {"nodeAffinity": _node_affinity("a"), "podAntiAffinity": POD_ANTI}
    merged = merge_affinity(test, {"nodeAffinity": _node_affinity("b")})
    assert merged == {"nodeAffinity": _node_affinity("b"), "podAntiAffinity": POD_ANTI}


def test_spread_constraints_are_replaced_by_topology_key_and_when_unsatisfiable() -> None:
    zone = {"topologyKey": "zone", "maxSkew": 2, "whenUnsatisfiable": "ScheduleAnyway"}
    merged = merge_spread_constraints(
        [_hostname(skew=3), zone], [_hostname(skew=1), _hostname("ScheduleAnyway")]
    )
    assert merged == [_hostname(skew=1), zone, _hostname("ScheduleAnyway")]


def test_merging_does_not_modify_or_share_its_inputs() -> None:
    test = [dict(SPOT)]
    merged = merge_tolerations(test, None)
    assert merged is not None
    merged[0]["key"] = "changed"
    assert test == [SPOT]


# --- in the built pods ------------------------------------------------------------------------


def test_each_role_gets_its_own_scheduling_over_the_test_wide_one() -> None:
    test = locust_test(
        scheduling={
            "nodeSelector": {"pool": "default", "os": "linux"},
            "tolerations": [SPOT],
            "affinity": {"podAntiAffinity": POD_ANTI},
            "priorityClassName": "normal",
        }
    )
    with_role(test, "master", scheduling={"nodeSelector": {"pool": "on-demand"}})
    with_role(
        test,
        "worker",
        scheduling={
            "nodeSelector": {"pool": "load"},
            "tolerations": [LOAD],
            "affinity": {"nodeAffinity": _node_affinity("b")},
            "priorityClassName": "load",
        },
    )
    pods = placed(test)
    assert pods["master"]["nodeSelector"] == {"pool": "on-demand", "os": "linux"}
    assert pods["master"]["tolerations"] == [SPOT]
    assert pods["master"]["affinity"] == {"podAntiAffinity": POD_ANTI}
    assert pods["master"]["priorityClassName"] == "normal"
    assert pods["worker"]["nodeSelector"] == {"pool": "load", "os": "linux"}
    assert pods["worker"]["tolerations"] == [SPOT, LOAD]
    assert pods["worker"]["affinity"] == {
        "podAntiAffinity": POD_ANTI,
        "nodeAffinity": _node_affinity("b"),
    }
    assert pods["worker"]["priorityClassName"] == "load"


def test_role_scheduling_without_test_wide_scheduling() -> None:
    test = with_role(locust_test(), "worker", scheduling={"tolerations": [LOAD]})
    pods = placed(test)
    assert pods["worker"]["tolerations"] == [LOAD]
    assert "tolerations" not in pods["master"]


def test_injection_switches_drop_affinity_and_tolerations_at_every_level() -> None:
    test = locust_test(
        scheduling={"tolerations": [SPOT], "affinity": {"podAntiAffinity": POD_ANTI}}
    )
    with_role(
        test,
        "worker",
        scheduling={
            "tolerations": [LOAD],
            "affinity": {"nodeAffinity": _node_affinity("b")},
            "nodeSelector": {"pool": "load"},
            "priorityClassName": "load",
        },
    )
    off = OperatorConfig(
        enable_affinity_cr_injection=False, enable_taint_tolerations_cr_injection=False
    )
    worker = placed(test, off)["worker"]
    assert "tolerations" not in worker
    assert "affinity" not in worker
    # The switches gate only what the reference gates.
    assert worker["nodeSelector"] == {"pool": "load"}
    assert worker["priorityClassName"] == "load"
    only_tolerations = OperatorConfig(enable_affinity_cr_injection=False)
    worker = placed(test, only_tolerations)["worker"]
    assert worker["tolerations"] == [SPOT, LOAD]
    assert "affinity" not in worker


def test_spread_nodes_is_a_hard_hostname_constraint_on_this_tests_workers() -> None:
    pods = placed(with_role(locust_test(), "worker", spread="nodes"))
    assert pods["worker"]["topologySpreadConstraints"] == [
        {
            "topologyKey": "kubernetes.io/hostname",
            "maxSkew": 1,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {
                "matchLabels": {
                    "performance-test-name": "demo",
                    "performance-test-pod-name": "demo-worker",
                    "locust-role": "worker",
                    "managed-by": "locust-k8s-operator",
                }
            },
            "nodeAffinityPolicy": "Honor",
            "nodeTaintsPolicy": "Honor",
        }
    ]
    assert "topologySpreadConstraints" not in pods["master"]


def test_spread_selects_labels_the_worker_pods_carry() -> None:
    test = with_role(locust_test(), "worker", spread="zones", labels={"locust-role": "x"})
    worker = jobs(test)["worker"]
    (constraint,) = pod(worker)["topologySpreadConstraints"]
    assert constraint["topologyKey"] == "topology.kubernetes.io/zone"
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert constraint["labelSelector"]["matchLabels"].items() <= labels.items()


def test_spread_replaces_the_test_wide_constraint_on_the_same_topology_for_workers() -> None:
    test = locust_test(scheduling={"topologySpreadConstraints": [_hostname(skew=5)]})
    pods = placed(with_role(test, "worker", spread="nodes"))
    (constraint,) = pods["worker"]["topologySpreadConstraints"]
    assert constraint["maxSkew"] == 1
    assert pods["master"]["topologySpreadConstraints"] == [_hostname(skew=5)]
