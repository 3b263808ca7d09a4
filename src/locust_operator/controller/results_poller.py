"""Reads running tests' statistics from their Locust masters (leader only).

One task: every ``RESULTS_INTERVAL_SECONDS`` it looks at the cached tests and, for each
Running one, reads the master's ``/stats/requests`` (bounded concurrency, size and
time), writing ``status.results`` only when the figures changed. When a run has stopped
it captures the final results with the per-endpoint table and keeps the report
(``resources/report.py``). It ends a run the master will not end by itself (a test
started from the web UI, or without --autoquit): stopped for
``RESULTS_STOPPED_TIMEOUT_SECONDS`` (plus the autoquit window when Locust would quit on
its own). With abortOnFail it stops a run that can no longer meet a threshold.

A master that does not answer is retried with backoff; past a grace period the test's
results say why (condition ResultsAvailable=False) and the test goes on as without
results. The reconciler turns the results into phase and conditions
(``controller/results.py``); this task writes only ``status.results`` and
``status.report``, and deletes the Jobs of a run it ended once the test is final.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import CascadeType, PatchType

from locust_operator.api.conditions import RUNNING, TERMINAL_PHASES
from locust_operator.api.thresholds import must_abort
from locust_operator.config import OperatorConfig
from locust_operator.controller.results import (
    ENDED_BY_ABORT,
    ENDED_BY_OPERATOR,
    NotStats,
    final_results,
    live_results,
    parse_stats,
    same_results,
)
from locust_operator.controller.status import format_time
from locust_operator.kube.master_client import (
    CSV_LIMIT,
    REPORT_LIMIT,
    STATS_LIMIT,
    MasterClient,
    MasterError,
)
from locust_operator.kube.owners import is_controlled_by
from locust_operator.resources import master_job_name, master_service_name, worker_job_name
from locust_operator.resources.report import build_report, report_status

log = logging.getLogger(__name__)

Key = tuple[str, str]
CONCURRENCY = 8
MAX_BACKOFF_SECONDS = 300.0
RUNNING_STATES = frozenset({"spawning", "running"})
STOPPED = "stopped"
# Locust workers send their statistics every 3 s (WORKER_REPORT_INTERVAL) and not when told
# to stop: figures read right after a stop can miss a worker's last requests. Final
# results are read once more when this long has passed since the stop was first seen.
WORKER_REPORT_SETTLE_SECONDS = 5.0
UNREACHABLE_HINT = (
    "; results and thresholds are unavailable and the test's phase follows the master Job. "
    "Is the web UI off (--headless in master.extraArgs), or a NetworkPolicy in the way?"
)


@dataclass
class Tracked:
    """What the poller remembers of one running test (lost on a leader change: the
    timers then start again, which only delays an operator-ended run)."""

    failures: int = 0
    first_failure: float | None = None
    next_try: float = 0.0
    running_since: float | None = None
    stopped_since: float | None = None
    captured: bool = False  # the final results of the current stop are written
    settled: bool = False  # ...and read again after the workers' last reports
    aborted: str | None = None  # abortOnFail sent /stop, for this reason
    reaped: bool = False


def _status(test: Mapping[str, Any]) -> Mapping[str, Any]:
    status = test.get("status")
    return status if isinstance(status, Mapping) else {}


def _master_spec(test: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = test.get("spec") or {}
    master = spec.get("master") if isinstance(spec, Mapping) else None
    return master if isinstance(master, Mapping) else {}


def quit_window(test: Mapping[str, Any]) -> int:
    """Seconds Locust itself may still need to quit after its run stopped: the autoquit
    timeout when it applies (autostart and autoquit enabled), else 0."""
    master = _master_spec(test)
    autoquit = master.get("autoquit") if isinstance(master.get("autoquit"), Mapping) else {}
    assert isinstance(autoquit, Mapping)
    if master.get("autostart", True) and autoquit.get("enabled", True):
        timeout = autoquit.get("timeout", 60)
        return timeout if isinstance(timeout, int) and timeout >= 0 else 60
    return 0


class ResultsPoller:
    def __init__(
        self,
        client: AsyncClient,
        config: OperatorConfig,
        master: MasterClient,
        *,
        tests: Any,  # Caches of LocustTests (objects(), get())
        jobs: Any,  # Caches of Jobs (get())
        enqueue: Callable[[Key], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._config = config
        self._master = master
        self._tests = tests
        self._jobs = jobs
        self._enqueue = enqueue
        self._clock = clock
        self._wall = wall
        self._tracked: dict[str, Tracked] = {}
        self._interval = float(config.results_interval_seconds)
        self._unreachable_grace = max(30.0, 3 * self._interval)

    async def run(self) -> None:
        log.info("reading results from masters via %s", self._master.access)
        try:
            while True:
                await self.tick()
                await asyncio.sleep(self._interval)
        finally:
            await self.close()

    async def close(self) -> None:
        await self._master.close()

    async def tick(self) -> None:
        """One look at every cached test."""
        work = []
        alive = set()
        for test in self._tests.objects():
            uid = (test.get("metadata") or {}).get("uid")
            if not uid:
                continue
            alive.add(uid)
            phase = _status(test).get("phase")
            if phase == RUNNING:
                work.append(self._poll(test, self._tracked.setdefault(uid, Tracked())))
            elif phase in TERMINAL_PHASES and (_status(test).get("results") or {}).get("endedBy"):
                work.append(self._reap(test, self._tracked.setdefault(uid, Tracked())))
        for uid in list(self._tracked):
            if uid not in alive:
                del self._tracked[uid]
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def bounded(step: Any) -> None:
            async with semaphore:
                try:
                    await step
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("reading results failed")

        await asyncio.gather(*(bounded(step) for step in work))

    # --- one running test -----------------------------------------------------------------

    async def _poll(self, test: Mapping[str, Any], tracked: Tracked) -> None:
        now = self._clock()
        if now < tracked.next_try:
            return
        meta = test["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        service = master_service_name(name)
        previous = _status(test).get("results") or {}
        if previous.get("endedBy"):
            return  # ended; the reconciler makes it final
        try:
            body = await self._master.get(namespace, service, "stats/requests", STATS_LIMIT)
            snapshot = parse_stats(json.loads(body))
        except (MasterError, NotStats, ValueError) as error:
            await self._unreachable(test, tracked, previous, f"{error}", now)
            return
        if tracked.failures:
            log.info("%s/%s: the master's web API answers again", namespace, name)
        tracked.failures, tracked.first_failure, tracked.next_try = 0, None, 0.0
        if snapshot.state in RUNNING_STATES:
            tracked.running_since = tracked.running_since or now
            tracked.stopped_since, tracked.captured, tracked.settled = None, False, False
            results = live_results(snapshot)
            await self._write(test, previous, results)
            await self._check_abort(test, tracked, results, now)
            return
        if snapshot.state != STOPPED or (tracked.running_since is None and not previous):
            # ready (waiting for the web UI's start), or stopping: figures as they are
            await self._write(test, previous, live_results(snapshot))
            return
        tracked.stopped_since = tracked.stopped_since or now
        ended_by = None
        if tracked.aborted:
            ended_by = ENDED_BY_ABORT
        elif now - tracked.stopped_since >= quit_window(test) + float(
            self._config.results_stopped_timeout_seconds
        ):
            ended_by = ENDED_BY_OPERATOR
        settled = now - tracked.stopped_since >= WORKER_REPORT_SETTLE_SECONDS
        if tracked.captured and ended_by is None and (tracked.settled or not settled):
            return
        results = final_results(snapshot, ended_by)
        if tracked.aborted:
            results["aborted"] = tracked.aborted
        # The report too is kept again once settled, so it agrees with the final figures.
        keep_report = not tracked.captured or ended_by or (settled and not tracked.settled)
        report = await self._keep_report(test) if keep_report else None
        await self._write(test, previous, results, report)
        tracked.captured = True
        tracked.settled = tracked.settled or settled
        if ended_by:
            log.info("%s/%s: run ended (%s); final results kept", namespace, name, ended_by)
        self._enqueue((namespace, name))

    async def _check_abort(
        self, test: Mapping[str, Any], tracked: Tracked, live: Mapping[str, Any], now: float
    ) -> None:
        if tracked.aborted:
            return
        spec = test.get("spec") or {}
        running = now - (tracked.running_since or now)
        for threshold in spec.get("thresholds") or []:
            if not isinstance(threshold, Mapping):
                continue
            verdict = must_abort(threshold, live, running)
            if verdict is None:
                continue
            meta = test["metadata"]
            log.info(
                "%s/%s: abortOnFail: %s; stopping the run",
                meta["namespace"],
                meta["name"],
                verdict.message,
            )
            try:
                await self._master.post(
                    meta["namespace"], master_service_name(meta["name"]), "stop"
                )
            except MasterError as error:
                log.warning("abortOnFail could not stop the run: %s", error)
                return
            tracked.aborted = verdict.message
            tracked.next_try = 0.0
            return

    async def _unreachable(
        self,
        test: Mapping[str, Any],
        tracked: Tracked,
        previous: Mapping[str, Any],
        error: str,
        now: float,
    ) -> None:
        tracked.failures += 1
        tracked.first_failure = tracked.first_failure or now
        backoff = min(self._interval * 2 ** min(tracked.failures - 1, 6), MAX_BACKOFF_SECONDS)
        tracked.next_try = now + backoff
        if now - tracked.first_failure < self._unreachable_grace or previous.get("error"):
            return
        meta = test["metadata"]
        message = f"The Locust master's web API did not answer: {error}{UNREACHABLE_HINT}"
        log.warning("%s/%s: %s", meta["namespace"], meta["name"], message)
        await self._write(test, previous, {**previous, "error": message[:4096]})
        self._enqueue((meta["namespace"], meta["name"]))

    # --- writes ---------------------------------------------------------------------------

    async def _write(
        self,
        test: Mapping[str, Any],
        previous: Mapping[str, Any],
        results: dict[str, Any],
        report: dict[str, Any] | None = None,
    ) -> None:
        if same_results(previous, results) and report is None:
            return
        results = {**results, "lastUpdateTime": format_time(self._wall())}
        # A merge patch merges objects: null what the new results no longer have.
        patch: dict[str, Any] = {key: None for key in previous if key not in results}
        patch.update(results)
        body: dict[str, Any] = {"status": {"results": patch}}
        if report is not None:
            body["status"]["report"] = report
        from locust_operator.controller.reconciler import LocustTestResource

        meta = test["metadata"]
        try:
            await self._client.patch(
                LocustTestResource.Status,
                meta["name"],
                body,
                namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )
        except ApiError as error:
            if error.status.code != 404:
                raise

    async def _keep_report(self, test: Mapping[str, Any]) -> dict[str, Any]:
        meta = test["metadata"]
        namespace, service = meta["namespace"], master_service_name(meta["name"])
        files: dict[str, bytes | None] = {}
        unavailable: dict[str, str] = {}
        for key, path, limit in (
            ("report.html.gz", "stats/report", REPORT_LIMIT),
            ("requests.csv.gz", "stats/requests/csv", CSV_LIMIT),
        ):
            try:
                files[key] = await self._master.get(namespace, service, path, limit)
            except MasterError as error:
                files[key], unavailable[key] = None, str(error)
        report = build_report(test, files["report.html.gz"], files["requests.csv.gz"], unavailable)
        config_map: ConfigMap = ConfigMap.from_dict(report.config_map)  # type: ignore[assignment]
        try:
            await self._client.create(config_map)
        except ApiError as error:
            if error.status.code != 409:
                return {
                    "configMap": report.config_map["metadata"]["name"],
                    "keys": [],
                    "message": f"the report could not be kept: {error.status.message}",
                }
            # A run started again from the web UI: the newer report replaces the older.
            await self._client.patch(
                ConfigMap,
                report.config_map["metadata"]["name"],
                {"binaryData": report.config_map["binaryData"]},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        return report_status(report)

    # --- a run the operator ended ---------------------------------------------------------

    async def _reap(self, test: Mapping[str, Any], tracked: Tracked) -> None:
        """The test is final; its master would run on (nothing makes it quit): delete the
        Jobs (their pods go with them). The test keeps its status and report."""
        if tracked.reaped:
            return
        meta = test["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        for job_name in (master_job_name(name), worker_job_name(name)):
            job = self._jobs.get(namespace, job_name)
            if job is None or not (job.status and job.status.active):
                continue
            if not is_controlled_by(job, meta["uid"]):
                continue
            try:
                await self._client.delete(
                    Job, job_name, namespace=namespace, cascade=CascadeType.BACKGROUND
                )
            except ApiError as error:
                if error.status.code != 404:
                    raise
            log.info("%s/%s: deleted Job %s of the ended run", namespace, name, job_name)
        tracked.reaped = True
