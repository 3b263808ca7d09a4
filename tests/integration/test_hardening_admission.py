"""Issue 12, finding 1 and the fuzz suite: nothing admitted that the apiserver would refuse
in a child.

Generated bad LocustTests (seeded, reproducible: invalid label keys and values, annotation
keys, node selectors, affinity operators, tolerations, volume sources, duplicate volumes and
mount paths, quantities, images, env and secret names, security contexts, v1 objects whose
v2-spec annotation carries what v2 forbids, ...) go through the real apiserver with the
operator's webhook on. Every object it accepts is then built into its Service and Jobs by
the operator's own builders and those are dry-run: none may be refused.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration

from locust_operator.api.conversion import V2_SPEC_ANNOTATION
from locust_operator.config import OperatorConfig
from locust_operator.kube.dry_run import dry_run
from locust_operator.resources import build_children
from locust_operator.webhook.registration import VALIDATING_CONFIGURATION_NAME
from tests.helpers import eventually, new_namespace
from tests.locusttests import LocustTestV1, LocustTestV2, minimal_v2
from tests.operator_process import OperatorProcess, operator_running

pytestmark = pytest.mark.cluster

WEBHOOK_DENIAL = 'admission webhook "validate.locusttest.locust.io" denied the request'
FUZZ_OBJECTS = 1400
BATCH = 24
SEED = 12

Mutation = Callable[[dict[str, Any], random.Random], None]


# --- the catalogue of bad values ---------------------------------------------------------

BAD_LABEL_KEYS = ["bad key", "-lead", "trail-", "a/b/c", "x" * 64, "Bad_/x", "/x", "ü", ""]
BAD_LABEL_VALUES = ["bad value", "-lead", "x" * 64, "a/b", "ü", "trail_"]
BAD_ANNOTATION_KEYS = ["bad key", "a/b/c", "x" * 64, "-lead", ""]
BAD_QUANTITIES = ["1.5.5Gi", "-1", "-100m", "abc", "1Zi", "1e", "--1"]
BAD_ENV_NAMES = ["", "a=b"]
BAD_OBJECT_NAMES = ["Bad_Name", "bad name", "-x", "x" * 254, "a..b"]
BAD_PATHS = ["", "a:b:c" * 0 + ""]
ROLES = ("master", "worker")


def _role(rng: random.Random) -> str:
    return rng.choice(ROLES)


def m_label_key(obj: dict[str, Any], rng: random.Random) -> None:
    obj["spec"][_role(rng)]["labels"] = {rng.choice(BAD_LABEL_KEYS): "v"}


def m_label_value(obj: dict[str, Any], rng: random.Random) -> None:
    obj["spec"][_role(rng)]["labels"] = {"team": rng.choice(BAD_LABEL_VALUES)}


def m_annotation_key(obj: dict[str, Any], rng: random.Random) -> None:
    obj["spec"][_role(rng)]["annotations"] = {rng.choice(BAD_ANNOTATION_KEYS): "v"}


def m_node_selector(obj: dict[str, Any], rng: random.Random) -> None:
    if rng.random() < 0.5:
        selector = {"disk": rng.choice(BAD_LABEL_VALUES)}
    else:
        selector = {rng.choice(BAD_LABEL_KEYS): "ssd"}
    obj["spec"].setdefault("scheduling", {})["nodeSelector"] = selector


def m_affinity(obj: dict[str, Any], rng: random.Random) -> None:
    operator = rng.choice(["Foo", "in", "Equal", "Gt"])
    values = ["a"] if operator != "Gt" else ["not-a-number"]
    term = {"matchExpressions": [{"key": "zone", "operator": operator, "values": values}]}
    obj["spec"].setdefault("scheduling", {})["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }


def m_toleration(obj: dict[str, Any], rng: random.Random) -> None:
    bad = rng.choice(
        [
            {"operator": "Equal", "value": "x"},
            {"key": "k", "operator": "Exists", "value": "x"},
            {"key": "k", "operator": "Sometimes"},
            {"key": "k", "effect": "Explode"},
            {"key": rng.choice(BAD_LABEL_KEYS[:5]), "operator": "Exists"},
        ]
    )
    obj["spec"].setdefault("scheduling", {})["tolerations"] = [bad]


def _mounted(obj: dict[str, Any], volumes: list[dict[str, Any]], paths: list[str]) -> None:
    obj["spec"]["volumes"] = volumes
    obj["spec"]["volumeMounts"] = [
        {"name": v["name"], "mountPath": p} for v, p in zip(volumes, paths, strict=False)
    ]


def m_volume(obj: dict[str, Any], rng: random.Random) -> None:
    choice = rng.randrange(5)
    if choice == 0:  # two sources
        _mounted(obj, [{"name": "data", "emptyDir": {}, "configMap": {"name": "x"}}], ["/data"])
    elif choice == 1:  # no source at all is fine (emptyDir); a bad source name is not
        _mounted(
            obj, [{"name": "data", "configMap": {"name": rng.choice(BAD_OBJECT_NAMES)}}], ["/d"]
        )
    elif choice == 2:  # duplicate volume names
        volumes = [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}]
        _mounted(obj, volumes, ["/a", "/b"])
    elif choice == 3:  # duplicate mount paths
        volumes = [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]
        _mounted(obj, volumes, ["/same", "/same"])
    else:  # a volume name that is not a DNS label
        _mounted(obj, [{"name": rng.choice(["Data", "da_ta", "x" * 64]), "emptyDir": {}}], ["/d"])


def m_quantity(obj: dict[str, Any], rng: random.Random) -> None:
    kind = rng.choice(["requests", "limits"])
    resource = rng.choice(["cpu", "memory", "ephemeral-storage"])
    obj["spec"][_role(rng)]["resources"] = {kind: {resource: rng.choice(BAD_QUANTITIES)}}


def m_limits_below_requests(obj: dict[str, Any], rng: random.Random) -> None:
    resource = rng.choice(["cpu", "memory"])
    small, large = ("100m", "2") if resource == "cpu" else ("64Mi", "1Gi")
    obj["spec"][_role(rng)]["resources"] = {
        "requests": {resource: large},
        "limits": {resource: small},
    }


def m_image(obj: dict[str, Any], rng: random.Random) -> None:
    obj["spec"]["image"] = rng.choice(["", " ", "image with space"])


def m_env(obj: dict[str, Any], rng: random.Random) -> None:
    choice = rng.randrange(4)
    env = obj["spec"].setdefault("env", {})
    if choice == 0:
        env["variables"] = [{"name": rng.choice(BAD_ENV_NAMES), "value": "x"}]
    elif choice == 1:
        env["secretRefs"] = [{"name": rng.choice(BAD_OBJECT_NAMES)}]
    elif choice == 2:
        env["configMapRefs"] = [{"name": rng.choice(BAD_OBJECT_NAMES)}]
    else:
        env["variables"] = [
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "bad key!"}}}
        ]


def m_security(obj: dict[str, Any], rng: random.Random) -> None:
    security = obj["spec"].setdefault("security", {})
    if rng.random() < 0.5:
        security["podSecurityContext"] = rng.choice(
            [
                {"runAsUser": -1},
                {"fsGroupChangePolicy": "Sometimes"},
                {"sysctls": [{"name": "bad name!", "value": "1"}]},
            ]
        )
    else:
        security["containerSecurityContext"] = rng.choice(
            [
                {"runAsUser": -5},
                {"procMount": "Weird"},
                {
                    "capabilities": {"add": ["NET ADMIN"]},
                    "privileged": True,
                    "allowPrivilegeEscalation": False,
                },
            ]
        )


def m_pull_secret(obj: dict[str, Any], rng: random.Random) -> None:
    obj["spec"]["imagePullSecrets"] = [{"name": rng.choice(BAD_OBJECT_NAMES)}]


MUTATIONS: list[Mutation] = [
    m_label_key,
    m_label_value,
    m_annotation_key,
    m_node_selector,
    m_affinity,
    m_toleration,
    m_volume,
    m_quantity,
    m_limits_below_requests,
    m_image,
    m_env,
    m_security,
    m_pull_secret,
]


def _v1_with_bad_annotation(v2: dict[str, Any], name: str) -> dict[str, Any]:
    """A plain v1 object whose v2-spec annotation carries the (bad) v2 spec."""
    return {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {
            "name": name,
            "annotations": {V2_SPEC_ANNOTATION: json.dumps({"spec": v2["spec"]})},
        },
        "spec": {
            "image": "locustio/locust:2.43.1",
            "masterCommandSeed": "--locustfile /lotest/src/test.py",
            "workerCommandSeed": "--locustfile /lotest/src/test.py",
            "workerReplicas": 2,
        },
    }


def generated(count: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(count):
        obj = minimal_v2(f"fuzz-{i}")
        for mutation in rng.sample(MUTATIONS, rng.choice([1, 1, 1, 2])):
            mutation(obj, rng)
        if rng.random() < 0.1:
            obj = _v1_with_bad_annotation(obj, f"fuzz-{i}")
        yield obj


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def operator(
    kubeconfig: Path, crd: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    with operator_running(
        kubeconfig,
        tmp_path_factory.mktemp("operator") / "operator.log",
        webhooks=True,
        args=["--no-controller"],
    ) as process:
        yield process


@pytest.fixture(scope="module", autouse=True)
async def _unregister_afterwards(kube: AsyncClient) -> AsyncIterator[None]:
    yield
    try:
        await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    except ApiError as error:
        assert error.status.code == 404


@pytest.fixture
async def namespace(kube: AsyncClient, operator: OperatorProcess) -> AsyncIterator[str]:
    async with new_namespace(kube, "hardening") as name:
        probe = minimal_v2("probe")
        probe["spec"]["master"]["resources"] = {"limits": {"cpu": "100m"}, "requests": {"cpu": "1"}}

        async def webhook_active() -> bool:
            try:
                await kube.create(LocustTestV2.from_dict(probe), namespace=name, dry_run=True)
            except ApiError as error:
                return WEBHOOK_DENIAL in (error.status.message or "")
            return False

        await eventually(webhook_active, what="the validating webhook dry-runs children")
        yield name


async def _submit(kube: AsyncClient, obj: dict[str, Any], namespace: str) -> Any:
    """The object as stored (a dry run), or the ApiError refusing it."""
    resource = LocustTestV1 if obj["apiVersion"] == "locust.io/v1" else LocustTestV2
    try:
        created = await kube.create(resource.from_dict(obj), namespace=namespace, dry_run=True)
    except ApiError as error:
        return error
    if obj["apiVersion"] == "locust.io/v1":
        # Judge what the operator will see: the v2 form (a real create, read as v2).
        real = await kube.create(resource.from_dict(obj), namespace=namespace)
        stored = await kube.get(LocustTestV2, real.metadata.name, namespace=namespace)
        return stored.to_dict()
    return created.to_dict()


async def _children_refused(kube: AsyncClient, stored: dict[str, Any], namespace: str) -> list[str]:
    test = copy.deepcopy(stored)
    meta = test["metadata"]
    meta.update(namespace=namespace, uid=meta.get("uid") or "fuzz-uid", generation=1)
    try:
        children = build_children(test, OperatorConfig())
    except ValueError as error:
        return [f"cannot build: {error}"]
    refusals, _ = await dry_run(kube, [children.service, children.master_job, children.worker_job])
    return [r.summary() for r in refusals]


# --- tests -------------------------------------------------------------------------------


async def test_fuzz_nothing_admitted_that_a_child_would_refuse(
    kube: AsyncClient, namespace: str
) -> None:
    objects = list(generated(FUZZ_OBJECTS))
    assert len(objects) >= 1000
    answers: list[Any] = []
    started = time.monotonic()
    for first in range(0, len(objects), BATCH):
        batch = objects[first : first + BATCH]
        answers += await asyncio.gather(*(_submit(kube, o, namespace) for o in batch))
    elapsed = time.monotonic() - started

    accepted = [(o, a) for o, a in zip(objects, answers, strict=True) if isinstance(a, dict)]
    refused = [a for a in answers if isinstance(a, ApiError)]
    assert all(e.status.code in (400, 422) for e in refused), {e.status.code for e in refused}
    # Every denial names a field of the LocustTest.
    unnamed = [e.status.message for e in refused if "spec" not in (e.status.message or "")]
    assert not unnamed, unnamed[:3]

    bad_children = []
    for obj, stored in accepted:
        problems = await _children_refused(kube, stored, namespace)
        if problems:
            bad_children.append((json.dumps(obj["spec"])[:300], problems))
    print(
        f"\nfuzz: {len(objects)} objects in {elapsed:.1f} s, {len(refused)} denied, "
        f"{len(accepted)} accepted, {len(bad_children)} accepted with a refused child"
    )
    assert bad_children == [], bad_children[:5]
    # Some generated values are valid after all (the apiserver accepts their children);
    # at least 1000 are not, and each of those was denied.
    assert len(refused) >= 1000


async def test_admission_latency_with_the_dry_run(kube: AsyncClient, namespace: str) -> None:
    durations = []
    for i in range(30):
        started = time.monotonic()
        await kube.create(
            LocustTestV2.from_dict(minimal_v2(f"lat-{i}")), namespace=namespace, dry_run=True
        )
        durations.append(time.monotonic() - started)
    median = statistics.median(durations)
    slowest = max(durations)
    print(
        f"\nadmission (dry-run create) median {median * 1000:.1f} ms, max {slowest * 1000:.1f} ms"
    )
    assert all(d > 0 for d in durations)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"master": {"resources": {"limits": {"cpu": "100m"}, "requests": {"cpu": "1"}}}},
            "spec.master.resources",
        ),
        ({"worker": {"labels": {"bad key": "v"}}}, "spec.worker.labels"),
        (
            {"scheduling": {"tolerations": [{"operator": "Equal", "value": "x"}]}},
            "spec.scheduling.tolerations",
        ),
        ({"env": {"secretRefs": [{"name": "Bad_Name"}]}}, "spec.env"),
        ({"image": ""}, "spec.image"),
    ],
)
async def test_a_denial_names_the_locusttest_field(
    kube: AsyncClient, namespace: str, change: dict[str, Any], field: str
) -> None:
    obj = minimal_v2("named")
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(obj["spec"].get(key), dict):
            obj["spec"][key].update(value)
        else:
            obj["spec"][key] = value
    with pytest.raises(ApiError) as raised:
        await kube.create(LocustTestV2.from_dict(obj), namespace=namespace)
    message = raised.value.status.message or ""
    assert WEBHOOK_DENIAL in message or "spec" in message
    assert field in message, message


@pytest.mark.parametrize(
    "bad_v2",
    [
        {"master": {"extraArgs": ["x" * 5000]}},
        {"master": {"autoquit": {"enabled": True, "timeout": -1}}},
        {"master": {"extraArgs": "--not-a-list"}},
        {"imagePullPolicy": "Sometimes"},
        {"master": {"resources": {"limits": {"memory": "1.5.5Gi"}}}},
    ],
    ids=["long-arg", "negative-autoquit", "args-not-list", "pull-policy", "quantity"],
)
async def test_a_v1_object_cannot_smuggle_an_invalid_v2_spec(
    kube: AsyncClient, namespace: str, bad_v2: dict[str, Any]
) -> None:
    v2 = minimal_v2("smuggled")
    for key, value in bad_v2.items():
        if isinstance(value, dict):
            v2["spec"][key] = {**v2["spec"][key], **value}
        else:
            v2["spec"][key] = value
    obj = _v1_with_bad_annotation(v2, "smuggled")
    with pytest.raises(ApiError) as raised:
        await kube.create(LocustTestV1.from_dict(obj), namespace=namespace)
    assert raised.value.status.code in (400, 422)
    assert "spec" in (raised.value.status.message or "")
