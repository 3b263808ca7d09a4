"""The `locust-operator test` command group's flags (argparse only: imported by cli.py on
every start, including the operator's, so nothing heavy here)."""

from __future__ import annotations

import argparse
from typing import Any

from . import remote_source

DESCRIPTION = (
    "Run a locustfile (or a directory, or a LocustTest manifest) on the cluster, follow it "
    "and end with its verdict; or the same as local processes (--local). Exit codes: 0 "
    "succeeded, 1 failed or a threshold broken, 2 bad usage, 3 infrastructure trouble."
)
THRESHOLD_HELP = (
    "pass/fail limit on the final results, repeatable: [ENDPOINT:]METRIC<=VALUE or >=VALUE; "
    "METRIC: fail_ratio, failures, requests, rps, avg, p50, p95, p99, max; e.g. "
    "fail_ratio<=1%%, p95<=500ms, rps>=100, '/items:p99<=1s'"
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected more than 0, got {text}")
    return value


def _cluster_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", help="kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    parser.add_argument(
        "-n", "--namespace", help="namespace of the test (default: the kubeconfig's, else default)"
    )


def add_test_commands(commands: Any) -> None:
    """Registers `test` and its subcommands on cli.py's subparsers."""
    test = commands.add_parser(
        "test",
        help="run a load test and follow it to a verdict (people and CI)",
        description=DESCRIPTION,
    )
    actions = test.add_subparsers(dest="test_command", required=True, metavar="ACTION")

    run = actions.add_parser(
        "run", help="create a test from a locustfile and follow it", description=DESCRIPTION
    )
    run.add_argument(
        "source",
        metavar="SOURCE",
        help="a locustfile, a directory of test files, or a LocustTest manifest (.yaml)",
    )
    _cluster_flags(run)
    files = run.add_argument_group("test files")
    files.add_argument(
        "--lib", metavar="DIR", help="directory of helper modules (put on PYTHONPATH)"
    )
    files.add_argument(
        "-f",
        "--locustfile",
        metavar="NAME",
        help="the locustfile within a directory SOURCE (default locustfile.py)",
    )
    files.add_argument(
        "--manifest", metavar="FILE", help="a LocustTest manifest to start from (flags win)"
    )
    remote_source.add_flags(files)
    shape = run.add_argument_group("the test (flags override the manifest)")
    shape.add_argument(
        "--name", help="name of the LocustTest (default: SOURCE's name plus a random suffix)"
    )
    shape.add_argument("-H", "--host", help="the target, e.g. http://my-service:8080")
    shape.add_argument("-u", "--users", type=_positive_int, help="peak number of users")
    shape.add_argument("-r", "--spawn-rate", type=_positive_float, help="users started per second")
    shape.add_argument("-t", "--run-time", help="stop after this long, e.g. 90s, 5m, 1h30m")
    shape.add_argument(
        "-w", "--workers", type=_positive_int, help="worker pods (processes with --local)"
    )
    shape.add_argument("--image", help="Locust image (default locustio/locust:2.47.0)")
    shape.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="label of the test and its pods (repeatable)",
    )
    shape.add_argument(
        "--autoquit",
        type=int,
        metavar="SECONDS",
        help="seconds the master stays up after the run (spec.master.autoquit.timeout)",
    )
    shape.add_argument(
        "--threshold", action="append", default=[], metavar="EXPR", help=THRESHOLD_HELP
    )
    out = run.add_argument_group("following and output")
    out.add_argument("--report", metavar="FILE", help="save Locust's HTML report here")
    out.add_argument(
        "--junit",
        metavar="FILE",
        help="write a JUnit XML verdict here (the run + one case per threshold)",
    )
    out.add_argument("--detach", action="store_true", help="create the test and return at once")
    out.add_argument(
        "--keep",
        action="store_true",
        help="on Ctrl-C, leave the test running instead of deleting it",
    )
    out.add_argument(
        "--local",
        action="store_true",
        help="run as local processes (one master, --workers workers), no cluster",
    )
    out.add_argument(
        "--interval",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="without a terminal: seconds between progress lines (default 10)",
    )
    out.add_argument(
        "--operator-timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="give up when the test has no status this long: the operator is not running "
        "(default 60)",
    )
    out.add_argument(
        "--pending-timeout",
        type=_positive_float,
        default=600.0,
        metavar="SECONDS",
        help="give up when the test is still Pending this long (default 600)",
    )

    status = actions.add_parser("status", help="phase, conditions and results of a test")
    status.add_argument("name", metavar="NAME")
    status.add_argument("-o", "--output", choices=("text", "json"), default="text")
    _cluster_flags(status)

    listing = actions.add_parser("list", help="the tests in the namespace")
    _cluster_flags(listing)

    logs = actions.add_parser("logs", help="the Locust logs of a test's pods")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("--role", choices=("master", "worker"), help="only the master or the workers")
    _cluster_flags(logs)

    report = actions.add_parser("report", help="save the HTML report of a test")
    report.add_argument("name", metavar="NAME")
    report.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="where to write it, e.g. report.html"
    )
    _cluster_flags(report)

    delete = actions.add_parser("delete", help="delete a test (its pods and ConfigMaps go with it)")
    delete.add_argument("name", metavar="NAME")
    _cluster_flags(delete)
