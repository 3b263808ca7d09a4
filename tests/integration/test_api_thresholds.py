"""spec.thresholds on the real apiserver with no webhook: the CRD's schema and CEL rules
accept valid thresholds (fractions kept as numbers) and reject unknown metrics and
nonsense limits, naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration

from locust_operator.webhook.registration import VALIDATING_CONFIGURATION_NAME
from tests.helpers import new_namespace
from tests.locusttests import LocustTestV2, minimal_v2

pytestmark = pytest.mark.cluster


@pytest.fixture
async def namespace(kube: AsyncClient, crd: str) -> AsyncIterator[str]:
    try:  # webhooks off: the schema alone decides
        await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    except ApiError as error:
        assert error.status.code == 404
    async with new_namespace(kube, "thresholds") as name:
        yield name


def with_thresholds(name: str, *thresholds: dict[str, Any]) -> Any:
    obj = minimal_v2(name)
    obj["spec"]["thresholds"] = list(thresholds)
    return LocustTestV2.from_dict(obj)


async def test_valid_thresholds_are_stored_as_written(kube: AsyncClient, namespace: str) -> None:
    thresholds = [
        {"metric": "failRatio", "max": 0.01},
        {"metric": "p95ResponseTime", "max": 500, "endpoint": "/api", "method": "GET"},
        {"metric": "rps", "min": 12.5, "abortOnFail": True, "abortDelaySeconds": 30},
    ]
    created = await kube.create(with_thresholds("ok", *thresholds), namespace=namespace)
    stored = created["spec"]["thresholds"]
    assert [(t["metric"], t.get("max"), t.get("min")) for t in stored] == [
        ("failRatio", 0.01, None),
        ("p95ResponseTime", 500, None),
        ("rps", None, 12.5),
    ]
    assert stored[0]["abortOnFail"] is False  # defaulted


@pytest.mark.parametrize(
    ("threshold", "field", "words"),
    [
        ({"metric": "p90", "max": 1}, "spec.thresholds[0].metric", "Unsupported value"),
        ({"metric": "rps"}, "spec.thresholds[0].max", "set exactly one of max"),
        ({"metric": "rps", "max": 1, "min": 0}, "spec.thresholds[0].max", "exactly one"),
        ({"metric": "failRatio", "max": 5}, "spec.thresholds[0].metric", "fraction from 0 to 1"),
        ({"metric": "rps", "min": -1}, "spec.thresholds[0].min", "greater than or equal to 0"),
        ({"metric": "rps", "max": 1, "method": "GET"}, "spec.thresholds[0].method", "endpoint"),
    ],
    ids=["unknown-metric", "no-bound", "two-bounds", "ratio-over-1", "negative", "method-alone"],
)
async def test_nonsense_is_rejected_naming_the_field(
    kube: AsyncClient, namespace: str, threshold: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ApiError) as rejected:
        await kube.create(with_thresholds("bad", threshold), namespace=namespace)
    message = rejected.value.status.message or ""
    assert rejected.value.status.code == 422, message
    assert field in message and words in message, message
