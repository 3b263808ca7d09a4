"""The `locust-operator test` subcommands: thin I/O around the pure modules."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path
from typing import Any

from rich.console import Console

from locust_operator.api import names

from . import exits, remote_source, thresholds
from .exits import CliError
from .follow import Timeouts, follow
from .interrupt import DeferredInterrupt
from .junit import junit_xml
from .manifest import (
    Overrides,
    build_test,
    default_name,
    files_config_map,
    lib_config_map,
    load_manifest,
    parse_labels,
    run_time_of,
)
from .snapshot import Snapshot, from_status
from .sources import TestSources, load_sources
from .stats import Stats, from_status_results
from .summary import print_summary
from .verdict import Verdict, judge

POLL_SECONDS = 1.0
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def main(args: argparse.Namespace) -> int:
    try:
        handler = {
            "run": run,
            "status": status,
            "list": list_tests,
            "logs": logs,
            "report": report,
            "delete": delete,
        }[args.test_command]
        code: int = handler(args)
        return code
    except CliError as error:
        print(f"locust-operator test: {error.message}", file=sys.stderr)
        return error.code


# --- run --------------------------------------------------------------------------------


def _prepare(args: argparse.Namespace, namespace: str) -> tuple[dict[str, Any], TestSources | None]:
    source = Path(args.source)
    base = load_manifest(Path(args.manifest)) if args.manifest else None
    sources = None
    if remote_source.wants_git(args):  # the operator fetches the files (docs/test-sources.md)
        base = remote_source.git_base(args, base)
    elif source.suffix in MANIFEST_SUFFIXES and not source.is_dir():
        if base is not None:
            raise CliError("SOURCE is a manifest already: drop --manifest")
        base = load_manifest(source)
        if args.lib or args.locustfile:
            raise CliError("--lib and --locustfile apply to a locustfile or directory SOURCE")
    else:
        sources = load_sources(source, Path(args.lib) if args.lib else None, args.locustfile)
    if args.run_time is not None:
        from .durations import run_time_seconds

        if run_time_seconds(args.run_time) is None:
            raise CliError(f"--run-time {args.run_time!r}: expected e.g. 90s, 5m or 1h30m")
    name = args.name or (base or {}).get("metadata", {}).get("name") or default_name(source)
    overrides = Overrides(
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time=args.run_time,
        workers=args.workers,
        image=args.image,
        host=args.host,
        labels=parse_labels(args.label),
    )
    test = build_test(base, sources, overrides, name, namespace)
    if args.autoquit is not None:
        test["spec"]["master"]["autoquit"] = {"enabled": True, "timeout": args.autoquit}
    return test, sources


WIDTH_WITHOUT_TERMINAL = 120  # CI logs: wide enough for the final table


def _console(stream: Any = None) -> Console:
    console = Console(file=stream or sys.stdout, highlight=False)
    if not console.is_terminal:
        console.width = WIDTH_WITHOUT_TERMINAL
    return console


def run(args: argparse.Namespace) -> int:
    parsed = [thresholds.parse_threshold(text) for text in args.threshold]
    if args.local:
        return _run_local(args, parsed)
    from .cluster import Cluster

    cluster = Cluster(args.kubeconfig, args.namespace)
    test, sources = _prepare(args, cluster.namespace)
    if parsed:
        test["spec"]["thresholds"] = [thresholds.to_spec(t) for t in parsed]
    name = test["metadata"]["name"]
    cluster.check_api()
    config_maps = []
    if sources is not None:
        cluster.apply_config_map(files_config_map(name), sources.files)
        config_maps.append(files_config_map(name))
        if sources.lib is not None:
            cluster.apply_config_map(lib_config_map(name), sources.lib)
            config_maps.append(lib_config_map(name))
    created = cluster.create_test(test)
    if config_maps:
        cluster.own_config_maps(created, config_maps)
    where = f"{cluster.namespace}/{name}"
    console = _console()
    terminal = console.is_terminal
    print(f"{names.KIND} {where} created", flush=True)
    if args.detach:
        print(f"following it: locust-operator test status {name} -n {cluster.namespace}")
        return exits.SUCCEEDED

    watcher = ClusterWatcher(cluster, name, run_time_of(test), want_report=bool(args.report))
    display = _display(console, args, f"{names.KIND} {where}")
    started = time.monotonic()
    try:
        with DeferredInterrupt() as interrupt:
            final, gave_up = follow(
                watcher,
                display,
                POLL_SECONDS,
                Timeouts(operator=args.operator_timeout, pending=args.pending_timeout),
                sleep=interrupt.sleep,
            )
    except KeyboardInterrupt:
        display.close()
        if args.keep:
            print(
                f"interrupted: {where} keeps running (--keep); delete it with "
                f"locust-operator test delete {name} -n {cluster.namespace}"
            )
        else:
            cluster.delete_test(name, config_maps)
            print(f"interrupted: {where} stopped and deleted")
        return exits.INTERRUPTED
    finally:
        display.close()
    final = watcher.final(final)
    outcomes = _outcomes(final, watcher.test, parsed)
    verdict = judge(final, outcomes, gave_up)
    page = watcher.report_html() if args.report else None
    return _finish(
        console, args, name, final, outcomes, verdict, page, time.monotonic() - started, terminal
    )


def _outcomes(
    final: Snapshot, test: dict[str, Any], parsed: list[thresholds.Threshold]
) -> list[thresholds.Outcome]:
    """The operator's verdict on the thresholds when it gave one, else ours on the results."""
    judged = (test.get("status") or {}).get("thresholds")
    if isinstance(judged, list) and judged:
        return thresholds.from_status(judged)
    if parsed and final.stats is not None:
        return thresholds.evaluate(parsed, final.stats)
    if parsed:
        return [
            thresholds.Outcome(t, False, None, f"{t.describe()}: no results to judge")
            for t in parsed
        ]
    return []


def _display(console: Console, args: argparse.Namespace, title: str) -> Any:
    if console.is_terminal:
        from .live import LiveDisplay

        return LiveDisplay(console, title)
    from .plain import PlainDisplay

    return PlainDisplay(sys.stdout, args.interval)


def _finish(
    console: Console,
    args: argparse.Namespace,
    name: str,
    final: Snapshot,
    outcomes: list[thresholds.Outcome],
    verdict: Verdict,
    page: str | None,
    duration: float,
    terminal: bool,
) -> int:
    report_path = None
    if args.report:
        if page:
            Path(args.report).write_text(page, encoding="utf-8")
            report_path = args.report
        else:
            print(
                f"no report to save to {args.report}: the master never served one", file=sys.stderr
            )
    text = StringIO()
    print_summary(
        Console(file=text, width=console.width, highlight=False, no_color=True),
        final.stats,
        outcomes,
        verdict,
        report_path,
        args.junit,
        ascii_only=True,
    )
    if args.junit:
        Path(args.junit).write_text(
            junit_xml(name, verdict, outcomes, duration, output=text.getvalue()), encoding="utf-8"
        )
    print_summary(
        console, final.stats, outcomes, verdict, report_path, args.junit, ascii_only=not terminal
    )
    return verdict.code


class ClusterWatcher:
    """Polls the LocustTest; the numbers come from status.results when the operator writes
    them, else straight from the master through the apiserver's Service proxy."""

    def __init__(self, cluster: Any, name: str, run_time: int | None, want_report: bool) -> None:
        self.cluster = cluster
        self.name = name
        self.run_time = run_time
        self.want_report = want_report
        self.test: dict[str, Any] = {}
        self.last_stats: Stats | None = None
        self.report: str | None = None

    def poll(self) -> Snapshot:
        self.test = self.cluster.get_test(self.name)
        snapshot = from_status(self.test, self.run_time)
        results = (self.test.get("status") or {}).get("results")
        stats = from_status_results(results) if isinstance(results, dict) and results else None
        if snapshot.phase == "Running" and not (stats is not None and stats.finished):
            # The operator writes status.results every few seconds, and not at all while
            # it cannot reach the master: ask the master itself (the same Service proxy)
            # for this second's numbers, status.results when it does not answer.
            live = self.cluster.master_stats(self.name)
            if live is not None:
                stats = live
                if live.finished and self.want_report and self.report is None:
                    self.report = self.cluster.master_report(self.name)
        if stats is not None:
            self.last_stats = stats
        return snapshot.with_stats(self.last_stats)

    def final(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.with_stats(self.last_stats)

    def report_html(self) -> str | None:
        return self.cluster.kept_report(self.name) or self.report


# --- run --local ------------------------------------------------------------------------


def _run_local(args: argparse.Namespace, parsed: list[thresholds.Threshold]) -> int:
    from .local import LocalRun

    test, sources = _prepare(args, "local")
    name = test["metadata"]["name"]
    workdir = Path(tempfile.mkdtemp(prefix=f"lotest-{name}-"))
    console = _console()
    terminal = console.is_terminal
    local = LocalRun(test, sources, workdir)
    print(
        f"running {name} locally: 1 master, {local.expected_workers} workers (logs in {workdir})",
        flush=True,
    )
    display = _display(console, args, f"{names.KIND} {name} (local)")
    started = time.monotonic()
    local.start()
    try:
        with DeferredInterrupt() as interrupt:
            final, gave_up = follow(
                local,
                display,
                POLL_SECONDS,
                Timeouts(operator=args.operator_timeout, pending=args.pending_timeout),
                sleep=interrupt.sleep,
            )
    except KeyboardInterrupt:
        display.close()
        local.stop()
        print("interrupted: the local master and workers are stopped")
        return exits.INTERRUPTED
    finally:
        display.close()
        local.stop()
    if final.phase == "Failed" and final.stats is None:
        print(local.log_tail(), file=sys.stderr)
    outcomes = (
        thresholds.evaluate(parsed, final.stats)
        if final.stats is not None
        else _outcomes(final, {}, parsed)
    )
    verdict = judge(final, outcomes, gave_up)
    code = _finish(
        console,
        args,
        name,
        final,
        outcomes,
        verdict,
        local.report,
        time.monotonic() - started,
        terminal,
    )
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


# --- status, list, logs, report, delete -------------------------------------------------


def _cluster(args: argparse.Namespace) -> Any:
    from .cluster import Cluster

    cluster = Cluster(args.kubeconfig, args.namespace)
    cluster.check_api()
    return cluster


def status(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    test = cluster.get_test(args.name)
    if args.output == "json":
        print(
            json.dumps(
                {
                    "metadata": test.get("metadata", {}),
                    "spec": test.get("spec", {}),
                    "status": test.get("status") or {},
                },
                indent=2,
                sort_keys=True,
                default=str,
            )
        )
        return exits.SUCCEEDED
    from . import progress_text

    snapshot = from_status(test, run_time_of(test))
    results = (test.get("status") or {}).get("results")
    if isinstance(results, dict) and results:
        snapshot = snapshot.with_stats(from_status_results(results))
    elif snapshot.phase == "Running":
        snapshot = snapshot.with_stats(cluster.master_stats(args.name))
    print(f"{names.KIND} {cluster.namespace}/{args.name}")
    print("  " + progress_text.line(snapshot))
    for kind, condition in snapshot.conditions.items():
        reason, message = condition.get("reason") or "", condition.get("message") or ""
        print(f"  {kind}={condition.get('status')} {reason}: {message}")
    judged = (test.get("status") or {}).get("thresholds")
    for outcome in thresholds.from_status(judged) if isinstance(judged, list) else []:
        print(f"  threshold [{'PASS' if outcome.passed else 'FAIL'}] {outcome.message}")
    return exits.SUCCEEDED


def list_tests(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    rows = [("NAME", "PHASE", "WORKERS", "USERS", "RPS", "FAILURES", "CREATED")]
    from . import progress_text

    for test in cluster.list_tests():
        snapshot = from_status(test, None)
        results = (test.get("status") or {}).get("results")
        if isinstance(results, dict) and results:
            snapshot = snapshot.with_stats(from_status_results(results))
        rows.append(
            (
                test["metadata"]["name"],
                snapshot.phase or "-",
                progress_text.workers(snapshot),
                progress_text.users(snapshot),
                progress_text.rps(snapshot),
                progress_text.failures(snapshot),
                str(test["metadata"].get("creationTimestamp") or ""),
            )
        )
    if len(rows) == 1:
        print(f"no {names.KIND}s in namespace {cluster.namespace}")
        return exits.SUCCEEDED
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return exits.SUCCEEDED


def logs(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    cluster.get_test(args.name)  # a clear error when the test does not exist
    pods = cluster.pods(args.name, args.role)
    if not pods:
        raise CliError(
            f"{args.name} has no pods (yet, or any more: finished Jobs may be gone)", exits.FAILED
        )
    for pod in pods:
        container = pod.spec.containers[0].name if pod.spec else ""
        if len(pods) > 1:
            print(f"==> {pod.metadata.name} <==", flush=True)
        for line in cluster.pod_log(pod, container):
            sys.stdout.write(line)
    return exits.SUCCEEDED


def report(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    test = cluster.get_test(args.name)
    page = cluster.kept_report(args.name)
    if page is None and (test.get("status") or {}).get("phase") == "Running":
        page = cluster.master_report(args.name)
    if page is None:
        kept = ((test.get("status") or {}).get("report") or {}).get("message")
        why = (
            f": {kept}" if kept else " (no <name>-report ConfigMap, and the master is not running)"
        )
        raise CliError(f"{args.name} has no report{why}", exits.FAILED)
    Path(args.output).write_text(page, encoding="utf-8")
    print(f"report of {cluster.namespace}/{args.name} saved to {args.output}")
    return exits.SUCCEEDED


def delete(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    name = args.name
    existed = cluster.delete_test(name)  # its ConfigMaps are owned by it: the GC follows
    if not existed:
        raise CliError(f"{names.KIND} {cluster.namespace}/{name} not found", exits.USAGE)
    print(f"{names.KIND} {cluster.namespace}/{name} deleted")
    return exits.SUCCEEDED
