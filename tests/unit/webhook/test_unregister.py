"""What a by-URL operator puts back on exit, and what `webhooks unregister` clears."""

from __future__ import annotations

from typing import Any

from locust_operator.webhook.unregister import (
    conversion_merge_patch,
    conversion_to_restore,
    conversion_url,
    installed_conversion,
    validating_urls,
)

SERVICE = {"name": "locust-k8s-operator-webhook", "namespace": "ops", "path": "/convert"}
NO_CONVERSION = {"strategy": "None"}


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


def test_what_was_there_is_put_back() -> None:
    in_cluster = webhook_conversion({"service": SERVICE, "caBundle": "Q0E="})
    as_installed = webhook_conversion({"service": SERVICE})
    assert conversion_to_restore(in_cluster) == in_cluster
    assert conversion_to_restore(as_installed) == as_installed
    assert conversion_to_restore(NO_CONVERSION) == NO_CONVERSION
    assert conversion_to_restore(None) == {"strategy": "None"}


def test_a_url_registration_it_replaced_becomes_the_installed_conversion() -> None:
    # Another process's URL is gone or registers again; never strategy None, under which
    # the apiserver strips a v1 object's fields when it stores it as v2.
    stale_url = webhook_conversion({"url": "https://10.0.0.1:9443/convert", "caBundle": "Q0E="})
    restored = conversion_to_restore(stale_url)
    assert restored == installed_conversion()
    assert restored["strategy"] == "Webhook"
    assert "url" not in restored["webhook"]["clientConfig"]


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
    as_installed = conversion_merge_patch(webhook_conversion({"service": SERVICE}), None)
    client_config = as_installed["spec"]["conversion"]["webhook"]["clientConfig"]
    assert client_config == {"url": None, "service": SERVICE, "caBundle": None}
