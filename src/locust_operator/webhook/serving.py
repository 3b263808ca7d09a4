"""The webhook serving certificate: files from --webhook-cert-dir, or generated self-signed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from locust_operator.webhook.certs import CertificateAuthority, serving_names

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
CA_FILE = "ca.crt"


@dataclass(frozen=True)
class ServingCertificate:
    cert_path: Path
    key_path: Path
    ca_bundle: bytes  # what the apiserver must trust to call us


def generate_self_signed(cert_dir: Path, hosts: list[str]) -> ServingCertificate:
    """A fresh CA and a serving certificate for ``hosts`` (DNS names or IPs)."""
    ca = CertificateAuthority()
    dns_names, ip_addresses = serving_names(hosts)
    pair = ca.issue(hosts[0], dns_names=dns_names, ip_addresses=ip_addresses)
    pair.write(cert_dir / CERT_FILE, cert_dir / KEY_FILE)
    (cert_dir / CA_FILE).write_bytes(ca.cert_pem)
    return ServingCertificate(cert_dir / CERT_FILE, cert_dir / KEY_FILE, ca.cert_pem)


def from_files(cert_dir: Path) -> ServingCertificate:
    """Certificates provisioned by someone else (cert-manager, a Secret mount).

    The CA bundle is ca.crt when present, else the serving certificate itself.
    """
    cert, key, ca = cert_dir / CERT_FILE, cert_dir / KEY_FILE, cert_dir / CA_FILE
    for path in (cert, key):
        if not path.is_file():
            raise FileNotFoundError(f"webhook certificate file missing: {path}")
    return ServingCertificate(cert, key, (ca if ca.is_file() else cert).read_bytes())
