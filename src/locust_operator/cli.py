"""`locust-operator`: run the operator, or print the CRD generated from the Python types.

`run` is on the operator's way to ready: only the command given gets its flags defined
(the `test` group's are many), and what a command needs is imported when it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from locust_operator import __version__
from locust_operator.api.dns_names import is_dns1123_label, is_dns1123_subdomain
from locust_operator.kube.leader_config import (
    DEFAULT_LEASE_NAME,
    RETRY_JITTER,
    LeaderElectionConfig,
    default_identity,
    default_namespace,
)
from locust_operator.logs import LOG_FORMATS, LOG_LEVELS

if TYPE_CHECKING:
    from locust_operator.webhook import WebhookOptions

COMMANDS = ("crd", "webhooks", "test", "run")

DEFAULT_HEALTH_PROBE_ADDRESS = "0.0.0.0:8081"
_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>ms|s|m)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "0.0.0.0", int(port)


def _optional_host_port(value: str) -> tuple[str, int] | None:
    """HOST:PORT, or the empty string for "off"."""
    return _host_port(value) if value.strip() else None


def _duration(value: str) -> float:
    """Seconds from "15s", "500ms", "1m" or a plain number of seconds; must be > 0."""
    match = _DURATION.fullmatch(value.strip())
    if not match or float(match["number"]) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive duration such as 15s, 500ms or 1m, got {value!r}"
        )
    return float(match["number"]) * _UNIT_SECONDS[match["unit"]]


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"--webhook-url must be an https:// URL the apiserver can reach, got {value!r}"
        )
    return value


def watched_namespaces(values: Sequence[str]) -> list[str]:
    """--namespace values (repeated and/or comma-separated), in order, without duplicates;
    empty means all namespaces."""
    names = [name.strip() for value in values for name in value.split(",")]
    return list(dict.fromkeys(name for name in names if name))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command`` (one of COMMANDS), only that command is
    defined: it parses that command's arguments as the whole parser would."""
    parser = argparse.ArgumentParser(
        prog="locust-operator", description="Kubernetes operator for distributed Locust tests."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command in (None, "crd"):
        _add_crd_command(commands)
    if command in (None, "webhooks"):
        _add_webhooks_command(commands)
    if command in (None, "test"):
        from locust_operator.cli_test.options import add_test_commands

        add_test_commands(commands)
    if command in (None, "run"):
        _add_run_command(commands)
    return parser


def _add_crd_command(commands: Any) -> None:
    crd = commands.add_parser("crd", help="print the LocustTest CRD generated from the API types")
    crd.add_argument("--output", "-o", help="write to this file instead of stdout")


def _add_webhooks_command(commands: Any) -> None:
    webhooks_command = commands.add_parser(
        "webhooks", help="manage the webhook registrations of an operator run outside the cluster"
    )
    webhook_actions = webhooks_command.add_subparsers(
        dest="webhooks_action", required=True, metavar="ACTION"
    )
    unregister = webhook_actions.add_parser(
        "unregister",
        help="remove webhooks registered by URL (--webhook-url) by an operator that is gone",
        description="Removes the registrations an operator run with --webhook-url left "
        "behind when it was killed: a conversion by URL goes back to the CRD's installed "
        "one (v2 needs none; v1 requests wait for an operator to serve it) and a "
        "ValidatingWebhookConfiguration calling a URL is deleted. Registrations by "
        "Service (an in-cluster operator's) are left alone.",
    )
    unregister.add_argument(
        "--kubeconfig",
        help="kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, then in-cluster)",
    )


def _add_run_command(commands: Any) -> None:
    run = commands.add_parser("run", help="run the operator")
    run.add_argument(
        "--kubeconfig",
        help="kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, then in-cluster)",
    )
    run.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    run.add_argument(
        "--log-format",
        default="console",
        choices=LOG_FORMATS,
        help="console lines, or JSON lines (time, level, logger, message, and namespace and "
        "name when a line concerns a LocustTest); default: console",
    )
    run.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NAMESPACE",
        help="watch only this namespace (repeat, or comma-separate, for several; "
        "default: all namespaces)",
    )
    run.add_argument(
        "--no-controller",
        dest="enable_controller",
        action="store_false",
        help="serve the webhooks only, do not reconcile LocustTests",
    )
    run.add_argument(
        "--health-probe-bind-address",
        type=_optional_host_port,
        default=DEFAULT_HEALTH_PROBE_ADDRESS,
        metavar="HOST:PORT",
        help="where to serve the /healthz and /readyz probes (default: "
        f"{DEFAULT_HEALTH_PROBE_ADDRESS}; an empty value turns them off)",
    )
    run.add_argument(
        "--metrics-bind-address",
        type=_optional_host_port,
        metavar="HOST:PORT",
        help="where to serve Prometheus /metrics (default: off)",
    )
    election = run.add_argument_group(
        "leader election",
        "with several replicas, only the holder of a Lease reconciles; every replica "
        "serves webhooks, probes and metrics",
    )
    election.add_argument(
        "--leader-elect",
        action="store_true",
        help="reconcile only while holding the leader Lease (default: off, always reconcile)",
    )
    election.add_argument(
        "--leader-election-id",
        default=DEFAULT_LEASE_NAME,
        metavar="NAME",
        help=f"name of the Lease (default: {DEFAULT_LEASE_NAME})",
    )
    election.add_argument(
        "--leader-election-namespace",
        metavar="NAMESPACE",
        help="namespace of the Lease (default: $POD_NAMESPACE, else the in-cluster service "
        'account\'s namespace, else "default")',
    )
    election.add_argument(
        "--leader-election-lease-duration",
        type=_duration,
        default=15.0,
        metavar="DURATION",
        help="how long candidates wait for an unrenewed Lease before taking it (default: 15s)",
    )
    election.add_argument(
        "--leader-election-renew-deadline",
        type=_duration,
        default=10.0,
        metavar="DURATION",
        help="how long the leader keeps trying to renew before it stops reconciling and "
        "exits (default: 10s)",
    )
    election.add_argument(
        "--leader-election-retry-period",
        type=_duration,
        default=2.0,
        metavar="DURATION",
        help="time between attempts to acquire or renew the Lease (default: 2s)",
    )
    webhooks = run.add_argument_group("webhooks")
    webhooks.add_argument(
        "--enable-webhooks",
        action="store_true",
        help="serve the conversion and validating webhooks and register them",
    )
    webhooks.add_argument(
        "--webhook-url",
        type=_https_url,
        help="outside a cluster: the https URL the apiserver calls (e.g. https://127.0.0.1:9443); "
        "the webhooks are registered by URL and served on its port",
    )
    webhooks.add_argument(
        "--webhook-bind-address",
        type=_host_port,
        help="HOST:PORT to serve the webhooks on (default 0.0.0.0:9443, or the URL's host:port)",
    )
    webhooks.add_argument(
        "--webhook-cert-dir",
        help="directory with tls.crt/tls.key (and ca.crt); without it a self-signed "
        "certificate is generated and its CA patched into the registrations",
    )
    webhooks.add_argument(
        "--webhook-cert-secret",
        metavar="NAME",
        help="without --webhook-cert-dir: keep the self-generated certificate in this Secret "
        "(in --webhook-service-namespace), shared by every replica and renewed before it expires",
    )
    webhooks.add_argument("--webhook-service-name", default="locust-k8s-operator-webhook")
    webhooks.add_argument("--webhook-service-namespace", default="locust-operator-system")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    # The first argument names the command (the only options before it are --help and
    # --version): only that one's flags are defined. Anything else gets the whole parser.
    first = arguments[0] if arguments else None
    args = build_parser(first if first in COMMANDS else None).parse_args(arguments)
    if args.command == "crd":
        from locust_operator.api.crd import render_crd_yaml

        text = render_crd_yaml()
        if args.output:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text)
        else:
            sys.stdout.write(text)
        return 0

    if args.command == "test":
        from locust_operator.cli_test.commands import main as test_main

        return test_main(args)

    if args.command == "webhooks":
        return asyncio.run(_unregister_webhooks(args.kubeconfig))

    from locust_operator.config import ConfigError, OperatorConfig
    from locust_operator.logs import configure_logging
    from locust_operator.runtime import OperatorOptions, run_operator

    try:
        config = OperatorConfig.from_env(os.environ)
    except ConfigError as error:
        print(f"locust-operator: invalid configuration: {error}", file=sys.stderr)
        return 2
    try:
        leader_election = _leader_election(args)
    except ValueError as error:
        print(f"locust-operator: {error}", file=sys.stderr)
        return 2
    namespaces = watched_namespaces(args.namespace)

    configure_logging(args.log_level, args.log_format)
    if args.leader_elect and not args.enable_controller:
        logging.getLogger("locust_operator").warning(
            "--leader-elect has no effect with --no-controller: nothing to elect a leader for"
        )
    if args.webhook_bind_address is None and args.webhook_url:
        url = urlsplit(args.webhook_url)
        args.webhook_bind_address = (url.hostname, url.port or 443)
    options = OperatorOptions(
        kubeconfig=args.kubeconfig,
        namespaces=namespaces,
        config=config,
        enable_controller=args.enable_controller,
        health_probe_bind=args.health_probe_bind_address,
        metrics_bind=args.metrics_bind_address,
        leader_election=leader_election if args.enable_controller else None,
        webhooks=_webhook_options(args),
    )
    return asyncio.run(run_operator(options))


def _webhook_options(args: argparse.Namespace) -> WebhookOptions | None:
    """--enable-webhooks and its settings (the webhook package is imported only then)."""
    if not args.enable_webhooks:
        return None
    from locust_operator.webhook import WebhookOptions

    return WebhookOptions(
        url=args.webhook_url,
        bind=args.webhook_bind_address or ("0.0.0.0", 9443),
        cert_dir=args.webhook_cert_dir,
        cert_secret=args.webhook_cert_secret,
        service_name=args.webhook_service_name,
        service_namespace=args.webhook_service_namespace,
    )


async def _unregister_webhooks(kubeconfig: str | None) -> int:
    """`locust-operator webhooks unregister`: prints what it removed and what it left."""
    from lightkube.core.exceptions import ApiError

    from locust_operator.kube.client import NoClusterConfig, async_client, load_kube_config
    from locust_operator.kube.reachability import is_connection_error
    from locust_operator.webhook.unregister import NothingToUnregister, unregister_url_webhooks

    try:
        client = async_client(load_kube_config(kubeconfig))
    except NoClusterConfig as error:
        print(f"locust-operator: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # unreadable or malformed kubeconfig: any parser's error
        print(f"locust-operator: --kubeconfig {kubeconfig}: {error}", file=sys.stderr)
        return 2
    try:
        changed, left = await unregister_url_webhooks(client)
    except NothingToUnregister as nothing:
        print(f"nothing to unregister: {nothing}")
        return 0
    except ApiError as error:
        print(f"locust-operator: {error.status.message}", file=sys.stderr)
        return 1
    except Exception as error:
        if not is_connection_error(error):
            raise
        print(f"locust-operator: cannot reach the cluster: {error!r}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    for line in changed:
        print(f"removed: {line}")
    for line in left:
        print(f"left in place: {line}")
    if not changed:
        print("no webhook registered by URL: nothing removed")
    return 0


def _leader_election(args: argparse.Namespace) -> LeaderElectionConfig | None:
    """The Lease settings of --leader-elect; ValueError names the flags that disagree."""
    if not args.leader_elect:
        return None
    lease, renew, retry = (
        args.leader_election_lease_duration,
        args.leader_election_renew_deadline,
        args.leader_election_retry_period,
    )
    if not lease > renew:
        raise ValueError(
            f"--leader-election-lease-duration ({lease:g}s) must be longer than "
            f"--leader-election-renew-deadline ({renew:g}s)"
        )
    if not renew > retry * (1 + RETRY_JITTER):
        raise ValueError(
            f"--leader-election-renew-deadline ({renew:g}s) must be longer than "
            f"{1 + RETRY_JITTER:g} x --leader-election-retry-period ({retry:g}s)"
        )
    name = args.leader_election_id
    if not is_dns1123_subdomain(name):
        raise ValueError(
            f"--leader-election-id must be a DNS subdomain (lower case letters, digits, '-' "
            f"and '.'; at most 253 characters), got {name!r}"
        )
    namespace = args.leader_election_namespace or default_namespace()
    if not is_dns1123_label(namespace):
        raise ValueError(
            f"--leader-election-namespace must be a namespace name (lower case letters, "
            f"digits and '-'; at most 63 characters), got {namespace!r}"
        )
    return LeaderElectionConfig(
        identity=default_identity(),
        namespace=namespace,
        lease_name=args.leader_election_id,
        lease_duration=lease,
        renew_deadline=renew,
        retry_period=retry,
    )


if __name__ == "__main__":
    sys.exit(main())
