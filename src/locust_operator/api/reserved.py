"""Names, paths and command-line flags the operator owns inside the pods it generates.

Shared by the CRD's CEL rules (:mod:`.v2`) and the webhook's checks (:mod:`.validation`) so that
both reject the same things.
"""

from __future__ import annotations

from types import MappingProxyType

# Kubernetes object names (Service, Job) must be DNS-1123 labels: at most 63 characters.
MAX_RESOURCE_NAME_LENGTH = 63
MASTER_SUFFIX = "-master"
WORKER_SUFFIX = "-worker"
MAX_TEST_NAME_LENGTH = MAX_RESOURCE_NAME_LENGTH - max(len(MASTER_SUFFIX), len(WORKER_SUFFIX))

DEFAULT_SRC_MOUNT_PATH = "/lotest/src"
DEFAULT_LIB_MOUNT_PATH = "/opt/locust/lib"

# Volumes the operator adds: one per secretMount ("secret-<name>"), the lib ConfigMap volume,
# and the test-file ConfigMap volume named after the master/worker resource.
SECRET_VOLUME_PREFIX = "secret-"
LIB_VOLUME_NAME = "locust-lib"

# flag -> what controls it instead (shown in error messages).
OPERATOR_MANAGED_FLAGS: MappingProxyType[str, str] = MappingProxyType(
    {
        "--master": "the operator starts the master pod in master mode itself",
        "--worker": "the operator starts worker pods in worker mode itself",
        "--master-host": "the operator points workers at the '<name>-master' Service",
        "--master-port": "the operator fixes the master port (5557)",
        "--master-bind-port": "the operator fixes the master port (5557)",
        "--expect-workers": "it is derived from spec.worker.replicas",
        "--autostart": "it is controlled by spec.master.autostart",
        "--autoquit": "it is controlled by spec.master.autoquit (enabled, timeout)",
    }
)


def managed_flag(arg: str) -> str | None:
    """The operator-managed flag ``arg`` sets (as ``--flag`` or ``--flag=value``), if any.

    Locust's parser (argparse) also reads any unambiguous abbreviation of a long option
    (``--master-ho=evil``, ``--autoq 1``), so any prefix of a managed flag counts: an
    ambiguous one would only make Locust exit at startup."""
    flag = arg.split("=", 1)[0]
    if flag in OPERATOR_MANAGED_FLAGS:
        return flag
    if not flag.startswith("--") or len(flag) <= len("--"):
        return None
    matches = sorted(f for f in OPERATOR_MANAGED_FLAGS if f.startswith(flag))
    return matches[0] if matches else None


# CEL/RE2 equivalent of managed_flag(): the flag followed by '=' or the end of the argument.
MANAGED_FLAG_REGEX = (
    "^--("
    + "|".join(sorted((f[2:] for f in OPERATOR_MANAGED_FLAGS), key=lambda f: (-len(f), f)))
    + ")(=|$)"
)
