"""The end of a run: exit code and the words that explain it. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from locust_operator.api import conditions as words

from . import exits
from .snapshot import Snapshot, pod_trouble
from .thresholds import Outcome


@dataclass(frozen=True)
class Verdict:
    code: int
    headline: str  # PASSED / FAILED / ... with the reason, one line
    run_passed: bool  # the run itself, thresholds aside (the JUnit case of the run)
    run_message: str


def judge(snapshot: Snapshot, outcomes: list[Outcome], gave_up: str | None = None) -> Verdict:
    """``gave_up``: why following stopped before the test ended (a timeout), if it did."""
    if gave_up is not None:
        return Verdict(exits.INFRASTRUCTURE, f"INFRASTRUCTURE: {gave_up}", False, gave_up)
    trouble = pod_trouble(snapshot)
    if snapshot.phase == words.FAILED and trouble:
        message = f"the pods never became healthy: PodsHealthy {trouble}"
        return Verdict(exits.INFRASTRUCTURE, f"INFRASTRUCTURE: {message}", False, message)
    if snapshot.phase == words.FAILED:
        completed = snapshot.condition(words.TEST_COMPLETED)
        message = "the test failed: " + (
            completed.get("message") or completed.get("reason") or "the master exited non-zero"
        )
        # The operator's TestCompleted message names the thresholds it found broken already.
        broken = [o for o in outcomes if not o.passed and o.message not in message]
        if broken:
            message += "; " + "; ".join(outcome.message for outcome in broken)
        return Verdict(exits.FAILED, f"FAILED: {message}", False, message)
    if snapshot.phase != words.SUCCEEDED:
        message = f"the test ended in phase {snapshot.phase or 'unknown'}"
        return Verdict(exits.INFRASTRUCTURE, f"INFRASTRUCTURE: {message}", False, message)
    broken = [outcome for outcome in outcomes if not outcome.passed]
    if broken:
        count = f"{len(broken)} of {len(outcomes)} thresholds broken"
        detail = "; ".join(outcome.message for outcome in broken)
        return Verdict(exits.FAILED, f"FAILED: {count}: {detail}", True, "the test succeeded")
    held = f", {len(outcomes)} thresholds met" if outcomes else ""
    return Verdict(exits.SUCCEEDED, f"PASSED: the test succeeded{held}", True, "the test succeeded")
