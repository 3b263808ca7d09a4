"""What the fetcher init container reported (its termination message, in the pod's status):
the source a test ran (status.source) and why a fetch failed (a PodsHealthy reason). Pure.

The fetcher (``sourcefetch.py``) writes one JSON object: ``{"type", "commit" | "sha256",
"ref", "dependencies"}`` when it succeeded, ``{"reason", "message"}`` when it failed. The
message is the fetcher's own, already free of credentials; it is still only trusted as far
as a known reason word and a bounded text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from lightkube.models.core_v1 import ContainerStatus
from lightkube.resources.core_v1 import Pod

from locust_operator.api.conditions import SOURCE_FAILURE_REASONS
from locust_operator.resources.fetcher import FETCHER_CONTAINER_NAME

MAX_DETAIL = 1024
_SHA1 = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ROLE_LABEL = "locust-role"


def _report(container: ContainerStatus) -> dict[str, Any] | None:
    if container.name != FETCHER_CONTAINER_NAME:
        return None
    terminated = container.state.terminated if container.state else None
    if terminated is None or not terminated.message:
        return None
    try:
        report = json.loads(terminated.message)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def source_failure(container: ContainerStatus) -> tuple[str, str] | None:
    """(reason, detail) when this is the fetcher and it failed with a known reason."""
    terminated = container.state.terminated if container.state else None
    if terminated is None or terminated.exitCode == 0:
        return None
    report = _report(container)
    if report is None or report.get("reason") not in SOURCE_FAILURE_REASONS:
        return None
    message = str(report.get("message") or "").strip()
    if len(message) > MAX_DETAIL:
        message = message[:MAX_DETAIL] + "..."
    return str(report["reason"]), f"fetching the test files: {message or report['reason']}"


def _fetched(pod: Pod) -> dict[str, Any] | None:
    statuses = (pod.status.initContainerStatuses or []) if pod.status else []
    for container in statuses:
        terminated = container.state.terminated if container.state else None
        if terminated is None or terminated.exitCode != 0:
            continue
        report = _report(container)
        if report is None:
            continue
        kind = report.get("type")
        # Only what status.source declares (api/sources.py): the apiserver prunes the rest.
        if kind == "git" and _SHA1.fullmatch(str(report.get("commit", ""))):
            return {"commit": report["commit"]}
        if kind == "archive" and _SHA256.fullmatch(str(report.get("sha256", ""))):
            return {"sha256": report["sha256"]}
    return None


def source_status(pods: Sequence[Pod], previous: Any = None) -> dict[str, Any] | None:
    """status.source: what the master pod fetched; once recorded it stays (a replaced master
    pod fetches again, but the test's record is the first)."""
    if isinstance(previous, dict) and (previous.get("commit") or previous.get("sha256")):
        return dict(previous)
    for pod in pods:
        labels = (pod.metadata.labels or {}) if pod.metadata else {}
        if labels.get(_ROLE_LABEL) == "master" and (found := _fetched(pod)) is not None:
            return found
    return None
