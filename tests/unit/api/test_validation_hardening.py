"""Issue 12: managed flags by any spelling Locust's parser reads, in extraArgs and command;
names that collide once dots become dashes."""

from __future__ import annotations

import argparse

import pytest

from locust_operator.api.reserved import OPERATOR_MANAGED_FLAGS, managed_flag
from locust_operator.api.validation import validate
from tests.unit.api.test_validation import make


def _locust_like_parser() -> argparse.ArgumentParser:
    """The managed flags plus the Locust options that share their prefixes, parsed the way
    Locust parses (argparse, abbreviations allowed)."""
    parser = argparse.ArgumentParser(exit_on_error=False)
    for flag in [*OPERATOR_MANAGED_FLAGS, "--master-bind-host", "--expect-workers-max-wait"]:
        parser.add_argument(flag, nargs="?", const="set")
    return parser


@pytest.mark.parametrize(
    "arg", ["--master-ho=evil", "--autoq", "--autoq=1", "--autos", "--master-bind-p=1", "--wo"]
)
def test_abbreviations_of_managed_flags_are_managed(arg: str) -> None:
    # Locust would read it as a managed flag ...
    parsed = vars(_locust_like_parser().parse_known_args([arg])[0])
    read_as = [f"--{dest.replace('_', '-')}" for dest, value in parsed.items() if value]
    assert len(read_as) == 1 and read_as[0] in OPERATOR_MANAGED_FLAGS
    # ... and the webhook names that flag.
    assert managed_flag(arg) == read_as[0]


@pytest.mark.parametrize("arg", ["--loglevel", "-H", "--host=x", "--", "--headless", "--users"])
def test_other_flags_are_not_managed(arg: str) -> None:
    assert managed_flag(arg) is None


@pytest.mark.parametrize("role", ["master", "worker"])
@pytest.mark.parametrize("arg", ["--master-ho=evil", "--autoq"])
def test_abbreviations_are_denied_in_extra_args(role: str, arg: str) -> None:
    spec = make()["spec"]
    spec[role]["extraArgs"] = [arg]
    errors = validate(make(**{role: spec[role]}))
    assert [e.field for e in errors] == [f"spec.{role}.extraArgs[0]"]


@pytest.mark.parametrize(
    ("role", "command"),
    [
        ("master", "--locustfile /lotest/src/t.py --worker --master-host=evil"),
        ("worker", "--locustfile /lotest/src/t.py --master-ho=evil.example.com"),
        ("master", "-f x.py --autoq 1"),
    ],
)
def test_managed_flags_are_denied_in_the_command(role: str, command: str) -> None:
    spec = make()["spec"]
    spec[role]["command"] = command
    errors = validate(make(**{role: spec[role]}))
    assert errors and {e.field for e in errors} == {f"spec.{role}.command"}
    assert "remove it from the command" in errors[0].message
