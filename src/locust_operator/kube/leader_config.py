"""The settings of leader election (``--leader-elect``), apart from the elector itself
(``kube/leader.py``): the command line reads them at every start, and the elector and
its Lease client are loaded only once the caches are synced and a replica stands."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LEASE_NAME = "locust-k8s-operator.locust.io"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# A candidate waits a retry period plus up to this fraction of it between attempts, so
# that replicas started together do not keep colliding.
RETRY_JITTER = 0.2


def default_namespace(
    environ: dict[str, str] | None = None, service_account: Path = SERVICE_ACCOUNT_NAMESPACE
) -> str:
    """$POD_NAMESPACE, else the in-cluster service account's namespace, else "default"."""
    env = os.environ if environ is None else environ
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    with contextlib.suppress(OSError):
        namespace = service_account.read_text().strip()
        if namespace:
            return namespace
    return "default"


def default_identity(environ: dict[str, str] | None = None) -> str:
    """``<pod or host name>_<random>``: unique even if a restarted pod keeps its name."""
    import socket
    import uuid

    env = os.environ if environ is None else environ
    return f"{env.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class LeaderElectionConfig:
    identity: str
    namespace: str = "default"
    lease_name: str = DEFAULT_LEASE_NAME
    lease_duration: float = 15.0  # a candidate takes a Lease unchanged for this long
    renew_deadline: float = 10.0  # the leader steps down if it cannot renew for this long
    retry_period: float = 2.0  # between attempts to acquire or renew

    def __post_init__(self) -> None:
        if not self.retry_period > 0:
            raise ValueError("retry period must be positive")
        if not self.renew_deadline > self.retry_period * (1 + RETRY_JITTER):
            raise ValueError("renew deadline must exceed the retry period (with its jitter)")
        if not self.lease_duration > self.renew_deadline:
            raise ValueError("lease duration must exceed the renew deadline")
