"""One self-generated webhook certificate shared by every replica, kept in a Secret.

Replicas behind one Service must serve certificates signed by the same CA: the apiserver
trusts the single caBundle registered in the CRD and the ValidatingWebhookConfiguration.
The first replica to start creates the Secret (``kubernetes.io/tls`` with ``tls.crt``,
``tls.key`` and ``ca.crt``); the others read it. Creation and renewal are races the
apiserver decides: a create that finds the Secret already there, or an update with a stale
resourceVersion, loses and the loser uses the winner's certificate.

A renewal issues a new CA and serving certificate; ``ca.crt`` then holds the new CA and the
one that signed the previous certificate, so replicas still serving the previous
certificate stay trusted until they pick up the new one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import ipaddress
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret

from locust_operator.webhook.certs import DEFAULT_VALIDITY, CertificateAuthority, serving_names
from locust_operator.webhook.serving import CA_FILE, CERT_FILE, KEY_FILE, ServingCertificate

log = logging.getLogger(__name__)

SECRET_TYPE = "kubernetes.io/tls"
DEFAULT_RENEW_BEFORE = datetime.timedelta(days=30)
DEFAULT_REFRESH_INTERVAL = 300.0  # seconds between two reads of the Secret by a replica
CA_COMMON_NAME = "locust-k8s-operator-ca"
MANAGED_BY_LABELS = {"app.kubernetes.io/managed-by": "locust-k8s-operator"}

# Each attempt either wins a create/update or reads what won; a few rounds settle any race.
_MAX_ATTEMPTS = 5


class SharedCertificateError(RuntimeError):
    """The shared certificate could not be read, created or renewed."""


@dataclass(frozen=True)
class CertificateBundle:
    """The PEM contents of the Secret: serving certificate, its key, and the trusted CAs."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def secret_data(self) -> dict[str, str]:
        return {
            CERT_FILE: base64.b64encode(self.cert_pem).decode(),
            KEY_FILE: base64.b64encode(self.key_pem).decode(),
            CA_FILE: base64.b64encode(self.ca_pem).decode(),
        }

    @classmethod
    def from_secret(cls, secret: Secret) -> CertificateBundle | None:
        """The bundle a Secret holds, or None when a key is missing or not base64."""
        data = secret.data or {}
        try:
            cert, key, ca = (base64.b64decode(data[k], validate=True) for k in _KEYS)
        except (KeyError, binascii.Error, TypeError):
            return None
        return cls(cert, key, ca)


_KEYS = (CERT_FILE, KEY_FILE, CA_FILE)


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _covers(cert: x509.Certificate, hosts: Sequence[str]) -> bool:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    dns = {name.lower() for name in sans.get_values_for_type(x509.DNSName)}
    ips = set(sans.get_values_for_type(x509.IPAddress))
    wanted_dns, wanted_ips = serving_names(list(hosts))
    return all(name.lower() in dns for name in wanted_dns) and all(
        ipaddress.ip_address(ip) in ips for ip in wanted_ips
    )


def _issuer(cert: x509.Certificate, cas: Sequence[x509.Certificate]) -> x509.Certificate | None:
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return ca
    return None


def renewal_reason(
    bundle: CertificateBundle,
    hosts: Sequence[str],
    *,
    renew_before: datetime.timedelta = DEFAULT_RENEW_BEFORE,
    now: datetime.datetime | None = None,
) -> str | None:
    """Why the bundle cannot be served as it is (None: it can).

    It must parse, its key must match its certificate, the certificate must be signed by a
    CA in the bundle, name every host, and neither may expire within ``renew_before``.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    try:
        cert = x509.load_pem_x509_certificate(bundle.cert_pem)
        key = serialization.load_pem_private_key(bundle.key_pem, password=None)
        cas = x509.load_pem_x509_certificates(bundle.ca_pem)
    except (ValueError, TypeError):
        return "it does not hold a readable certificate, key and CA"
    if _spki(key.public_key()) != _spki(cert.public_key()):
        return "its key does not belong to its certificate"
    ca = _issuer(cert, cas)
    if ca is None:
        return "its certificate is not signed by its CA"
    if not _covers(cert, hosts):
        return f"its certificate does not name all of {', '.join(hosts)}"
    expires = min(cert.not_valid_after_utc, ca.not_valid_after_utc)
    if expires - now <= renew_before:
        return f"it expires at {expires.isoformat()}"
    return None


def generate_bundle(
    hosts: Sequence[str],
    *,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
    previous: CertificateBundle | None = None,
) -> CertificateBundle:
    """A fresh CA and a serving certificate for ``hosts``.

    ``ca.crt`` also keeps the CA that signed ``previous``'s certificate while it is valid,
    so the certificate it replaces stays trusted during the rotation.
    """
    if not hosts:
        raise ValueError("a serving certificate needs at least one host")
    # A distinct CA name per generation: old and new CA may share a bundle.
    ca = CertificateAuthority(f"{CA_COMMON_NAME}@{int(time.time())}", validity=validity)
    dns_names, ip_addresses = serving_names(list(hosts))
    pair = ca.issue(hosts[0], dns_names=dns_names, ip_addresses=ip_addresses, validity=validity)
    return CertificateBundle(pair.cert_pem, pair.key_pem, ca.cert_pem + _still_trusted(previous))


def _still_trusted(previous: CertificateBundle | None) -> bytes:
    if previous is None:
        return b""
    try:
        cert = x509.load_pem_x509_certificate(previous.cert_pem)
        cas = x509.load_pem_x509_certificates(previous.ca_pem)
    except ValueError:
        return b""
    ca = _issuer(cert, cas)
    if ca is None or ca.not_valid_after_utc <= datetime.datetime.now(datetime.UTC):
        return b""
    return ca.public_bytes(serialization.Encoding.PEM)


def _write_atomically(path: Path, content: bytes, mode: int) -> bool:
    """Replaces the file unless it already holds ``content``; True when it was written."""
    try:
        if path.read_bytes() == content:
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_bundle(bundle: CertificateBundle, cert_dir: Path) -> ServingCertificate:
    """Writes tls.key, tls.crt and ca.crt into ``cert_dir`` (each replaced atomically, and
    only when changed, so the TLS context reloads only on a real change)."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    # The key first: a reader that sees the new certificate finds its key in place (and a
    # reader that sees a mismatched pair retries, see ReloadingTLSContext.watch).
    _write_atomically(cert_dir / KEY_FILE, bundle.key_pem, 0o600)
    _write_atomically(cert_dir / CERT_FILE, bundle.cert_pem, 0o644)
    _write_atomically(cert_dir / CA_FILE, bundle.ca_pem, 0o644)
    return ServingCertificate(cert_dir / CERT_FILE, cert_dir / KEY_FILE, bundle.ca_pem)


def _new_secret(namespace: str, name: str, bundle: CertificateBundle) -> Secret:
    return Secret(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=dict(MANAGED_BY_LABELS)),
        type=SECRET_TYPE,
        data=bundle.secret_data(),
    )


async def _get(client: AsyncClient, namespace: str, name: str) -> Secret | None:
    try:
        return await client.get(Secret, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise


async def _settle(
    client: AsyncClient,
    namespace: str,
    name: str,
    hosts: Sequence[str],
    renew_before: datetime.timedelta,
    validity: datetime.timedelta,
) -> CertificateBundle:
    """The bundle every replica agrees on: the Secret's, created or renewed if need be."""
    where = f"Secret {namespace}/{name}"
    for _ in range(_MAX_ATTEMPTS):
        secret = await _get(client, namespace, name)
        if secret is None:
            bundle = generate_bundle(hosts, validity=validity)
            try:
                await client.create(_new_secret(namespace, name, bundle))
            except ApiError as error:
                if error.status.code == 409:  # another replica created it first: read it
                    continue
                raise
            log.info("created the webhook certificate in %s", where)
            return bundle

        current = CertificateBundle.from_secret(secret)
        reason = (
            "it lacks tls.crt, tls.key or ca.crt"
            if current is None
            else renewal_reason(current, hosts, renew_before=renew_before)
        )
        if reason is None:
            assert current is not None
            return current
        bundle = generate_bundle(hosts, validity=validity, previous=current)
        # The resourceVersion read above makes the update conditional: if another replica
        # renewed in between, ours fails with 409 and the next round reads theirs.
        secret.data = bundle.secret_data()
        secret.stringData = None
        try:
            await client.replace(secret)
        except ApiError as error:
            if error.status.code in (404, 409):
                continue
            raise
        log.info("renewed the webhook certificate in %s: %s", where, reason)
        return bundle
    raise SharedCertificateError(
        f"{where}: no stable webhook certificate after {_MAX_ATTEMPTS} attempts "
        "(replicas keep replacing each other's)"
    )


async def ensure_shared_certificate(
    client: AsyncClient,
    namespace: str,
    secret_name: str,
    hosts: Sequence[str],
    cert_dir: Path,
    *,
    renew_before: datetime.timedelta = DEFAULT_RENEW_BEFORE,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> ServingCertificate:
    """The webhook serving certificate shared through Secret ``namespace/secret_name``.

    Creates the Secret when absent, renews it when it expires within ``renew_before`` or
    does not name every host, writes tls.crt, tls.key and ca.crt into ``cert_dir`` and
    returns the certificate with the CA bundle to register. Needs get, create and update
    on Secrets in ``namespace``.
    """
    bundle = await _settle(client, namespace, secret_name, hosts, renew_before, validity)
    return write_bundle(bundle, cert_dir)


async def watch_shared_certificate(
    client: AsyncClient,
    namespace: str,
    secret_name: str,
    hosts: Sequence[str],
    cert_dir: Path,
    *,
    on_change: Callable[[ServingCertificate], Awaitable[None]] | None = None,
    interval: float = DEFAULT_REFRESH_INTERVAL,
    renew_before: datetime.timedelta = DEFAULT_RENEW_BEFORE,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> None:
    """Runs until cancelled: every ``interval`` seconds, ensures the shared certificate
    again (renewing it when due) and rewrites ``cert_dir`` when the Secret changed, so a
    replica picks up a rotation made by another. ``on_change`` gets the certificate
    whenever the CA bundle changed (re-register the webhooks with it); a failure is
    logged and retried on the next tick.
    """
    ca_path = cert_dir / CA_FILE
    known = ca_path.read_bytes() if ca_path.is_file() else None
    while True:
        await asyncio.sleep(interval)
        try:
            certificate = await ensure_shared_certificate(
                client,
                namespace,
                secret_name,
                hosts,
                cert_dir,
                renew_before=renew_before,
                validity=validity,
            )
            if certificate.ca_bundle != known:
                log.info("webhook CA bundle changed in Secret %s/%s", namespace, secret_name)
                if on_change is not None:
                    await on_change(certificate)
                known = certificate.ca_bundle
        except Exception as error:  # keep serving what we have; try again next tick
            log.warning("webhook certificate refresh failed: %s", error)
