"""Log lines: JSON and console formats, and the LocustTest a line concerns."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from locust_operator.logs import configure_logging, log_context


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_time_level_logger_message(output: io.StringIO) -> None:
    configure_logging("info", "json", output)
    logging.getLogger("locust_operator.x").info("hello %s", "world")
    logging.getLogger("locust_operator.x").debug("not at info level")
    (line,) = lines(output)
    record = json.loads(line)
    assert record["level"] == "info"
    assert record["logger"] == "locust_operator.x"
    assert record["message"] == "hello world"
    assert record["time"].endswith("Z")
    assert "namespace" not in record
    assert "name" not in record


def test_json_lines_name_the_test_being_reconciled(output: io.StringIO) -> None:
    configure_logging("info", "json", output)
    log = logging.getLogger("locust_operator.controller.reconciler")
    with log_context("team-a", "checkout"):
        log.warning("recreated deleted Service")
    log.info("outside")
    inside, outside = (json.loads(line) for line in lines(output))
    assert inside["namespace"] == "team-a"
    assert inside["name"] == "checkout"
    assert inside["logger"] == "locust_operator.controller.reconciler"
    assert "namespace" not in outside


async def test_tasks_started_during_a_reconcile_inherit_the_test(output: io.StringIO) -> None:
    configure_logging("info", "json", output)
    log = logging.getLogger("locust_operator.test")

    async def child_write() -> None:
        await asyncio.sleep(0)
        log.info("created Job")

    async def reconcile(name: str) -> None:
        with log_context("ns", name):
            await asyncio.gather(child_write(), child_write())

    await asyncio.gather(reconcile("one"), reconcile("two"))
    names = sorted(json.loads(line)["name"] for line in lines(output))
    assert names == ["one", "one", "two", "two"]


def test_exceptions_are_one_json_line(output: io.StringIO) -> None:
    configure_logging("info", "json", output)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("x").exception("reconcile failed")
    (line,) = lines(output)
    record = json.loads(line)
    assert record["level"] == "error"
    assert "RuntimeError: boom" in record["error"]


def test_console_lines_prefix_the_test(output: io.StringIO) -> None:
    configure_logging("info", "console", output)
    log = logging.getLogger("locust_operator.controller.controller")
    with log_context("ns", "t"):
        log.info("reconciled")
    log.info("controller started")
    inside, outside = lines(output)
    assert inside.endswith("INFO locust_operator.controller.controller: [ns/t] reconciled")
    assert outside.endswith("INFO locust_operator.controller.controller: controller started")


def test_http_client_chatter_only_at_debug(output: io.StringIO) -> None:
    configure_logging("info", "console", output)
    logging.getLogger("httpx").info("HTTP Request: GET ...")
    assert lines(output) == []
    configure_logging("debug", "console", output)
    logging.getLogger("httpx").info("HTTP Request: GET ...")
    assert len(lines(output)) == 1


def test_unknown_format_names_the_flag() -> None:
    with pytest.raises(ValueError, match="--log-format"):
        configure_logging("info", "xml")
