"""`locust-operator test run --git URL [--ref REF] [--sub-path DIR] [--git-secret NAME] FILE`:
a test whose files the operator fetches from a git repository (spec.testFiles.git) instead
of ConfigMaps the CLI ships. FILE is the locustfile, relative to the sub-path. Pure."""

from __future__ import annotations

import argparse
import posixpath
from typing import Any

from locust_operator.api import names
from locust_operator.api.reserved import DEFAULT_SRC_MOUNT_PATH

from . import commandline
from .exits import CliError


def add_flags(group: Any) -> None:
    group.add_argument(
        "--git",
        metavar="URL",
        help="fetch the test files from this repository (SOURCE is then the locustfile's "
        "path in it); see docs/test-sources.md",
    )
    group.add_argument("--ref", help="with --git: branch, tag or commit (default branch)")
    group.add_argument("--sub-path", metavar="DIR", help="with --git: the suite's directory")
    group.add_argument(
        "--git-secret", metavar="NAME", help="with --git: Secret holding the token or SSH key"
    )


def wants_git(args: argparse.Namespace) -> bool:
    given = [flag for flag in ("ref", "sub_path", "git_secret") if getattr(args, flag, None)]
    if given and not getattr(args, "git", None):
        flags = ", ".join("--" + flag.replace("_", "-") for flag in given)
        raise CliError(f"{flags} apply to --git only: add --git URL")
    return bool(getattr(args, "git", None))


def git_base(args: argparse.Namespace, base: dict[str, Any] | None) -> dict[str, Any]:
    """The manifest to start from (or a skeleton) with testFiles.git and --locustfile set."""
    if args.local:
        raise CliError("--git runs on the cluster only: the operator fetches the repository")
    if args.lib:
        raise CliError("--lib ships a ConfigMap: with --git, keep the helpers in the repository")
    locustfile = posixpath.normpath(args.source)
    if locustfile.startswith(("/", "..")):
        raise CliError(
            f"SOURCE {args.source!r}: with --git, the locustfile's path in the repository"
        )
    test: dict[str, Any] = (
        dict(base)
        if base
        else {
            "apiVersion": names.V2_API_VERSION,
            "kind": names.KIND,
            "metadata": {},
            "spec": {},
        }
    )
    spec = test.setdefault("spec", {})
    files = {k: v for k, v in (spec.get("testFiles") or {}).items() if k != "configMapRef"}
    git: dict[str, Any] = {"url": args.git}
    if args.ref:
        git["ref"] = args.ref
    if args.sub_path:
        git["subPath"] = args.sub_path
    if args.git_secret:
        git["credentials"] = {"secretName": args.git_secret}
    files["git"] = git
    spec["testFiles"] = files
    path = f"{files.get('srcMountPath', DEFAULT_SRC_MOUNT_PATH).rstrip('/')}/{locustfile}"
    for role in ("master", "worker"):
        section = spec.setdefault(role, {})
        section["command"] = commandline.set_flag(
            section.get("command", ""), commandline.LOCUSTFILE, path
        )
    return test
