"""One line of a test's progress, the words both displays use. Pure."""

from __future__ import annotations

from .durations import human
from .snapshot import Snapshot


def workers(snapshot: Snapshot) -> str:
    seen = snapshot.workers
    return f"{'-' if seen is None else seen}/{snapshot.expected_workers}"


def failures(snapshot: Snapshot) -> str:
    if snapshot.stats is None:
        return "-"
    total = snapshot.stats.total
    return f"{total.failures} ({total.fail_ratio * 100:.2f}%)"


def p95(snapshot: Snapshot) -> str:
    stats = snapshot.stats
    if stats is None:
        return "-"
    value = (
        stats.current_p95_ms if stats.current_p95_ms and not stats.finished else stats.total.p95_ms
    )
    return f"{value:.0f}ms"


def rps(snapshot: Snapshot) -> str:
    return "-" if snapshot.stats is None else f"{snapshot.stats.current_rps:.1f}"


def users(snapshot: Snapshot) -> str:
    return "-" if snapshot.stats is None else str(snapshot.stats.users)


def elapsed(snapshot: Snapshot) -> str:
    done = human(snapshot.elapsed) if snapshot.elapsed is not None else "-"
    return f"{done}/{human(snapshot.run_time)}" if snapshot.run_time else done


def phase(snapshot: Snapshot) -> str:
    return snapshot.phase or "(no status yet)"


def line(snapshot: Snapshot) -> str:
    return (
        f"phase={phase(snapshot)} workers={workers(snapshot)} users={users(snapshot)} "
        f"rps={rps(snapshot)} failures={failures(snapshot)} p95={p95(snapshot)} "
        f"elapsed={elapsed(snapshot)}"
    )
