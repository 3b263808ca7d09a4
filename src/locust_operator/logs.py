"""Log output of the operator process: console lines or JSON lines, and which LocustTest a
line concerns.

The manager sets ``current_test`` around each reconcile; ``LocustTestFilter`` copies it
onto every record logged meanwhile (by any logger, in any task the reconcile starts), so
both formats say which test a line is about without every call site passing it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Final

LOG_FORMATS: Final = ("console", "json")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")

# (namespace, name) of the LocustTest being reconciled in this task, if any.
current_test: ContextVar[tuple[str, str] | None] = ContextVar("current_test", default=None)

# The HTTP client logs every request at INFO: useful at debug level only.
NOISY_LOGGERS: Final = ("httpx", "httpx2", "httpcore")


@contextlib.contextmanager
def log_context(namespace: str, name: str) -> Iterator[None]:
    """Every line logged inside the block (and in tasks started from it) names the test."""
    token = current_test.set((namespace, name))
    try:
        yield
    finally:
        current_test.reset(token)


class LocustTestFilter(logging.Filter):
    """Adds ``test_namespace`` and ``test_name`` (None outside a reconcile) to records."""

    def filter(self, record: logging.LogRecord) -> bool:
        # A record's "name" is its logger's; hence the prefixed attribute names.
        if not hasattr(record, "test_namespace"):
            test = current_test.get()
            record.test_namespace, record.test_name = test if test else (None, None)
        return True


def _test_of(record: logging.LogRecord) -> tuple[str, str] | None:
    namespace = getattr(record, "test_namespace", None)
    name = getattr(record, "test_name", None)
    return (namespace, name) if namespace and name else None


class ConsoleFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: [namespace/name] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        test = _test_of(record)
        if test is None:
            return super().formatMessage(record)
        prefix = f"[{test[0]}/{test[1]}] "
        original = record.message
        record.message = prefix + original
        try:
            return super().formatMessage(record)
        finally:
            record.message = original


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, RFC 3339), level, logger, message, and the
    test's namespace and name when the line concerns one; exception text as ``error``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        test = _test_of(record)
        if test is not None:
            line["namespace"], line["name"] = test
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str, stream: IO[str] | None = None) -> None:
    """Replaces the root logger's handlers with one writing ``log_format`` lines."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"--log-format must be one of {'|'.join(LOG_FORMATS)}, not {log_format!r}")
    if level not in LOG_LEVELS:
        raise ValueError(f"--log-level must be one of {'|'.join(LOG_LEVELS)}, not {level!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(LocustTestFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.NOTSET if level == "debug" else logging.WARNING)
