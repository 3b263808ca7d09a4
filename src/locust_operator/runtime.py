"""The operator process: wires the probes, metrics, webhook server and controller to a
cluster; elects a leader among replicas; stops cleanly on SIGTERM/SIGINT.

Every replica serves probes, metrics and webhooks and keeps its informer caches warm;
only the leader (or the only replica, without --leader-elect) runs the reconcilers.

Shutdown (exit 0): stop taking work, let in-flight reconciles finish (bounded), release
the Lease so a standby takes over at once, stop the informers and servers, close clients.
Lost leadership (exit 1): cancel the reconciles at once, since another replica may
already be reconciling, and exit, like controller-runtime: the restarted process joins
as a standby with clean state.

Start-up imports only what readiness needs (probes, the API client, the informers); the
webhooks, leader election and the metrics registry are imported when used, and what the
reconciles need in the background once the caches are synced (controller.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lightkube import AsyncClient, KubeConfig

from locust_operator.config import OperatorConfig
from locust_operator.controller.controller import Controller
from locust_operator.http_server import HttpServer, Route, metrics_routes, probe_routes
from locust_operator.kube.client import NoClusterConfig, async_client, load_kube_config
from locust_operator.kube.leader_config import LeaderElectionConfig

if TYPE_CHECKING:
    from locust_operator.kube.leader import LeaderElector
    from locust_operator.webhook import WebhookOptions
    from locust_operator.webhook.registered import RegistrationCheck

log = logging.getLogger("locust_operator")

# Exit codes: 2 for a configuration the process cannot start with, 1 for lost leadership.
EXIT_STARTUP_FAILED = 2
EXIT_LOST_LEADERSHIP = 1
# Bounds on shutdown steps, so that a hung apiserver cannot keep the process alive.
RELEASE_TIMEOUT_SECONDS = 5.0


class StartupError(Exception):
    """The process cannot start as configured; the message names the setting."""


@dataclass(frozen=True)
class OperatorOptions:
    kubeconfig: str | None = None
    namespaces: Sequence[str] = ()
    config: OperatorConfig = field(default_factory=OperatorConfig)
    enable_controller: bool = True
    health_probe_bind: tuple[str, int] | None = None
    metrics_bind: tuple[str, int] | None = None
    leader_election: LeaderElectionConfig | None = None  # None: always reconcile
    drain_seconds: float = 10.0  # how long in-flight reconciles may take on shutdown
    webhooks: WebhookOptions | None = None  # None: no webhooks


def _kube_config(options: OperatorOptions) -> KubeConfig:
    try:
        return load_kube_config(options.kubeconfig)
    except NoClusterConfig:
        raise
    except Exception as error:  # unreadable or malformed: any parser's error
        where = f"--kubeconfig {options.kubeconfig}" if options.kubeconfig else "kubeconfig"
        raise StartupError(f"{where}: {error}") from None


async def _serve_http(
    flag: str, bind: tuple[str, int], routes: dict[str, Route], stack: contextlib.AsyncExitStack
) -> None:
    server = HttpServer(*bind, routes=routes)
    try:
        await server.start()
    except OSError as error:
        raise StartupError(f"{flag} {bind[0]}:{bind[1]}: {error.strerror or error}") from None
    stack.push_async_callback(server.stop)
    log.info("serving %s on http://%s:%d", ", ".join(routes), server.host, server.port)


async def _cancelled(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _unless_stopped(
    step: Awaitable[Any], stop: asyncio.Event, *watched: asyncio.Task[Any]
) -> bool:
    """Runs ``step``; False if ``stop`` is set first. If a ``watched`` task ends first
    (it should run until cancelled), raises its error."""
    step_task = asyncio.ensure_future(step)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({step_task, stopped, *watched}, return_when=asyncio.FIRST_COMPLETED)
        if step_task.done():
            step_task.result()
            return True
        if stop.is_set():
            return False
        for task in watched:
            if task.done():
                task.result()
                raise RuntimeError(f"{task.get_name()} ended unexpectedly")
        raise AssertionError("unreachable")
    finally:
        for task in (step_task, stopped):
            if not task.done():
                await _cancelled(task)


class Operator:
    """One run of the process; ``run()`` returns its exit code."""

    def __init__(self, options: OperatorOptions, stop: asyncio.Event) -> None:
        self.options = options
        self.stop = stop
        self.controller: Controller | None = None
        self.webhooks_serving = False
        self.registration: RegistrationCheck | None = None  # the registered CA is served

    def unready(self) -> list[str]:
        """What /readyz still waits for: synced caches, a serving webhook server."""
        missing = []
        if self.controller is not None and not self.controller.synced.is_set():
            missing.append("informer caches not synced")
        elif self.options.enable_controller and self.controller is None:
            missing.append("controller not started")
        if self.options.webhooks is not None and not self.webhooks_serving:
            missing.append("webhook server not serving")
        elif self.registration is not None and self.registration.problem:
            missing.append(self.registration.problem)
        return missing

    async def run(self, stack: contextlib.AsyncExitStack) -> int:
        options = self.options
        if options.health_probe_bind:
            routes = probe_routes(self.unready)
            await _serve_http(
                "--health-probe-bind-address", options.health_probe_bind, routes, stack
            )
        if options.metrics_bind:
            routes = metrics_routes(self._before_scrape)
            await _serve_http("--metrics-bind-address", options.metrics_bind, routes, stack)
        # One API client for the webhooks and the controller.
        client = async_client(_kube_config(options))
        stack.push_async_callback(client.close)
        if options.webhooks is not None:
            from locust_operator.webhook import WebhookStartupError, start_webhooks

            try:
                self.registration = await start_webhooks(
                    client, options.webhooks, stack, options.config
                )
            except WebhookStartupError as error:
                raise StartupError(str(error)) from None
            self.webhooks_serving = True
        if not options.enable_controller:
            log.info("operator running (webhooks only)")
            await self.stop.wait()
            log.info("shutting down")
            return 0
        return await self._run_controller(client, stack)

    def _before_scrape(self) -> None:
        if self.controller is not None:
            self.controller.export_metrics()

    async def _run_controller(self, client: AsyncClient, stack: contextlib.AsyncExitStack) -> int:
        options = self.options
        controller = self.controller = Controller(client, options.config, options.namespaces)
        informers = asyncio.create_task(controller.run_informers(), name="informers")
        stack.push_async_callback(_cancelled, informers)
        if not await _unless_stopped(controller.synced.wait(), self.stop, informers):
            log.info("shutting down")
            return 0
        elector: LeaderElector | None = None
        if options.leader_election is not None:
            from locust_operator.kube.leader import KubeLeaseStore, LeaderElector

            config = options.leader_election
            elector = LeaderElector(
                KubeLeaseStore(client, config.namespace, config.lease_name), config
            )
            log.info("operator running (standby until it leads)")
            if not await _unless_stopped(elector.acquire(), self.stop, informers):
                log.info("shutting down")
                return 0
        else:
            log.info("operator running")
        from locust_operator.metrics import LEADER

        LEADER.set(1)
        try:
            return await self._lead(controller, elector, informers)
        finally:
            LEADER.set(0)

    async def _lead(
        self, controller: Controller, elector: LeaderElector | None, informers: asyncio.Task[None]
    ) -> int:
        reconciling = asyncio.create_task(controller.run_workers(), name="reconcile workers")
        holding = asyncio.create_task(elector.hold() if elector else asyncio.Event().wait())
        stopped = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait(
                {reconciling, holding, stopped, informers}, return_when=asyncio.FIRST_COMPLETED
            )
            if holding.done():
                await _cancelled(reconciling)
                log.error("exiting: lost leadership; reconciles stopped")
                return EXIT_LOST_LEADERSHIP
            log.info("shutting down")
            await self._drain(controller, reconciling)
            await _cancelled(holding)
            if elector is not None:
                await self._release(elector)
            for ended in (reconciling, informers):
                if ended.done() and not ended.cancelled() and ended.exception() is not None:
                    ended.result()  # a crash, not a stop: raise it
            return 0
        finally:
            for task in (reconciling, holding, stopped):
                if not task.done():
                    await _cancelled(task)

    async def _drain(self, controller: Controller, reconciling: asyncio.Task[None]) -> None:
        controller.stop_workers()
        if reconciling.done():
            return
        seconds = self.options.drain_seconds
        done, _ = await asyncio.wait({reconciling}, timeout=seconds)
        if not done:
            log.warning("reconciles still running after %gs: cancelling them", seconds)
            await _cancelled(reconciling)

    @staticmethod
    async def _release(elector: LeaderElector) -> None:
        try:
            await asyncio.wait_for(elector.release(), RELEASE_TIMEOUT_SECONDS)
        except Exception as error:  # the Lease then expires by itself
            log.warning("could not release lease %s: %r", elector.lease, error)


async def run_operator(options: OperatorOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            return await Operator(options, stop).run(stack)
    except (NoClusterConfig, StartupError) as error:
        log.error("%s", error)
        return EXIT_STARTUP_FAILED
