"""Names of the objects and volumes the operator creates for a LocustTest.

(The names of the API itself, group, kind and versions, are in ``api/names.py``.)
"""

from __future__ import annotations

import hashlib
import re

from locust_operator.api.dns_names import is_dns1123_label
from locust_operator.api.reserved import (
    MASTER_SUFFIX,
    MAX_RESOURCE_NAME_LENGTH,
    SECRET_VOLUME_PREFIX,
    WORKER_SUFFIX,
)
from locust_operator.config import Role

MASTER: Role = "master"
WORKER: Role = "worker"

_SUFFIXES: dict[Role, str] = {MASTER: MASTER_SUFFIX, WORKER: WORKER_SUFFIX}
_HASH_LENGTH = 8


def child_name(test_name: str, role: Role) -> str:
    """'<name>-master' / '<name>-worker'. Dots become dashes, as in the reference: test names
    may contain dots, Service names (DNS-1035 labels) may not."""
    return (test_name + _SUFFIXES[role]).replace(".", "-")


def master_service_name(test_name: str) -> str:
    return child_name(test_name, MASTER)


def master_job_name(test_name: str) -> str:
    return child_name(test_name, MASTER)


def worker_job_name(test_name: str) -> str:
    return child_name(test_name, WORKER)


def secret_volume_name(secret_name: str) -> str:
    """The volume mounting a Secret: 'secret-<name>' when that is a valid volume name (a
    DNS-1123 label), as in the reference. Secret names may contain dots and be longer, so
    otherwise a sanitised, truncated name plus a hash of the original keeps it valid, unique
    and deterministic."""
    plain = SECRET_VOLUME_PREFIX + secret_name
    if is_dns1123_label(plain):
        return plain
    digest = hashlib.sha256(secret_name.encode()).hexdigest()[:_HASH_LENGTH]
    room = MAX_RESOURCE_NAME_LENGTH - len(SECRET_VOLUME_PREFIX) - len(digest) - 1
    stem = re.sub(r"[^a-z0-9-]", "-", secret_name.lower())[:room].strip("-")
    return f"{SECRET_VOLUME_PREFIX}{stem}-{digest}" if stem else SECRET_VOLUME_PREFIX + digest
