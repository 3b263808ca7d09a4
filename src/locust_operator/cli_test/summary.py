"""The end of a run as text: the per-endpoint table, the thresholds and the verdict."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from .stats import Row, Stats
from .thresholds import Outcome
from .verdict import Verdict


def endpoint_table(stats: Stats, ascii_only: bool) -> Table:
    table = Table(box=box.ASCII2 if ascii_only else box.SIMPLE_HEAVY, title="Final results")
    for header in (
        "Method",
        "Name",
        "Requests",
        "Failures",
        "Avg",
        "p50",
        "p95",
        "p99",
        "Max",
        "RPS",
    ):
        table.add_column(header, justify="left" if header in ("Method", "Name") else "right")

    def cells(row: Row) -> list[str]:
        return [
            row.method,
            row.name,
            str(row.requests),
            f"{row.failures} ({row.fail_ratio * 100:.2f}%)",
            f"{row.avg_ms:.0f} ms",
            f"{row.p50_ms:.0f} ms",
            f"{row.p95_ms:.0f} ms",
            f"{row.p99_ms:.0f} ms",
            f"{row.max_ms:.0f} ms",
            f"{row.rps:.1f}",
        ]

    for row in stats.endpoints:
        table.add_row(*cells(row))
    table.add_row(*cells(stats.total), style="bold")
    return table


def print_summary(
    console: Console,
    stats: Stats | None,
    outcomes: list[Outcome],
    verdict: Verdict,
    report_path: str | None,
    junit_path: str | None,
    ascii_only: bool,
) -> None:
    if stats is not None:
        console.print(endpoint_table(stats, ascii_only))
    else:
        console.print("No results: the master never answered.", soft_wrap=True)
    if outcomes:
        console.print("Thresholds:")
        for outcome in outcomes:
            mark = "PASS" if outcome.passed else "FAIL"
            console.print(
                f"  [{mark}] {outcome.message}", markup=False, highlight=False, soft_wrap=True
            )
    if report_path:
        console.print(
            f"Report saved to {report_path}", markup=False, highlight=False, soft_wrap=True
        )
    if junit_path:
        console.print(
            f"JUnit written to {junit_path}", markup=False, highlight=False, soft_wrap=True
        )
    style = "bold green" if verdict.code == 0 else "bold red"
    # One line each, however long: CI logs are read (and grepped) line by line.
    console.print(verdict.headline, style=style, markup=False, highlight=False, soft_wrap=True)
