"""Per-role placement and the per-role pod template patch: their API types and the rules the
webhook (and the builders, which never trust what they are given) check them against.

Merge rules (role-specific ``<role>.scheduling`` over the test-wide ``spec.scheduling``):

* ``nodeSelector``: merged key by key; the role's value wins for a key both set.
* ``tolerations``: the test-wide ones, then the role's; an exact duplicate is kept once.
  (A toleration only permits, so adding is safe; a role cannot remove a test-wide one.)
* ``affinity``: per kind: the role's ``nodeAffinity``, ``podAffinity`` or
  ``podAntiAffinity`` replaces the test-wide one of the same kind; other kinds are kept.
* ``topologySpreadConstraints``: keyed by ``topologyKey`` and ``whenUnsatisfiable`` (the keys
  Kubernetes itself requires to be unique): the role's constraint replaces the test-wide one
  with the same keys; the others are all kept, test-wide first.
* ``priorityClassName``: the role's, else the test-wide one.

``worker.spread`` then adds (or replaces, for the workers, the test-wide one with the same
keys) the constraint of :func:`spread_constraint`. The pod template patch is applied last.
"""

from __future__ import annotations

# prop() returns dataclasses.field(...), which ruff cannot tell.
# ruff: noqa: RUF009
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec.structs
from lightkube.models import core_v1

from .dns_names import (
    DNS1123_SUBDOMAIN_PATTERN,
    MAX_LABEL_LENGTH,
    MAX_SUBDOMAIN_LENGTH,
    is_dns1123_label,
)
from .schema import K8sObject, prop

Spread = Literal["nodes", "zones"]
SPREAD_TOPOLOGY_KEYS: Final[Mapping[str, str]] = {
    "nodes": "kubernetes.io/hostname",
    "zones": "topology.kubernetes.io/zone",
}
# A hard constraint: the default scheduler already spreads softly (ScheduleAnyway); asking
# for a spread means wanting it. A pod that cannot be placed stays Pending, which the test
# reports (PodsHealthy=False, SchedulingError) instead of silently sharing a node.
SPREAD_WHEN_UNSATISFIABLE: Final = "DoNotSchedule"
MAX_TOPOLOGY_SPREAD_CONSTRAINTS = 8
PRIORITY_CLASS_NAME_PATTERN: Final = DNS1123_SUBDOMAIN_PATTERN

# The pod labels the operator, its Service and users' `kubectl -l` select on (kept equal to
# resources.labels.pod_labels' protected set; a unit test checks it).
PROTECTED_POD_LABELS: Final = (
    "performance-test-name",
    "performance-test-pod-name",
    "locust-role",
    "managed-by",
    "app.kubernetes.io/managed-by",
)


def priority_class_prop(who: str) -> Any:
    return prop(
        f"PriorityClass of {who} (an existing PriorityClass; the webhook rejects one that "
        "does not exist).",
        max_length=MAX_SUBDOMAIN_LENGTH,
        pattern=PRIORITY_CLASS_NAME_PATTERN,
    )


def spread_constraints_prop(who: str, *, nested_descriptions: bool = True) -> Any:
    return prop(
        f"Topology spread constraints of {who}. Their labelSelector must select the pods "
        "to spread, e.g. on the label performance-test-pod-name=<name>-worker.",
        k8s=core_v1.TopologySpreadConstraint,
        max_items=MAX_TOPOLOGY_SPREAD_CONSTRAINTS,
        nested_descriptions=nested_descriptions,
    )


@dataclass(kw_only=True)
class RoleScheduling:
    """Pod placement of one role, merged over the test-wide spec.scheduling field by field:
    nodeSelector key by key, tolerations appended (exact duplicates once), affinity per kind
    (nodeAffinity, podAffinity, podAntiAffinity) replaced, topologySpreadConstraints replaced
    per topologyKey and whenUnsatisfiable, priorityClassName replaced. The operator's
    ENABLE_AFFINITY_CR_INJECTION and ENABLE_TAINT_TOLERATIONS_CR_INJECTION switches apply to
    these affinities and tolerations too."""

    node_selector: dict[str, str] | None = prop(
        "Node labels this role's pods must be scheduled on, merged key by key over "
        "spec.scheduling.nodeSelector (this role's value wins)."
    )
    tolerations: list[K8sObject] | None = prop(
        "Tolerations of this role's pods, added to spec.scheduling.tolerations (same "
        "fields as there).",
        k8s=core_v1.Toleration,
        nested_descriptions=False,
    )
    affinity: K8sObject | None = prop(
        "Affinity of this role's pods: each kind given (nodeAffinity, podAffinity, "
        "podAntiAffinity) replaces that kind of spec.scheduling.affinity (same fields as "
        "there).",
        k8s=core_v1.Affinity,
        nested_descriptions=False,
    )
    topology_spread_constraints: list[K8sObject] | None = spread_constraints_prop(
        "this role's pods, replacing spec.scheduling's constraint with the same topologyKey "
        "and whenUnsatisfiable (same fields as there)",
        nested_descriptions=False,
    )
    priority_class_name: str | None = priority_class_prop(
        "this role's pods, replacing spec.scheduling.priorityClassName"
    )


def pod_template_patch_prop(role: str) -> Any:
    return prop(
        f"A strategic merge patch (as kubectl and kustomize apply) of the {role} pod "
        "template, applied after everything else: {metadata: {labels, annotations}, spec: "
        "{...}}. Lists merge by their Kubernetes merge key (containers, initContainers, "
        "ephemeralContainers, volumes, imagePullSecrets, env by name; volumeMounts by "
        "mountPath; ports by containerPort; hostAliases by ip); an item with '$patch: delete' "
        "removes the item with its key; null removes a field; other lists are replaced. It "
        "cannot change what the operator manages: the Locust container's command and args, "
        "the labels selected on, restartPolicy, or the placement fields, which have their own "
        f"API in spec.{role}.scheduling.",
        schema_override={
            "description": (
                f"Strategic merge patch of the {role} pod template (metadata.labels, "
                "metadata.annotations, spec), applied last. Lists merge by their Kubernetes "
                "merge key; '$patch: delete' removes a list item; null removes a field. The "
                "Locust container's command and args, the selected-on labels, restartPolicy "
                "and the placement fields cannot be set."
            ),
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        },
    )


# --- strategic merge: the merge keys of the pod template's lists -------------------------------


@dataclass(frozen=True)
class MergeList:
    """A list merged item by item on ``key``; ``item`` names the type of its items (for the
    lists inside them)."""

    key: str
    item: str | None = None


# Kubernetes' patchMergeKey tags of PodSpec and Container (lists without one are replaced).
MERGE_LISTS: Final[Mapping[str, Mapping[str, MergeList]]] = {
    "PodSpec": {
        "containers": MergeList("name", "Container"),
        "initContainers": MergeList("name", "Container"),
        "ephemeralContainers": MergeList("name", "Container"),
        "volumes": MergeList("name"),
        "imagePullSecrets": MergeList("name"),
        "hostAliases": MergeList("ip"),
        "resourceClaims": MergeList("name"),
        "schedulingGates": MergeList("name"),
    },
    "Container": {
        "env": MergeList("name"),
        "volumeMounts": MergeList("mountPath"),
        "ports": MergeList("containerPort"),
        "volumeDevices": MergeList("devicePath"),
        "resizePolicy": MergeList("resourceName"),
    },
}
PATCH_DIRECTIVE = "$patch"
DELETE = "delete"

# Pod spec fields a patch may not set, and what to use instead.
MANAGED_POD_SPEC_FIELDS: Final[Mapping[str, str]] = {
    "restartPolicy": "the operator runs every pod once (restartPolicy: Never; a rerun is a new "
    "test)",
    "nodeSelector": "use spec.{role}.scheduling.nodeSelector",
    "tolerations": "use spec.{role}.scheduling.tolerations",
    "affinity": "use spec.{role}.scheduling.affinity",
    "topologySpreadConstraints": "use spec.{role}.scheduling.topologySpreadConstraints"
    " (or spec.worker.spread)",
    "priorityClassName": "use spec.{role}.scheduling.priorityClassName",
    "runtimeClassName": "use spec.scheduling.runtimeClassName",
    "nodeName": "pinning pods to a node bypasses the scheduler; use "
    "spec.{role}.scheduling.nodeSelector",
}
MANAGED_LOCUST_CONTAINER_FIELDS: Final[Mapping[str, str]] = {
    "command": "the image's entrypoint (locust) runs; put Locust options in "
    "spec.{role}.command or spec.{role}.extraArgs",
    "args": "the operator builds them from spec.{role}.command and spec.{role}.extraArgs; "
    "change those instead",
}
_META_FIELDS: Final = ("labels", "annotations")


def _fields_of(model: type) -> frozenset[str]:
    return frozenset(f.encode_name for f in msgspec.structs.fields(model))


KNOWN_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "PodSpec": _fields_of(core_v1.PodSpec),
    "Container": _fields_of(core_v1.Container),
}

Problem = tuple[str, str]  # (field path, message naming the fix)


def check_pod_template_patch(
    patch: Any, field: str, role: str, locust_container: str | None
) -> Iterator[Problem]:
    """Problems of ``<role>.podTemplatePatch`` at ``field``: its shape (only metadata.labels,
    metadata.annotations and PodSpec fields; list items carrying their merge key; only the
    '$patch: delete' directive on list items) and the fields the operator manages.
    ``locust_container`` is the Locust container's name (None when the test's name is not
    known yet)."""
    if not isinstance(patch, Mapping):
        yield field, "must be an object with metadata and/or spec, like a pod template"
        return
    for key in sorted(patch):
        if key not in ("metadata", "spec"):
            yield (
                f"{field}.{key}",
                f"{key!r} is not part of a pod template patch; only metadata (labels, "
                "annotations) and spec can be patched",
            )
    if "metadata" in patch:
        yield from _check_metadata(patch["metadata"], f"{field}.metadata")
    if "spec" in patch:
        yield from _check_pod_spec(patch["spec"], f"{field}.spec", role, locust_container)


def _check_metadata(metadata: Any, field: str) -> Iterator[Problem]:
    if not isinstance(metadata, Mapping):
        yield field, "must be an object with labels and/or annotations"
        return
    for key, value in sorted(metadata.items()):
        if key not in _META_FIELDS:
            yield (
                f"{field}.{key}",
                f"the pod's {key} is not patchable; only labels and annotations are",
            )
        elif not isinstance(value, Mapping) or not all(
            isinstance(v, str) or v is None for v in value.values()
        ):
            yield f"{field}.{key}", "must be a map of strings (null removes a key)"
        elif key == "labels":
            for label in sorted(value):
                if label in PROTECTED_POD_LABELS:
                    yield (
                        f"{field}.labels[{label!r}]",
                        f"the label {label!r} is managed by the operator (the operator and "
                        "the master Service select the test's pods on it); remove it from "
                        "the patch",
                    )


def _check_pod_spec(
    spec: Any, field: str, role: str, locust_container: str | None
) -> Iterator[Problem]:
    if not isinstance(spec, Mapping):
        yield field, "must be an object of PodSpec fields"
        return
    for key, value in sorted(spec.items()):
        where = f"{field}.{key}"
        if key in MANAGED_POD_SPEC_FIELDS:
            yield (
                where,
                f"{key} cannot be set by the pod template patch: "
                + MANAGED_POD_SPEC_FIELDS[key].format(role=role),
            )
        elif key not in KNOWN_FIELDS["PodSpec"]:
            yield where, f"{key!r} is not a PodSpec field; check its spelling"
        elif key in MERGE_LISTS["PodSpec"]:
            merge = MERGE_LISTS["PodSpec"][key]
            locust = locust_container if key == "containers" else None
            yield from _check_merge_list(value, where, merge, role, locust)
    yield from _check_container_lists(spec, field, locust_container)


_CONTAINER_LISTS: Final = ("containers", "initContainers", "ephemeralContainers")


def _check_container_lists(
    spec: Mapping[str, Any], field: str, locust_container: str | None
) -> Iterator[Problem]:
    """A pod's containers, init and ephemeral containers share one namespace of names: a
    name the patch puts in two of these lists (or the Locust container's name on an init or
    ephemeral container, the name of one of the operator's init containers on another kind)
    would make the apiserver refuse the pod."""
    # Imported here: resources builds on api, not the other way round.
    from locust_operator.resources.containers import METRICS_EXPORTER_CONTAINER_NAME
    from locust_operator.resources.fetcher import FETCHER_CONTAINER_NAME

    # The operator's own init containers, whether or not this test gets them.
    seen = dict.fromkeys(
        (FETCHER_CONTAINER_NAME, METRICS_EXPORTER_CONTAINER_NAME), "initContainers"
    )
    if locust_container is not None:
        seen[locust_container] = "containers"
    for key in _CONTAINER_LISTS:
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if not isinstance(item, Mapping) or item.get(PATCH_DIRECTIVE) == DELETE:
                continue
            name = item.get("name")
            if not isinstance(name, str) or not name:
                continue
            if seen.get(name, key) != key:
                yield (
                    f"{field}.{key}[{i}].name",
                    f"the name {name!r} is taken in {seen[name]} (by the operator's or this "
                    "patch's container), and a pod's containers, initContainers and "
                    "ephemeralContainers need distinct names: rename this one",
                )
            seen.setdefault(name, key)


def _check_merge_list(
    items: Any, field: str, merge: MergeList, role: str, locust_container: str | None
) -> Iterator[Problem]:
    if items is None:
        return
    if not isinstance(items, list):
        yield field, f"must be a list (merged with the pod's by {merge.key})"
        return
    for i, item in enumerate(items):
        where = f"{field}[{i}]"
        if not isinstance(item, Mapping):
            yield where, f"must be an object with its merge key {merge.key}"
            continue
        key = item.get(merge.key)
        if not isinstance(key, str | int) or isinstance(key, bool) or key == "":
            yield (
                f"{where}.{merge.key}",
                f"is required: items of this list are merged with the pod's by {merge.key}",
            )
            continue
        for directive in sorted(k for k in item if isinstance(k, str) and k.startswith("$")):
            if directive != PATCH_DIRECTIVE or item[directive] != DELETE:
                yield (
                    f"{where}.{directive}",
                    f"only '{PATCH_DIRECTIVE}: {DELETE}' is supported (it removes the item "
                    f"whose {merge.key} is {key!r}); remove {directive!r}",
                )
        is_locust = locust_container is not None and key == locust_container
        if is_locust and item.get(PATCH_DIRECTIVE) == DELETE:
            yield (
                f"{where}.{PATCH_DIRECTIVE}",
                f"the Locust container {key!r} cannot be deleted; remove this item",
            )
        if merge.item == "Container":
            # The patch's schema preserves unknown fields: nothing but this check (in the
            # webhook and the builder) keeps a name the apiserver refuses out of the child.
            if item.get(PATCH_DIRECTIVE) != DELETE and not (
                isinstance(key, str) and is_dns1123_label(key)
            ):
                yield (
                    f"{where}.{merge.key}",
                    f"{key!r} is not a valid container name: it must be a DNS-1123 label "
                    f"(at most {MAX_LABEL_LENGTH} lowercase letters, digits and '-', starting "
                    "and ending with a letter or digit), e.g. 'warm-up'",
                )
            yield from _check_container(item, where, role, is_locust)


def _check_container(
    container: Mapping[str, Any], field: str, role: str, is_locust: bool
) -> Iterator[Problem]:
    for key, value in sorted(container.items()):
        where = f"{field}.{key}"
        if key == PATCH_DIRECTIVE:
            continue
        if is_locust and key in MANAGED_LOCUST_CONTAINER_FIELDS:
            yield (
                where,
                f"the Locust container's {key} is managed by the operator: "
                + MANAGED_LOCUST_CONTAINER_FIELDS[key].format(role=role),
            )
        elif key not in KNOWN_FIELDS["Container"]:
            yield where, f"{key!r} is not a Container field; check its spelling"
        elif key in MERGE_LISTS["Container"]:
            yield from _check_merge_list(value, where, MERGE_LISTS["Container"][key], role, None)


def check_spread_conflict(spread: Any, constraints: Any, field: str) -> Iterator[Problem]:
    """worker.spread and an explicit worker constraint on the same topology would both
    constrain it (the apiserver refuses two with the same topologyKey and
    whenUnsatisfiable)."""
    key = SPREAD_TOPOLOGY_KEYS.get(spread) if isinstance(spread, str) else None
    if key is None or not isinstance(constraints, list):
        return
    for i, constraint in enumerate(constraints):
        if not isinstance(constraint, Mapping):
            continue
        same = (
            constraint.get("topologyKey") == key
            and constraint.get("whenUnsatisfiable") == SPREAD_WHEN_UNSATISFIABLE
        )
        if same:
            yield (
                f"{field}[{i}]",
                f"spec.worker.spread: {spread} already constrains {key} "
                f"({SPREAD_WHEN_UNSATISFIABLE}); remove this constraint or spread",
            )


def priority_class_names(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, name) of every PriorityClass a v2 spec names."""
    found = []
    for prefix, scheduling in (
        ("spec.scheduling", spec.get("scheduling")),
        ("spec.master.scheduling", _get(spec, "master", "scheduling")),
        ("spec.worker.scheduling", _get(spec, "worker", "scheduling")),
    ):
        name = scheduling.get("priorityClassName") if isinstance(scheduling, Mapping) else None
        if isinstance(name, str) and name:
            found.append((f"{prefix}.priorityClassName", name))
    return found


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def check_placement(spec: Mapping[str, Any], test_name: str | None) -> Iterator[Problem]:
    """The webhook's checks of the placement fields and pod template patches of a (defaulted)
    v2 spec; ``test_name`` names the Locust containers (``<name>-master``, ``<name>-worker``)."""
    for field, name in priority_class_names(spec):
        if len(name) > MAX_SUBDOMAIN_LENGTH or not re.fullmatch(PRIORITY_CLASS_NAME_PATTERN, name):
            yield (
                field,
                f"{name!r} is not a valid PriorityClass name: it must be a DNS-1123 subdomain "
                "(lowercase letters, digits, '-' and '.'), e.g. 'load-generators'",
            )
    worker = spec.get("worker") if isinstance(spec.get("worker"), Mapping) else {}
    assert isinstance(worker, Mapping)
    spread = worker.get("spread")
    if spread is not None and spread not in SPREAD_TOPOLOGY_KEYS:
        yield (
            "spec.worker.spread",
            f"{spread!r} is not a spread: use 'nodes' (one worker per node before any node "
            "gets a second) or 'zones' (likewise across topology.kubernetes.io/zone)",
        )
    yield from check_spread_conflict(
        spread,
        _get(worker, "scheduling", "topologySpreadConstraints"),
        "spec.worker.scheduling.topologySpreadConstraints",
    )
    for role in ("master", "worker"):
        role_spec = spec.get(role)
        if not isinstance(role_spec, Mapping) or role_spec.get("podTemplatePatch") is None:
            continue
        locust = _locust_container_name(test_name, role) if test_name else None
        yield from check_pod_template_patch(
            role_spec["podTemplatePatch"], f"spec.{role}.podTemplatePatch", role, locust
        )


def _locust_container_name(test_name: str, role: str) -> str:
    # Imported here: resources builds on api, not the other way round.
    from locust_operator.resources.names import child_name

    return child_name(test_name, "master" if role == "master" else "worker")
