"""Arguments of the Locust containers (the image's entrypoint is `locust`, as in the
reference only args are set)."""

from __future__ import annotations

from locust_operator.api import v2

from .names import master_service_name
from .ports import MASTER_PORT


def master_args(spec: v2.LocustTestSpec, otel: bool) -> list[str]:
    master = spec.master
    args = master.command.split()
    if otel:
        args.append("--otel")
    # A master binds --master-bind-port; it ignores --master-port.
    args += [
        "--master",
        f"--master-bind-port={MASTER_PORT}",
        f"--expect-workers={spec.worker.replicas}",
    ]
    if master.autostart:
        args.append("--autostart")
    # Locust refuses --autoquit without --autostart (exit 1 at startup): a test started
    # from the web UI is stopped from there too.
    if master.autoquit.enabled and master.autostart:
        args += ["--autoquit", str(master.autoquit.timeout)]
    args += ["--enable-rebalancing", "--only-summary"]
    return args + list(master.extra_args or [])


def worker_args(spec: v2.LocustTestSpec, test_name: str, otel: bool) -> list[str]:
    args = spec.worker.command.split()
    if otel:
        args.append("--otel")
    args += [
        "--worker",
        f"--master-port={MASTER_PORT}",
        f"--master-host={master_service_name(test_name)}",
    ]
    return args + list(spec.worker.extra_args or [])
