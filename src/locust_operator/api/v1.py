"""locust.io/v1 LocustTest: the deprecated, flat first version of the API (served only).

Only ``image`` is required: v1 objects in the wild omit the command seeds and replicas.
"""

# prop() returns dataclasses.field(...), which ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .common import (
    NAME_LENGTH_RULE,
    NAME_START_RULE,
    PullPolicy,
    api_version_prop,
    kind_prop,
    metadata_prop,
)
from .schema import K8sObject, object_rules, prop
from .status import LocustTestStatus
from .v2 import MAX_OBJECT_NAME_LENGTH, OPTIONAL_NAME_PATTERN

TolerationOperator = Literal["Exists", "Equal"]
TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


@dataclass(kw_only=True)
class PodLabels:
    """Extra labels for the master and the worker pods."""

    master: dict[str, str] | None = prop("Labels for the master pod.")
    worker: dict[str, str] | None = prop("Labels for the worker pods.")


@dataclass(kw_only=True)
class PodAnnotations:
    """Extra annotations for the master and the worker pods."""

    master: dict[str, str] | None = prop("Annotations for the master pod.")
    worker: dict[str, str] | None = prop("Annotations for the worker pods.")


@dataclass(kw_only=True)
class NodeAffinity:
    """Node affinity as a flat map."""

    required_during_scheduling_ignored_during_execution: dict[str, str] | None = prop(
        "Node label key -> value the pods must be scheduled on (each becomes an 'In [value]' "
        "node selector requirement)."
    )


@dataclass(kw_only=True)
class Affinity:
    """Affinity of the master and worker pods."""

    node_affinity: NodeAffinity | None = prop("Node affinity of the pods.")


@dataclass(kw_only=True)
class Toleration:
    """A toleration of the master and worker pods."""

    key: str | None = prop("Taint key the toleration applies to.")
    operator: TolerationOperator | None = prop("Exists or Equal.")
    value: str | None = prop("Taint value the toleration matches (with operator Equal).")
    effect: TaintEffect | None = prop("NoSchedule, PreferNoSchedule or NoExecute.")


@dataclass(kw_only=True)
class LocustTestSpec:
    """LocustTestSpec (v1, deprecated) is the desired state of a distributed Locust test."""

    master_command_seed: str | None = prop("Locust command seed of the master.")
    worker_command_seed: str | None = prop("Locust command seed of the workers.")
    image: str = prop("Container image of the Locust master and workers.", required=True)
    worker_replicas: int = prop(
        "Number of worker pods (1 to 500).", default=1, minimum=1, maximum=500, format="int32"
    )
    image_pull_policy: PullPolicy | None = prop("Image pull policy of the Locust containers.")
    image_pull_secrets: list[str] | None = prop(
        "Names of Secrets for pulling the image from a private registry."
    )
    config_map: str | None = prop(
        "Name of the ConfigMap holding the locustfile(s), mounted at /lotest/src.",
        max_length=MAX_OBJECT_NAME_LENGTH,
        pattern=OPTIONAL_NAME_PATTERN,
    )
    lib_config_map: str | None = prop(
        "Name of the ConfigMap holding library files, mounted at /opt/locust/lib.",
        max_length=MAX_OBJECT_NAME_LENGTH,
        pattern=OPTIONAL_NAME_PATTERN,
    )
    labels: PodLabels | None = prop("Extra labels for the pods.")
    annotations: PodAnnotations | None = prop("Extra annotations for the pods.")
    affinity: Affinity | None = prop("Affinity of the pods.")
    tolerations: list[Toleration] | None = prop("Tolerations of the pods.")


@object_rules(NAME_LENGTH_RULE, NAME_START_RULE)
@dataclass(kw_only=True)
class LocustTest:
    """LocustTest (locust.io/v1, deprecated: migrate to locust.io/v2) runs a Locust test."""

    api_version: str | None = api_version_prop()
    kind: str | None = kind_prop()
    metadata: K8sObject | None = metadata_prop()
    spec: LocustTestSpec = prop("Desired state of the load test.", required=True)
    status: LocustTestStatus | None = prop("Observed state of the load test.")
