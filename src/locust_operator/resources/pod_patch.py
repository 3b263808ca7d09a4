"""The per-role pod template patch: a strategic merge patch, as kubectl and kustomize apply
it, of the pod template the operator built (pure).

* Maps merge key by key, recursively; ``null`` removes a key.
* The lists Kubernetes declares with a merge key (api.placement.MERGE_LISTS: containers by
  name, volumeMounts by mountPath, ports by containerPort, ...) merge item by item: an item
  whose key is already there is merged into it in place, a new one is appended, and an item
  with ``$patch: delete`` removes the item with its key.
* Every other list (tolerations, args, envFrom, dnsConfig.nameservers, ...) and every
  scalar is replaced.

The patch is checked first (api.placement.check_pod_template_patch): one that sets what the
operator manages is refused here too, so a spec that never met the webhook cannot smuggle it
into a child.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from locust_operator.api.dns_names import is_dns1123_label
from locust_operator.api.placement import (
    DELETE,
    MERGE_LISTS,
    PATCH_DIRECTIVE,
    MergeList,
    check_pod_template_patch,
)


class PodPatchError(ValueError):
    """The patch may not be applied; the message names the field and the fix."""


def strategic_merge(
    base: Mapping[str, Any], patch: Mapping[str, Any], kind: str | None = None
) -> dict[str, Any]:
    """``base`` with ``patch`` merged in; ``kind`` ("PodSpec", "Container") selects the merge
    keys of its lists. Neither argument is modified."""
    merged = copy.deepcopy(dict(base))
    lists = MERGE_LISTS.get(kind or "", {})
    for key, value in patch.items():
        if isinstance(key, str) and key.startswith("$"):
            continue  # directives are read by the list merge, never stored
        if value is None:
            merged.pop(key, None)
        elif key in lists and isinstance(value, list):
            current = merged.get(key)
            merged[key] = _merge_list(
                current if isinstance(current, list) else [], value, lists[key]
            )
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = strategic_merge(merged[key], value)
        else:
            merged[key] = _without_directives(value)
    return merged


def _merge_list(base: list[Any], patch: list[Any], merge: MergeList) -> list[Any]:
    merged = copy.deepcopy(base)
    for item in patch:
        if not isinstance(item, Mapping) or merge.key not in item:
            raise PodPatchError(f"an item of a list merged by {merge.key} lacks {merge.key}")
        keys = [m.get(merge.key) if isinstance(m, Mapping) else None for m in merged]
        index = keys.index(item[merge.key]) if item[merge.key] in keys else None
        if item.get(PATCH_DIRECTIVE) == DELETE:
            if index is not None:
                del merged[index]
            continue
        if index is None:
            merged.append(strategic_merge({}, item, merge.item))
        else:
            merged[index] = strategic_merge(merged[index], item, merge.item)
    return merged


def _without_directives(value: Any) -> Any:
    """A replaced value as Kubernetes stores it: no '$' directives, no null map entries."""
    if isinstance(value, Mapping):
        return {
            k: _without_directives(v)
            for k, v in value.items()
            if v is not None and not (isinstance(k, str) and k.startswith("$"))
        }
    if isinstance(value, list):
        return [_without_directives(v) for v in value]
    return value


def apply_pod_template_patch(
    template: Mapping[str, Any],
    patch: Mapping[str, Any] | None,
    *,
    field: str,
    role: str,
    locust_container: str,
) -> dict[str, Any]:
    """The pod template (``{metadata, spec}``) with ``patch`` applied last. Raises
    :class:`PodPatchError` naming ``field`` for a patch that breaks the rules."""
    if not patch:
        return copy.deepcopy(dict(template))
    problems = list(check_pod_template_patch(patch, field, role, locust_container))
    if problems:
        raise PodPatchError("; ".join(f"{where}: {what}" for where, what in problems))
    result = copy.deepcopy(dict(template))
    metadata = patch.get("metadata")
    if isinstance(metadata, Mapping):
        result["metadata"] = strategic_merge(result.get("metadata") or {}, metadata)
    spec = patch.get("spec")
    if isinstance(spec, Mapping):
        result["spec"] = strategic_merge(result.get("spec") or {}, spec, "PodSpec")
        _check_container_names(result["spec"], f"{field}.spec")
    return result


def _check_container_names(pod_spec: Mapping[str, Any], field: str) -> None:
    """Refuse a merged pod whose containers would not pass the apiserver: every name a
    DNS-1123 label, no name twice across containers, initContainers and ephemeralContainers
    (e.g. a patch's container named like one the operator adds)."""
    seen: dict[str, str] = {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for i, container in enumerate(pod_spec.get(key) or []):
            name = container.get("name") if isinstance(container, Mapping) else None
            where = f"{field}.{key}[{i}].name"
            if not isinstance(name, str) or not is_dns1123_label(name):
                raise PodPatchError(
                    f"{where}: {name!r} is not a valid container name; name the container "
                    "with a DNS-1123 label (lowercase letters, digits and '-'), e.g. 'warm-up'"
                )
            if name in seen:
                raise PodPatchError(
                    f"{where}: the patched pod has two containers named {name!r} "
                    f"({seen[name]} and {key}[{i}]), and a pod's containers need distinct "
                    "names; rename the patch's container"
                )
            seen[name] = f"{key}[{i}]"
