"""The operator process: wires the webhook server and the controller to a cluster, and
stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from locust_operator.config import OperatorConfig
from locust_operator.controller.manager import Controller
from locust_operator.http_server import HttpServer
from locust_operator.kube.client import NoClusterConfig, async_client, load_kube_config

if TYPE_CHECKING:
    from locust_operator.webhook.registration import WebhookEndpoint

log = logging.getLogger("locust_operator")


@dataclass(frozen=True)
class OperatorOptions:
    kubeconfig: str | None = None
    namespaces: Sequence[str] = ()
    config: OperatorConfig = field(default_factory=OperatorConfig)
    enable_controller: bool = True
    metrics_bind: tuple[str, int] | None = None
    enable_webhooks: bool = False
    webhook_url: str | None = None
    webhook_bind: tuple[str, int] = ("0.0.0.0", 9443)
    webhook_cert_dir: str | None = None
    webhook_service_name: str = "locust-k8s-operator-webhook"
    webhook_service_namespace: str = "locust-operator-system"

    def webhook_endpoint(self) -> WebhookEndpoint:
        from locust_operator.webhook.registration import WebhookEndpoint

        if self.webhook_url:
            return WebhookEndpoint(url=self.webhook_url)
        return WebhookEndpoint(
            service_name=self.webhook_service_name,
            service_namespace=self.webhook_service_namespace,
        )

    def webhook_hosts(self) -> list[str]:
        if self.webhook_url:
            return [str(urlsplit(self.webhook_url).hostname)]
        service, namespace = self.webhook_service_name, self.webhook_service_namespace
        return [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


async def _start_webhooks(options: OperatorOptions, stack: contextlib.AsyncExitStack) -> None:
    # Imported here: TLS and aiohttp cost memory a controller-only replica does not need.
    from locust_operator.webhook import serving
    from locust_operator.webhook.registration import register_webhooks
    from locust_operator.webhook.server import WebhookServer
    from locust_operator.webhook.tls import ReloadingTLSContext

    if options.webhook_cert_dir:
        certificate = serving.from_files(Path(options.webhook_cert_dir))
    else:
        cert_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="locust-webhook-")))
        certificate = serving.generate_self_signed(cert_dir, options.webhook_hosts())
    tls = ReloadingTLSContext(certificate.cert_path, certificate.key_path)
    server = WebhookServer(*options.webhook_bind, tls=tls)
    await server.start()
    stack.push_async_callback(server.stop)
    watcher = asyncio.create_task(tls.watch())
    stack.callback(watcher.cancel)

    config = load_kube_config(options.kubeconfig)
    client = async_client(config)
    stack.push_async_callback(client.close)
    await register_webhooks(client, options.webhook_endpoint(), certificate.ca_bundle)
    log.info("webhooks registered (%s)", options.webhook_url or "in-cluster Service")


async def _start_controller(
    options: OperatorOptions, stack: contextlib.AsyncExitStack
) -> Controller:
    client = async_client(load_kube_config(options.kubeconfig))
    stack.push_async_callback(client.close)
    controller = Controller(client, options.config, options.namespaces)
    task = asyncio.create_task(controller.run(), name="controller")

    async def stop_controller() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop_controller)
    started = asyncio.create_task(controller.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if not started.done():
        started.cancel()
        task.result()  # the controller ended before it started: raise its error
    return controller


async def run_operator(options: OperatorOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        controller: Controller | None = None
        if options.metrics_bind:
            server = HttpServer(
                *options.metrics_bind,
                is_ready=lambda: (
                    not options.enable_controller
                    or (controller is not None and controller.started.is_set())
                ),
            )
            await server.start()
            stack.push_async_callback(server.stop)
        try:
            if options.enable_webhooks:
                await _start_webhooks(options, stack)
            if options.enable_controller:
                controller = await _start_controller(options, stack)
        except NoClusterConfig as error:
            log.error("%s", error)
            return 2
        log.info("operator running")
        await stop.wait()
        log.info("shutting down")
    return 0
