"""The syntax of Kubernetes object names (DNS-1123), written once: the schema's patterns,
the operator's flag and environment checks and the generated volume names use it."""

from __future__ import annotations

import re
from typing import Final

DNS1123_LABEL: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_PATTERN: Final = rf"^{DNS1123_LABEL}(\.{DNS1123_LABEL})*$"
MAX_LABEL_LENGTH: Final = 63
MAX_SUBDOMAIN_LENGTH: Final = 253


def is_dns1123_label(name: str) -> bool:
    """A valid namespace, Service or volume name."""
    return len(name) <= MAX_LABEL_LENGTH and re.fullmatch(DNS1123_LABEL, name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    """A valid name of most objects (a Lease, a RuntimeClass)."""
    return (
        len(name) <= MAX_SUBDOMAIN_LENGTH
        and re.fullmatch(DNS1123_SUBDOMAIN_PATTERN, name) is not None
    )
