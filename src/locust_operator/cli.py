"""`locust-operator`: run the operator, or print the CRD generated from the Python types."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from locust_operator import __version__


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "0.0.0.0", int(port)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="locust-operator", description="Kubernetes operator for distributed Locust tests."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crd = commands.add_parser("crd", help="print the LocustTest CRD generated from the API types")
    crd.add_argument("--output", "-o", help="write to this file instead of stdout")

    run = commands.add_parser("run", help="run the operator")
    run.add_argument(
        "--kubeconfig",
        help="kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, then in-cluster)",
    )
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
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
        "--metrics-bind-address",
        type=_host_port,
        help="HOST:PORT to serve Prometheus /metrics and the /healthz, /readyz probes on "
        "(default: off)",
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
    webhooks.add_argument("--webhook-service-name", default="locust-k8s-operator-webhook")
    webhooks.add_argument("--webhook-service-namespace", default="locust-operator-system")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "crd":
        from locust_operator.api.crd import render_crd_yaml

        text = render_crd_yaml()
        if args.output:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text)
        else:
            sys.stdout.write(text)
        return 0

    from locust_operator.config import ConfigError, OperatorConfig
    from locust_operator.runtime import OperatorOptions, run_operator

    try:
        config = OperatorConfig.from_env(os.environ)
    except ConfigError as error:
        print(f"locust-operator: invalid configuration: {error}", file=sys.stderr)
        return 2
    namespaces = watched_namespaces(args.namespace)

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The HTTP client logs every request at INFO; keep that for --log-level debug only.
    if args.log_level != "debug":
        for noisy in ("httpx", "httpx2", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.webhook_bind_address is None and args.webhook_url:
        url = urlsplit(args.webhook_url)
        args.webhook_bind_address = (url.hostname, url.port or 443)
    options = OperatorOptions(
        kubeconfig=args.kubeconfig,
        namespaces=namespaces,
        config=config,
        enable_controller=args.enable_controller,
        metrics_bind=args.metrics_bind_address,
        enable_webhooks=args.enable_webhooks,
        webhook_url=args.webhook_url,
        webhook_bind=args.webhook_bind_address or ("0.0.0.0", 9443),
        webhook_cert_dir=args.webhook_cert_dir,
        webhook_service_name=args.webhook_service_name,
        webhook_service_namespace=args.webhook_service_namespace,
    )
    return asyncio.run(run_operator(options))


if __name__ == "__main__":
    sys.exit(main())
