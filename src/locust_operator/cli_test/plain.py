"""The display without a terminal (CI logs): a timestamped line at a steady interval, and
at once when the phase changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from . import progress_text
from .snapshot import Snapshot


def utc_now() -> datetime:
    return datetime.now(UTC)


class PlainDisplay:
    def __init__(
        self,
        out: TextIO,
        interval: float,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.out = out
        self.interval = interval
        self.now = now
        self.last_phase: str | None = None
        self.last_time: datetime | None = None

    def stamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def note(self, text: str) -> None:
        print(f"{self.stamp()} {text}", file=self.out, flush=True)

    def update(self, snapshot: Snapshot) -> None:
        now = self.now()
        due = self.last_time is None or (now - self.last_time).total_seconds() >= self.interval
        if snapshot.phase != self.last_phase or due:
            self.note(progress_text.line(snapshot))
            self.last_phase = snapshot.phase
            self.last_time = now

    def close(self) -> None:
        pass
