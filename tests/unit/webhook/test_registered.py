"""/readyz waits until the registered CA is the one served (issue 12, finding 11)."""

from __future__ import annotations

import base64

from locust_operator.webhook.registered import registration_problem
from locust_operator.webhook.registration import (
    WebhookEndpoint,
    conversion_patch,
    validating_configuration,
)

ENDPOINT = WebhookEndpoint(url="https://127.0.0.1:9443")


def registered(ca: bytes) -> tuple[dict[str, object], dict[str, object]]:
    conversion = conversion_patch(ENDPOINT, ca)["spec"]["conversion"]
    return conversion, validating_configuration(ENDPOINT, ca)


def test_the_registration_of_the_served_ca_is_ready() -> None:
    assert registration_problem(b"ours", *registered(b"ours")) is None


def test_another_replicas_ca_is_not_ready() -> None:
    problem = registration_problem(b"ours", *registered(b"theirs"))
    assert problem is not None and "another CA" in problem


def test_one_stale_registration_is_enough_to_wait() -> None:
    conversion, _ = registered(b"ours")
    _, validating = registered(b"theirs")
    assert registration_problem(b"ours", conversion, validating) is not None
    assert registration_problem(b"ours", conversion, None) is not None
    assert base64.b64encode(b"ours").decode() in str(conversion)
