"""Exit codes of `locust-operator test` and the one error type its commands raise."""

from __future__ import annotations

from typing import Final

SUCCEEDED: Final = 0  # the test succeeded and every threshold held
FAILED: Final = 1  # the test failed, or a threshold was broken
USAGE: Final = 2  # bad input: flags, files, manifest, rejected by the API
INFRASTRUCTURE: Final = 3  # cluster unreachable, CRD or operator missing, pods never healthy
INTERRUPTED: Final = 130  # Ctrl-C


class CliError(Exception):
    """A problem the user can fix, told in one line (no traceback), with its exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
