"""Tests whose names differ only by '.' and '-' share their children's names (issue 12,
finding 9): the second one fails once, saying why, instead of waiting (and logging) for
ever for "an earlier test with the same name"."""

from __future__ import annotations

import logging

import pytest

from locust_operator.api.conditions import FAILED, READY, RESOURCES_FAILED
from locust_operator.controller.reconciler import Result
from tests.unit.controller.test_reconciler import NS, Setup
from tests.unit.resources.helpers import locust_test


def second_test() -> dict[str, object]:
    test = locust_test(name="demo.x")
    test["metadata"]["uid"] = "uid-of-the-dotted-one"  # type: ignore[index]
    return test


async def test_the_colliding_test_fails_once_naming_the_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = Setup(locust_test(name="demo-x"))
    first = await setup.reconciler.reconcile(NS, "demo-x")
    assert first == Result(children_created=True)
    setup.kube.add_test(second_test())
    writes = [w for w in setup.kube.writes if w[0] == "create"]

    await setup.reconciler.reconcile(NS, "demo.x")
    dotted = setup.kube.test(NS, "demo.x")
    assert dotted["status"]["phase"] == FAILED
    ready = {c["type"]: c for c in dotted["status"]["conditions"]}[READY]
    assert ready["reason"] == RESOURCES_FAILED
    assert "'demo-x'" in ready["message"] and "another name" in ready["message"]
    assert [w for w in setup.kube.writes if w[0] == "create"] == writes  # nothing created
    warnings = [e for e in setup.events.events if e[0] == "Warning"]
    assert len(warnings) == 1

    # Later rounds: no write, no event, no log line, no requeue.
    caplog.clear()
    events, all_writes = list(setup.events.events), list(setup.kube.writes)
    with caplog.at_level(logging.INFO):
        again = await setup.reconciler.reconcile(NS, "demo.x")
    assert again.requeue_after is None
    assert setup.events.events == events and setup.kube.writes == all_writes
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
    # The other test is untouched and still converges.
    await setup.reconciler.reconcile(NS, "demo-x")
    assert setup.kube.test(NS, "demo-x")["status"]["phase"] != FAILED
