"""The operator's conversion and validating webhooks, called by the real apiserver.

The operator runs as a separate process (`locust-operator run --enable-webhooks
--webhook-url https://127.0.0.1:PORT`), generates its own certificate and registers
both webhooks with that CA bundle: nothing here is hand-made.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from locust_operator.api.conversion import RESERVED_ANNOTATIONS, V2_SPEC_ANNOTATION
from locust_operator.webhook.registration import VALIDATING_CONFIGURATION_NAME
from tests.conftest import compat_manifests, require_compat
from tests.helpers import eventually, new_namespace
from tests.locusttests import (
    BAD_CASES,
    BadCase,
    LocustTestV1,
    LocustTestV2,
    faq_locusttests,
    load_manifest,
    minimal_v2,
)
from tests.operator_process import OperatorProcess, operator_running

pytestmark = pytest.mark.cluster

WEBHOOK_DENIAL = 'admission webhook "validate.locusttest.locust.io" denied the request'


@pytest.fixture(scope="module")
def operator(
    kubeconfig: Path, crd: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    with operator_running(
        kubeconfig,
        tmp_path_factory.mktemp("operator") / "operator.log",
        webhooks=True,
        args=["--no-controller"],  # the API alone: the controller has its own e2e suite
    ) as process:
        yield process


@pytest.fixture
async def namespace(kube: AsyncClient, operator: OperatorProcess) -> AsyncIterator[str]:
    async with new_namespace(kube, "webhooks") as name:
        # Registration reaches the apiserver's webhook cache asynchronously: wait until a
        # request only the webhook rejects is rejected by it.
        probe = next(c for c in BAD_CASES if not c.in_schema).object("probe")

        async def webhook_active() -> bool:
            try:
                await kube.create(LocustTestV2.from_dict(probe), namespace=name, dry_run=True)
            except ApiError as error:
                return WEBHOOK_DENIAL in (error.status.message or "")
            return False

        await eventually(webhook_active, what="the validating webhook is called")
        yield name


@pytest.fixture(scope="module", autouse=True)
async def _unregister_afterwards(kube: AsyncClient) -> AsyncIterator[None]:
    yield
    # Later modules run without this operator: leave no registration pointing at it.
    try:
        await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    except ApiError as error:
        assert error.status.code == 404


def _without_status(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in obj.to_dict().items() if k != "status"}


async def test_registration_carries_the_operators_ca_bundle(
    kube: AsyncClient, operator: OperatorProcess
) -> None:
    crd = await kube.get(CustomResourceDefinition, "locusttests.locust.io")
    assert crd.spec.conversion is not None and crd.spec.conversion.webhook is not None
    client_config = crd.spec.conversion.webhook.clientConfig
    assert client_config is not None
    assert client_config.url == f"{operator.webhook_url}/convert"
    assert client_config.caBundle
    config = await kube.get(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    assert (
        config.webhooks
        and config.webhooks[0].clientConfig.url == f"{operator.webhook_url}/validate"
    )
    assert config.webhooks[0].clientConfig.caBundle == client_config.caBundle


async def test_every_valid_manifest_of_both_versions_is_accepted(
    kube: AsyncClient, namespace: str
) -> None:
    require_compat()
    accepted = 0
    for path in compat_manifests():
        obj = load_manifest(path)
        if "invalid" in path.name or obj.get("kind") != "LocustTest":
            continue
        resource = LocustTestV1 if obj["apiVersion"] == "locust.io/v1" else LocustTestV2
        obj["metadata"]["name"] = f"m{accepted}"  # several share a name
        await kube.create(resource.from_dict(obj), namespace=namespace)
        accepted += 1
    assert accepted >= 14
    for example in faq_locusttests():
        await kube.create(LocustTestV2.from_dict(example), namespace=namespace)


async def test_invalid_reference_manifests_are_rejected(kube: AsyncClient, namespace: str) -> None:
    require_compat()
    for path in compat_manifests():
        if "invalid" not in path.name:
            continue
        with pytest.raises(ApiError) as rejected:
            await kube.create(LocustTestV2.from_dict(load_manifest(path)), namespace=namespace)
        message = rejected.value.status.message or ""
        assert "replicas" in message or "runtimeClassName" in message, message


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.id)
async def test_each_rule_rejects_with_the_webhook_on(
    kube: AsyncClient, namespace: str, case: BadCase
) -> None:
    with pytest.raises(ApiError) as rejected:
        await kube.create(LocustTestV2.from_dict(case.object()), namespace=namespace)
    message = rejected.value.status.message or ""
    assert case.field in message, message
    if not case.in_schema:
        assert WEBHOOK_DENIAL in message


async def test_spec_updates_are_validated_by_the_webhook(kube: AsyncClient, namespace: str) -> None:
    await kube.create(LocustTestV2.from_dict(minimal_v2("edited")), namespace=namespace)
    bad = next(c for c in BAD_CASES if not c.in_schema).object("edited")
    current = (await kube.get(LocustTestV2, "edited", namespace=namespace)).to_dict()
    current["spec"] = bad["spec"]
    with pytest.raises(ApiError) as rejected:
        await kube.replace(LocustTestV2.from_dict(current), namespace=namespace)
    assert WEBHOOK_DENIAL in (rejected.value.status.message or "")


async def test_v1_objects_are_stored_as_v2_and_read_back_as_both(
    kube: AsyncClient, namespace: str
) -> None:
    require_compat()
    original = load_manifest(
        next(p for p in compat_manifests() if p.name == "conversion-v1-cr.yaml")
    )
    await kube.create(LocustTestV1.from_dict(original), namespace=namespace)
    name = original["metadata"]["name"]

    as_v1 = await kube.get(LocustTestV1, name, namespace=namespace)
    assert as_v1.spec == original["spec"]
    assert not set(as_v1.metadata.annotations or {}) & set(RESERVED_ANNOTATIONS)

    as_v2 = await kube.get(LocustTestV2, name, namespace=namespace)
    assert as_v2.spec["master"]["command"] == "locust"
    assert as_v2.spec["worker"] == {
        "command": "locust",
        "replicas": 2,
        "labels": {"app": "locust-worker"},
    }
    assert as_v2.spec["master"]["labels"] == {"app": "locust-master"}
    assert as_v2.spec["testFiles"]["configMapRef"] == "e2e-test-scripts"
    # What v2 cannot say about the v1 original (e.g. "imagePullPolicy was left out") rides
    # in the v1-spec annotation so that the v1 view stays exact; no v2-spec one here.
    assert V2_SPEC_ANNOTATION not in (as_v2.metadata.annotations or {})

    crd = await kube.get(CustomResourceDefinition, "locusttests.locust.io")
    assert crd.status is not None and crd.status.storedVersions == ["v2"]


async def test_v1_affinity_and_tolerations_convert(kube: AsyncClient, namespace: str) -> None:
    v1 = {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": "scheduled"},
        "spec": {
            "masterCommandSeed": "--locustfile /lotest/src/t.py",
            "workerCommandSeed": "--locustfile /lotest/src/t.py",
            "image": "locustio/locust:2.43.1",
            "imagePullSecrets": ["registry"],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"pool": "load", "zone": "a"}
                }
            },
            "tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "load", "effect": "NoSchedule"}
            ],
        },
    }
    await kube.create(LocustTestV1.from_dict(v1), namespace=namespace)
    as_v2 = await kube.get(LocustTestV2, "scheduled", namespace=namespace)
    required = as_v2.spec["scheduling"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert required == {
        "nodeSelectorTerms": [
            {
                "matchExpressions": [
                    {"key": "pool", "operator": "In", "values": ["load"]},
                    {"key": "zone", "operator": "In", "values": ["a"]},
                ]
            }
        ]
    }
    assert as_v2.spec["scheduling"]["tolerations"] == v1["spec"]["tolerations"]
    assert as_v2.spec["imagePullSecrets"] == [{"name": "registry"}]
    assert as_v2.spec["worker"]["replicas"] == 1  # v1's default
    as_v1 = await kube.get(LocustTestV1, "scheduled", namespace=namespace)
    assert {k: v for k, v in as_v1.spec.items() if k != "workerReplicas"} == v1["spec"]


async def test_v2_only_fields_survive_a_v1_read_modify_write(
    kube: AsyncClient, namespace: str
) -> None:
    require_compat()
    rich = load_manifest(
        next(p for p in compat_manifests() if p.name == "locust_v2_locusttest_with_volumes.yaml")
    )
    rich["spec"]["observability"] = {
        "openTelemetry": {
            "enabled": True,
            "endpoint": "otel-collector:4317",
            "extraEnvVars": {"A": "b"},
        }
    }
    rich["spec"]["env"] = {"variables": [{"name": "TARGET", "value": "http://127.0.0.1"}]}
    await kube.create(LocustTestV2.from_dict(rich), namespace=namespace)
    name = rich["metadata"]["name"]
    before = _without_status(await kube.get(LocustTestV2, name, namespace=namespace))

    # A v1 client reads, changes what it knows about, and writes the whole object back.
    as_v1 = (await kube.get(LocustTestV1, name, namespace=namespace)).to_dict()
    as_v1["spec"]["image"] = "locustio/locust:2.44.0"
    await kube.replace(LocustTestV1.from_dict(as_v1), namespace=namespace)

    after = _without_status(await kube.get(LocustTestV2, name, namespace=namespace))
    assert after["spec"]["image"] == "locustio/locust:2.44.0"
    expected = copy.deepcopy(before["spec"])
    expected["image"] = "locustio/locust:2.44.0"
    assert after["spec"] == expected
    assert V2_SPEC_ANNOTATION not in (after["metadata"].get("annotations") or {})
