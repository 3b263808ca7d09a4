"""The display on a terminal: a live panel (rich) with the phase, workers, users, RPS,
failures, p95 and a progress bar of the run time."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from . import progress_text
from .snapshot import Snapshot

_PHASE_STYLE = {"Pending": "yellow", "Running": "cyan", "Succeeded": "green", "Failed": "red"}


def panel(title: str, snapshot: Snapshot) -> RenderableType:
    grid = Table.grid(padding=(0, 3))
    for _ in range(6):
        grid.add_column()
    grid.add_row(
        *(
            Text(label, style="bold")
            for label in ("Phase", "Workers", "Users", "RPS", "Failures", "p95")
        )
    )
    grid.add_row(
        Text(progress_text.phase(snapshot), style=_PHASE_STYLE.get(snapshot.phase, "")),
        progress_text.workers(snapshot),
        progress_text.users(snapshot),
        progress_text.rps(snapshot),
        progress_text.failures(snapshot),
        progress_text.p95(snapshot),
    )
    bar = Table.grid(padding=(0, 2))
    bar.add_column()
    bar.add_column()
    if snapshot.run_time:
        done = min(snapshot.elapsed or 0.0, float(snapshot.run_time))
        bar.add_row(
            ProgressBar(total=float(snapshot.run_time), completed=done, width=40),
            progress_text.elapsed(snapshot),
        )
    else:
        bar.add_row(Text("run time: until stopped"), progress_text.elapsed(snapshot))
    return Panel(Group(grid, Text(""), bar), title=title, expand=False)


class LiveDisplay:
    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self.live = Live(
            panel(title, Snapshot()), console=console, refresh_per_second=4, transient=False
        )
        self.live.start()

    def note(self, text: str) -> None:
        self.console.print(text)

    def update(self, snapshot: Snapshot) -> None:
        self.live.update(panel(self.title, snapshot))

    def close(self) -> None:
        self.live.stop()
