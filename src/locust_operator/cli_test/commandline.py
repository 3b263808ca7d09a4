"""Editing a Locust command seed (the whitespace-split string of spec.master.command) flag by
flag: a flag given on our command line replaces the manifest's, whichever spelling it used."""

from __future__ import annotations

from collections.abc import Sequence

# Locust's spellings of the flags `test run` sets; the second is the one it writes.
USERS = ("-u", "--users")
SPAWN_RATE = ("-r", "--spawn-rate", "--hatch-rate")
RUN_TIME = ("-t", "--run-time")
HOST = ("-H", "--host")
LOCUSTFILE = ("-f", "--locustfile")


def _matches(token: str, spellings: Sequence[str]) -> tuple[bool, bool]:
    """(is this flag, carries its value in the same token)."""
    for spelling in spellings:
        if token == spelling:
            return True, False
        if spelling.startswith("--") and token.startswith(spelling + "="):
            return True, True
        if not spelling.startswith("--") and token.startswith(spelling) and len(token) > 2:
            return True, True  # -u10
    return False, False


def get_flag(command: str, spellings: Sequence[str]) -> str | None:
    """The value of the last occurrence of the flag, or None."""
    tokens = command.split()
    found = None
    for index, token in enumerate(tokens):
        hit, inline = _matches(token, spellings)
        if hit and inline:
            found = token.split("=", 1)[1] if token.startswith("--") else token[2:]
        elif hit and index + 1 < len(tokens):
            found = tokens[index + 1]
    return found


def set_flag(command: str, spellings: Sequence[str], value: str) -> str:
    """The command without any spelling of the flag, then `<long flag> <value>`."""
    tokens = command.split()
    kept: list[str] = []
    skip = False
    for token in tokens:
        if skip:
            skip = False
            continue
        hit, inline = _matches(token, spellings)
        if hit:
            skip = not inline
            continue
        kept.append(token)
    return " ".join([*kept, spellings[1], value])
