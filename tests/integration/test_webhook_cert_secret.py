"""The webhook certificate shared by replicas through a Secret, on the real apiserver: the
apiserver decides the create and update races, and what a replica serves validates against
the CA bundle every replica registers."""

from __future__ import annotations

import asyncio
import datetime
import logging
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret

from locust_operator.webhook.cert_secret import (
    CertificateBundle,
    ensure_shared_certificate,
    generate_bundle,
)
from locust_operator.webhook.server import WebhookServer
from locust_operator.webhook.tls import ReloadingTLSContext
from tests.helpers import new_namespace

pytestmark = pytest.mark.cluster

SECRET = "locust-webhook-cert"
HOST = "locust-k8s-operator-webhook.operator-system.svc"


async def _secrets(kube: AsyncClient, namespace: str) -> list[Secret]:
    return [s async for s in kube.list(Secret, namespace=namespace)]


async def _handshake(port: int, ca_bundle: bytes, server_hostname: str) -> str:
    """GET /healthz over TLS, verifying the server against ca_bundle for server_hostname."""
    context = ssl.create_default_context(cadata=ca_bundle.decode())
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname=server_hostname
    )
    try:
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {server_hostname}\r\n\r\n".encode())
        await writer.drain()
        return (await reader.readline()).decode()
    finally:
        writer.close()
        await writer.wait_closed()


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


async def test_replicas_starting_together_share_one_secret_and_ca(
    kube: AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="locust_operator.webhook.cert_secret")
    async with new_namespace(kube, "webhook-cert") as namespace:
        dirs = [tmp_path / "replica-a", tmp_path / "replica-b"]
        served = await asyncio.gather(
            *(ensure_shared_certificate(kube, namespace, SECRET, [HOST], d) for d in dirs)
        )

        assert _logged(caplog, "created the webhook certificate") == 1  # the other read it
        secrets = [s for s in await _secrets(kube, namespace) if s.type == "kubernetes.io/tls"]
        assert [s.metadata.name for s in secrets if s.metadata] == [SECRET]
        stored = CertificateBundle.from_secret(secrets[0])
        assert stored is not None
        assert served[0].ca_bundle == served[1].ca_bundle == stored.ca_pem
        assert served[0].cert_path.read_bytes() == served[1].cert_path.read_bytes()

        # A replica serving the shared files is trusted through the shared CA bundle, for
        # the Service's name and no other.
        server = WebhookServer(
            "127.0.0.1", 0, tls=ReloadingTLSContext(served[1].cert_path, served[1].key_path)
        )
        await server.start()
        try:
            status = await _handshake(server.port, served[0].ca_bundle, HOST)
            assert status.startswith("HTTP/1.1 200")
            with pytest.raises(ssl.SSLCertVerificationError):
                await _handshake(server.port, served[0].ca_bundle, "other.operator-system.svc")
        finally:
            await server.stop()


async def test_concurrent_renewals_of_an_expiring_secret_agree(
    kube: AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="locust_operator.webhook.cert_secret")
    async with new_namespace(kube, "webhook-cert") as namespace:
        # A certificate from the day before its renewal window ends.
        old = generate_bundle([HOST], validity=datetime.timedelta(days=1))
        await kube.create(
            Secret(
                metadata=ObjectMeta(name=SECRET, namespace=namespace),
                type="kubernetes.io/tls",
                data=old.secret_data(),
            )
        )

        dirs = [tmp_path / "a", tmp_path / "b"]
        served = await asyncio.gather(
            *(ensure_shared_certificate(kube, namespace, SECRET, [HOST], d) for d in dirs)
        )

        assert _logged(caplog, "renewed the webhook certificate") == 1  # the other lost a 409
        stored = CertificateBundle.from_secret(await kube.get(Secret, SECRET, namespace=namespace))
        assert stored is not None and stored.cert_pem != old.cert_pem
        assert served[0].ca_bundle == served[1].ca_bundle == stored.ca_pem
        cas = x509.load_pem_x509_certificates(stored.ca_pem)
        old_ca = x509.load_pem_x509_certificate(old.ca_pem)
        assert len(cas) == 2 and old_ca in cas  # the old certificate stays trusted meanwhile
        expires = x509.load_pem_x509_certificate(stored.cert_pem).not_valid_after_utc
        assert expires - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=300)
