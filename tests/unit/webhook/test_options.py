"""How the process says where the webhooks are reached, and what the certificate names."""

from __future__ import annotations

from locust_operator.webhook import WebhookOptions


def test_outside_a_cluster_the_url_is_the_endpoint_and_its_host_the_name() -> None:
    options = WebhookOptions(url="https://127.0.0.1:9443")
    assert options.endpoint().url == "https://127.0.0.1:9443"
    assert options.hosts() == ["127.0.0.1"]


def test_in_a_cluster_the_service_is_the_endpoint_with_its_dns_names() -> None:
    options = WebhookOptions(service_name="hooks", service_namespace="ops")
    endpoint = options.endpoint()
    assert (endpoint.url, endpoint.service_name, endpoint.service_namespace) == (
        None,
        "hooks",
        "ops",
    )
    assert options.hosts() == ["hooks.ops.svc", "hooks.ops.svc.cluster.local"]
