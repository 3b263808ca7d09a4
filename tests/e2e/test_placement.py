"""Per-role placement with the real scheduler: two pools of kwok nodes, each labelled and
tainted as its own pool; the master lands on one, the workers on the other, spread across
its nodes; a worker-only init container from a pod template patch; admission refuses a
patch replacing the Locust command and a PriorityClass that does not exist."""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.core_v1 import NodeSpec, Taint
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod

from localcluster.cluster import FAKE_NODE_ANNOTATION, FAKE_NODE_LABEL, FAKE_NODE_TAINT
from tests.helpers import eventually

from .conftest import create_scripts, create_test, locusttest, unique

POOL_LABEL = "e2e.locust.io/pool"
WORKER_NODES = 2
WORKERS = 4


def _node(name: str, pool: str) -> Node:
    return Node(
        metadata=ObjectMeta(
            name=name,
            annotations=dict([FAKE_NODE_ANNOTATION]),
            labels={
                FAKE_NODE_LABEL[0]: FAKE_NODE_LABEL[1],
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                POOL_LABEL: pool,
            },
        ),
        spec=NodeSpec(
            taints=[
                Taint(**FAKE_NODE_TAINT),
                Taint(key=POOL_LABEL, value=pool, effect="NoSchedule"),
            ]
        ),
    )


def _ready(node: Node) -> bool:
    """Ready, and the node lifecycle controller has lifted its not-ready taint: with
    nodeTaintsPolicy Honor a still-tainted node is no spread domain, and the workers would
    all land on the pool's other node."""
    conditions = (node.status.conditions if node.status else None) or []
    taints = (node.spec.taints if node.spec else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions) and not any(
        t.key.startswith("node.kubernetes.io/") for t in taints
    )


@pytest.fixture
async def pools(kube: AsyncClient) -> AsyncIterator[dict[str, list[str]]]:
    """{pool: [node names]}: one node for the master's pool, two for the workers'."""
    run = uuid.uuid4().hex[:6]
    pools = {
        f"masters-{run}": [f"pool-m-{run}-0"],
        f"load-{run}": [f"pool-w-{run}-{i}" for i in range(WORKER_NODES)],
    }
    for pool, names in pools.items():
        for name in names:
            await kube.create(_node(name, pool))
    try:
        for names in pools.values():
            for name in names:

                async def ready(name: str = name) -> bool:
                    return _ready(await kube.get(Node, name))

                await eventually(ready, within=60, what=f"kwok makes node {name} Ready")
        yield pools
    finally:
        for names in pools.values():
            for name in names:
                with contextlib.suppress(ApiError):
                    await kube.delete(Node, name)


def _scheduling(pool: str) -> dict[str, Any]:
    return {
        "nodeSelector": {POOL_LABEL: pool},
        "tolerations": [
            {"key": POOL_LABEL, "operator": "Equal", "value": pool, "effect": "NoSchedule"}
        ],
    }


INIT = {"name": "warm-up", "image": "busybox:1.36", "command": ["true"]}


async def _pods(kube: AsyncClient, namespace: str, role: str) -> list[Pod]:
    return [pod async for pod in kube.list(Pod, namespace=namespace, labels={"locust-role": role})]


async def test_master_and_workers_on_their_own_pools_spread_with_a_worker_patch(
    kube: AsyncClient, namespace: str, pools: dict[str, list[str]]
) -> None:
    master_pool, worker_pool = pools
    await create_scripts(kube, namespace)
    name = unique("placed")
    body = locusttest(name)
    body["spec"]["master"]["scheduling"] = _scheduling(master_pool)
    body["spec"]["worker"].update(
        replicas=WORKERS,
        scheduling=_scheduling(worker_pool),
        spread="nodes",
        podTemplatePatch={"spec": {"initContainers": [INIT]}},
    )
    await create_test(kube, namespace, body)

    placed: dict[str, list[Pod]] = {}

    async def scheduled() -> bool:
        for role, count in (("master", 1), ("worker", WORKERS)):
            pods = await _pods(kube, namespace, role)
            placed[role] = pods
            if len(pods) != count or not all(p.spec and p.spec.nodeName for p in pods):
                return False
        return True

    await eventually(scheduled, within=90, what="the scheduler places every pod")
    (master,) = placed["master"]
    assert master.spec is not None
    assert master.spec.nodeName in pools[master_pool]
    per_node = Counter(p.spec.nodeName for p in placed["worker"] if p.spec)
    assert set(per_node) == set(pools[worker_pool])  # only the workers' pool, every node
    assert max(per_node.values()) - min(per_node.values()) <= 1  # spread evenly
    for pod in placed["worker"]:
        assert pod.spec is not None
        assert [c.name for c in pod.spec.initContainers or []] == ["warm-up"]
    assert "warm-up" not in [c.name for c in master.spec.initContainers or []]


async def _refusal(kube: AsyncClient, namespace: str, body: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as refused:
        await create_test(kube, namespace, body)
    return refused.value.status.message or ""


async def test_a_patch_replacing_the_locust_command_is_refused_naming_the_field(
    kube: AsyncClient, namespace: str
) -> None:
    name = unique("patched")
    body = locusttest(name)
    body["spec"]["worker"]["podTemplatePatch"] = {
        "spec": {"containers": [{"name": f"{name}-worker", "command": ["sh", "-c", "evil"]}]}
    }
    message = await _refusal(kube, namespace, body)
    assert "spec.worker.podTemplatePatch.spec.containers[0].command" in message
    assert "managed by the operator" in message


async def test_a_priority_class_that_does_not_exist_is_refused(
    kube: AsyncClient, namespace: str
) -> None:
    body = locusttest(unique("priority"))
    body["spec"]["worker"]["scheduling"] = {"priorityClassName": "no-such-class"}
    message = await _refusal(kube, namespace, body)
    assert "spec.worker.scheduling.priorityClassName" in message
    assert "'no-such-class' does not exist" in message
