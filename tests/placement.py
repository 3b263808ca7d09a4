"""Where a test's pods run. kwok nodes carry a NoSchedule taint so that a plain pod lands
on the real node; tests that rely on kwok (simulated phases, hundreds of pods) put their
namespace on kwok: the apiserver's PodNodeSelector and PodTolerationRestriction admission
plugins then give every pod in it kwok's node selector and toleration."""

from __future__ import annotations

import json

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from localcluster.cluster import FAKE_NODE_LABEL, FAKE_NODE_TAINT

KWOK_TOLERATION = {"operator": "Equal", **FAKE_NODE_TAINT}
ON_KWOK_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "=".join(FAKE_NODE_LABEL),
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps([KWOK_TOLERATION]),
}


def namespace(name: str, *, on_kwok: bool = True) -> Namespace:
    """A Namespace whose pods go to the kwok nodes, or (on_kwok=False) the real node."""
    annotations = dict(ON_KWOK_ANNOTATIONS) if on_kwok else {}
    return Namespace(metadata=ObjectMeta(name=name, annotations=annotations))


# The chart's own scheduling values, for releases whose operator pods kwok "runs".
KWOK_HELM_VALUES = {
    "nodeSelector": dict([FAKE_NODE_LABEL]),
    "tolerations": [KWOK_TOLERATION],
}
