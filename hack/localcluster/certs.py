"""Certificate files for the local control plane: a throwaway CA per data dir, issued
through the operator's own certificate code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from locust_operator.webhook import certs


@dataclass(frozen=True)
class CertPair:
    """Paths of a PEM certificate (or public key) and its private key."""

    cert: Path
    key: Path


class CertificateAuthority:
    """A CA whose certificate and issued pairs are written into ``directory``."""

    def __init__(self, directory: Path, name: str = "locust-operator-local-ca") -> None:
        self.directory = directory
        self._ca = certs.CertificateAuthority(name)
        self.pair = self._write("ca", self._ca.pair)

    def issue(
        self,
        stem: str,
        common_name: str,
        *,
        organization: str | None = None,
        dns_names: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = (),
        server: bool = False,
        client: bool = False,
    ) -> CertPair:
        issued = self._ca.issue(
            common_name,
            organization=organization,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            server=server,
            client=client,
        )
        return self._write(stem, issued)

    def _write(self, stem: str, pair: certs.CertPair) -> CertPair:
        paths = CertPair(self.directory / f"{stem}.crt", self.directory / f"{stem}.key")
        pair.write(paths.cert, paths.key)
        return paths


def write_service_account_keys(directory: Path) -> CertPair:
    """The key pair the apiserver signs service-account tokens with (RSA, as kube expects)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pair = CertPair(directory / "sa.pub", directory / "sa.key")
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.key.chmod(0o600)
    pair.cert.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pair
