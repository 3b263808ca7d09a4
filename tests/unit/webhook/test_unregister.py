"""What a by-URL operator puts back on exit, and what `webhooks unregister` clears."""

from __future__ import annotations

from typing import Any

from locust_operator.webhook.unregister import (
    NO_CONVERSION,
    conversion_merge_patch,
    conversion_to_restore,
    conversion_url,
    validating_urls,
)

SERVICE = {"name": "locust-k8s-operator-webhook", "namespace": "ops", "path": "/convert"}


def webhook_conversion(client_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "strategy": "Webhook",
        "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": client_config},
    }


def test_the_url_of_a_registration_by_url_and_none_for_a_service() -> None:
    by_url = webhook_conversion({"url": "https://127.0.0.1:9443/convert", "caBundle": "Q0E="})
    assert conversion_url(by_url) == "https://127.0.0.1:9443/convert"
    assert conversion_url(webhook_conversion({"service": SERVICE})) is None
    assert conversion_url(None) is None
    assert conversion_url(NO_CONVERSION) is None
    webhooks = [
        {"clientConfig": {"url": "https://127.0.0.1:9443/validate"}},
        {"clientConfig": {"service": SERVICE}},
    ]
    assert validating_urls(webhooks) == ["https://127.0.0.1:9443/validate"]


def test_an_in_cluster_operators_registration_is_put_back() -> None:
    registered = webhook_conversion({"service": SERVICE, "caBundle": "Q0E="})
    assert conversion_to_restore(registered) == registered


def test_a_registration_nobody_serves_becomes_no_conversion() -> None:
    # The CRD file's placeholder (a Service, no CA) and another process's URL could not
    # answer: putting them back would keep v1 reads failing.
    placeholder = webhook_conversion({"service": SERVICE})
    stale_url = webhook_conversion({"url": "https://10.0.0.1:9443/convert", "caBundle": "Q0E="})
    for previous in (placeholder, stale_url, None, NO_CONVERSION):
        assert conversion_to_restore(previous) == {"strategy": "None"}


def test_the_merge_patch_replaces_the_whole_conversion() -> None:
    assert conversion_merge_patch(NO_CONVERSION, "42") == {
        "metadata": {"resourceVersion": "42"},
        "spec": {"conversion": {"strategy": "None", "webhook": None}},
    }
    service = webhook_conversion({"service": SERVICE, "caBundle": "Q0E="})
    patch = conversion_merge_patch(service, None)
    assert "metadata" not in patch
    client_config = patch["spec"]["conversion"]["webhook"]["clientConfig"]
    assert client_config == {"url": None, "service": SERVICE, "caBundle": "Q0E="}
