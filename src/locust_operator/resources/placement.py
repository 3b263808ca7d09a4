"""Where each role's pods go: the test-wide spec.scheduling with the role's scheduling merged
over it (rules in :mod:`locust_operator.api.placement`), gated by the operator's injection
switches, plus the workers' spread constraint."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from locust_operator.api import v2
from locust_operator.api.placement import (
    SPREAD_TOPOLOGY_KEYS,
    SPREAD_WHEN_UNSATISFIABLE,
    RoleScheduling,
)
from locust_operator.config import OperatorConfig, Role

from .labels import selector_labels
from .names import MASTER, WORKER
from .source import LocustTestSource

AFFINITY_KINDS = ("nodeAffinity", "podAffinity", "podAntiAffinity")


def runtime_class_name(source: LocustTestSource, config: OperatorConfig) -> str | None:
    """The CR's RuntimeClass, else the operator's default; '' in the CR opts out of it."""
    scheduling = source.spec.scheduling
    chosen = scheduling.runtime_class_name if scheduling else None
    if chosen is None:
        chosen = config.default_runtime_class_name
    return chosen or None


def merge_node_selectors(
    test: Mapping[str, str] | None, role: Mapping[str, str] | None
) -> dict[str, str] | None:
    """Key by key; the role's value wins."""
    merged = {**(test or {}), **(role or {})}
    return merged or None


def merge_tolerations(
    test: Sequence[Mapping[str, Any]] | None, role: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """The test-wide tolerations, then the role's; an exact duplicate is kept once."""
    merged: list[dict[str, Any]] = []
    for toleration in [*(test or ()), *(role or ())]:
        if toleration not in merged:
            merged.append(copy.deepcopy(dict(toleration)))
    return merged or None


def merge_affinity(
    test: Mapping[str, Any] | None, role: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Per kind: the role's nodeAffinity / podAffinity / podAntiAffinity replaces the test's."""
    merged = copy.deepcopy(dict(test or {}))
    for kind, value in (role or {}).items():
        merged[kind] = copy.deepcopy(value)
    return merged or None


def _constraint_key(constraint: Mapping[str, Any]) -> tuple[Any, Any]:
    return constraint.get("topologyKey"), constraint.get("whenUnsatisfiable")


def merge_spread_constraints(
    *layers: Sequence[Mapping[str, Any]] | None,
) -> list[dict[str, Any]] | None:
    """Each later layer's constraint replaces (in place) an earlier one with the same
    topologyKey and whenUnsatisfiable; the others are appended."""
    merged: list[dict[str, Any]] = []
    for layer in layers:
        for constraint in layer or ():
            item = copy.deepcopy(dict(constraint))
            keys = [_constraint_key(c) for c in merged]
            if _constraint_key(item) in keys:
                merged[keys.index(_constraint_key(item))] = item
            else:
                merged.append(item)
    return merged or None


def spread_constraint(test_name: str, spread: str) -> dict[str, Any]:
    """The workers of one test, at most one apart across the nodes (or zones) they may use.
    Nodes the workers' node selection or affinity exclude, or whose taints they do not
    tolerate, are not counted (Honor), or they would hold every domain's minimum at 0."""
    return {
        "topologyKey": SPREAD_TOPOLOGY_KEYS[spread],
        "maxSkew": 1,
        "whenUnsatisfiable": SPREAD_WHEN_UNSATISFIABLE,
        "labelSelector": {"matchLabels": selector_labels(test_name, WORKER)},
        "nodeAffinityPolicy": "Honor",
        "nodeTaintsPolicy": "Honor",
    }


def _role_scheduling(source: LocustTestSource, role: Role) -> RoleScheduling:
    role_spec = source.spec.master if role == MASTER else source.spec.worker
    return role_spec.scheduling or RoleScheduling()


def scheduling(source: LocustTestSource, config: OperatorConfig, role: Role) -> dict[str, Any]:
    """The pod spec's placement fields for a role. Affinity and tolerations only where the
    operator allows them (ENABLE_AFFINITY_CR_INJECTION, ENABLE_TAINT_TOLERATIONS_CR_INJECTION),
    at every level; the rest always."""
    test = source.spec.scheduling or v2.Scheduling()
    own = _role_scheduling(source, role)
    spread = None
    if role == WORKER and source.spec.worker.spread is not None:
        spread = [spread_constraint(source.name, source.spec.worker.spread)]
    placement: dict[str, Any] = {
        "nodeSelector": merge_node_selectors(test.node_selector, own.node_selector),
        "affinity": (
            merge_affinity(test.affinity, own.affinity)
            if config.enable_affinity_cr_injection
            else None
        ),
        "tolerations": (
            merge_tolerations(test.tolerations, own.tolerations)
            if config.enable_taint_tolerations_cr_injection
            else None
        ),
        "topologySpreadConstraints": merge_spread_constraints(
            test.topology_spread_constraints, own.topology_spread_constraints, spread
        ),
        "priorityClassName": own.priority_class_name or test.priority_class_name,
        "runtimeClassName": runtime_class_name(source, config),
    }
    return {key: value for key, value in placement.items() if value}
