"""The fetcher's termination message read back from the pods: status.source (what the master
fetched) and a PodsHealthy reason of its own for each failure, after the grace period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from lightkube.resources.core_v1 import Pod

from locust_operator.api.conditions import SOURCE_FAILURE_REASONS
from locust_operator.controller.pod_health import analyze_pods
from locust_operator.controller.source_status import source_status
from locust_operator.controller.status import Observed, compute_status
from locust_operator.resources.fetcher import FETCHER_CONTAINER_NAME
from tests.unit.controller.builders import job, worker_job

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
COMMIT = "a" * 40


def fetcher(exit_code: int, report: Any) -> dict[str, Any]:
    message = report if isinstance(report, str) else json.dumps(report)
    return {
        "name": FETCHER_CONTAINER_NAME,
        "image": "fetcher",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": exit_code, "message": message}},
    }


def pod(role: str, init: list[dict[str, Any]], phase: str = "Running", age: int = 600) -> Pod:
    return Pod.from_dict(
        {
            "metadata": {
                "name": f"t-{role}-x",
                "labels": {"locust-role": role},
                "creationTimestamp": (NOW - timedelta(seconds=age)).isoformat(),
            },
            "spec": {"containers": [{"name": "locust"}]},
            "status": {"phase": phase, "initContainerStatuses": init},
        }
    )


def test_the_masters_commit_is_recorded_and_kept() -> None:
    master = pod("master", [fetcher(0, {"type": "git", "commit": COMMIT, "ref": "main"})])
    worker = pod("worker", [fetcher(0, {"type": "git", "commit": "b" * 40})])
    assert source_status([worker, master]) == {"commit": COMMIT}
    assert source_status([worker]) is None  # only the master's fetch is the test's
    recorded = {"commit": "c" * 40}
    assert source_status([master], recorded) == recorded


def test_archive_digest_and_garbage_messages() -> None:
    digest = "d" * 64
    assert source_status([pod("master", [fetcher(0, {"type": "archive", "sha256": digest})])]) == {
        "sha256": digest
    }
    for junk in ("not json", {"type": "git", "commit": "$(rm -rf /)"}, ["list"]):
        assert source_status([pod("master", [fetcher(0, junk)])]) is None


def test_each_failure_reason_reaches_podshealthy_after_the_grace_period() -> None:
    for reason in SOURCE_FAILURE_REASONS:
        failed = pod("master", [fetcher(1, {"reason": reason, "message": "why"})], phase="Failed")
        health = analyze_pods([failed], [], NOW, timedelta(minutes=2))
        assert (health.status, health.reason) == ("False", reason)
        assert "fetching the test files: why" in health.message
        young = pod("master", [fetcher(1, {"reason": reason, "message": "x"})], age=5)
        assert analyze_pods([young], [], NOW, timedelta(minutes=2)).reason == "PodsStarting"


def test_unknown_reason_is_an_initialization_error() -> None:
    failed = pod("master", [fetcher(1, {"reason": "Whatever", "message": "x"})], phase="Failed")
    assert analyze_pods([failed], [], NOW).reason == "InitializationError"


def test_status_fails_the_test_with_the_reason_and_keeps_the_source() -> None:
    failed = pod(
        "master",
        [fetcher(1, {"reason": "SourceDigestMismatch", "message": "has sha256 x, not y"})],
        phase="Failed",
    )
    observed = Observed(
        generation=1,
        built_from_generation=1,
        expected_workers=1,
        service=None,
        master_job=job("t-master", conditions=("Failed",), condition_reason="BackoffLimitExceeded"),
        worker_job=worker_job(),
        pods=[failed],
    )
    result = compute_status(None, observed, NOW)
    conditions = {c["type"]: c for c in result.status["conditions"]}
    assert conditions["PodsHealthy"]["reason"] == "SourceDigestMismatch"
    assert result.status["phase"] == "Failed"

    ok = pod("master", [fetcher(0, {"type": "git", "commit": COMMIT})])
    observed = Observed(
        generation=1,
        built_from_generation=1,
        expected_workers=1,
        service=None,
        master_job=None,
        worker_job=worker_job(),
        pods=[ok],
    )
    assert compute_status(None, observed, NOW).status["source"] == {"commit": COMMIT}
