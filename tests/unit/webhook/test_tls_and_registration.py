"""Serving certificates (generated or from files, reloaded on change) and registration."""

from __future__ import annotations

import base64
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509

from locust_operator.webhook import serving
from locust_operator.webhook.registration import (
    WebhookEndpoint,
    conversion_patch,
    validating_configuration,
)
from locust_operator.webhook.tls import ReloadingTLSContext


def _sans(cert_path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in names]


def test_self_signed_certificate_covers_the_hosts_and_chains_to_the_bundle(tmp_path: Path) -> None:
    cert = serving.generate_self_signed(tmp_path, ["svc.ns.svc", "127.0.0.1"])
    assert _sans(cert.cert_path) == ["svc.ns.svc", "127.0.0.1"]
    client = ssl.create_default_context(cadata=cert.ca_bundle.decode())
    assert client.verify_mode == ssl.CERT_REQUIRED  # the bundle loads as a trust anchor
    issuer = x509.load_pem_x509_certificate(cert.ca_bundle).subject
    assert x509.load_pem_x509_certificate(cert.cert_path.read_bytes()).issuer == issuer


def test_certificates_from_files_need_both_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"tls\.crt"):
        serving.from_files(tmp_path)


def test_tls_context_reloads_a_changed_certificate(tmp_path: Path) -> None:
    first = serving.generate_self_signed(tmp_path, ["127.0.0.1"])
    tls = ReloadingTLSContext(first.cert_path, first.key_path)
    assert tls.context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert tls.reload_if_changed() is False
    time.sleep(0.01)
    serving.generate_self_signed(tmp_path, ["127.0.0.1"])
    assert tls.reload_if_changed() is True


def test_endpoint_is_a_url_or_a_service() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        WebhookEndpoint()
    with pytest.raises(ValueError, match="exactly one"):
        WebhookEndpoint(url="https://127.0.0.1:9443", service_name="s", service_namespace="n")


def test_conversion_patch_by_url_clears_the_service_form() -> None:
    patch = conversion_patch(WebhookEndpoint(url="https://127.0.0.1:9443/"), b"CA")
    webhook = patch["spec"]["conversion"]["webhook"]
    assert patch["spec"]["conversion"]["strategy"] == "Webhook"
    assert webhook["conversionReviewVersions"] == ["v1"]
    assert webhook["clientConfig"] == {
        "url": "https://127.0.0.1:9443/convert",
        "service": None,
        "caBundle": base64.b64encode(b"CA").decode(),
    }


def test_validating_configuration_by_service_covers_both_versions() -> None:
    endpoint = WebhookEndpoint(service_name="hook", service_namespace="ops")
    webhook = validating_configuration(endpoint, b"CA")["webhooks"][0]
    assert webhook["clientConfig"]["service"] == {
        "name": "hook",
        "namespace": "ops",
        "path": "/validate",
        "port": 443,
    }
    assert webhook["rules"][0]["apiVersions"] == ["v1", "v2"]
    assert webhook["rules"][0]["operations"] == ["CREATE", "UPDATE"]
    assert webhook["failurePolicy"] == "Fail" and webhook["sideEffects"] == "None"
