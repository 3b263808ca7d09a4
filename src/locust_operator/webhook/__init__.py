"""The operator's webhooks (v1 <-> v2 conversion, validation) behind one entry point.

``start_webhooks()`` chooses the serving certificate (files, a Secret shared by the
replicas, or self-signed), serves over TLS, registers the webhooks with the apiserver and
keeps them current; the process only says how (:class:`WebhookOptions`). The modules it
uses are imported when it runs: TLS and aiohttp cost memory a controller-only replica
does not need.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError

from locust_operator.config import OperatorConfig

if TYPE_CHECKING:
    from locust_operator.webhook.registration import WebhookEndpoint

log = logging.getLogger(__name__)


class WebhookStartupError(Exception):
    """The webhooks cannot start as configured; the message names the flag."""


@dataclass(frozen=True)
class WebhookOptions:
    url: str | None = None  # outside a cluster: where the apiserver calls us
    bind: tuple[str, int] = ("0.0.0.0", 9443)
    cert_dir: str | None = None  # certificates provisioned elsewhere
    cert_secret: str | None = None  # a certificate shared by the replicas
    service_name: str = "locust-k8s-operator-webhook"
    service_namespace: str = "locust-operator-system"

    def endpoint(self) -> WebhookEndpoint:
        from locust_operator.webhook.registration import WebhookEndpoint

        if self.url:
            return WebhookEndpoint(url=self.url)
        return WebhookEndpoint(
            service_name=self.service_name, service_namespace=self.service_namespace
        )

    def hosts(self) -> list[str]:
        """The names the serving certificate must carry."""
        if self.url:
            return [str(urlsplit(self.url).hostname)]
        service, namespace = self.service_name, self.service_namespace
        return [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


async def start_webhooks(
    client: AsyncClient,
    options: WebhookOptions,
    stack: contextlib.AsyncExitStack,
    config: OperatorConfig | None = None,
) -> RegistrationCheck:
    """Serves and registers the webhooks; ``stack`` stops them. The returned check says
    whether the registered CA is still the one served (for /readyz). Raises
    WebhookStartupError when the certificate or the address cannot be used. With the
    operator's ``config``, admission also dry-runs the resources a test becomes."""
    from locust_operator.webhook.children import ChildrenCheck
    from locust_operator.webhook.registration import register_webhooks
    from locust_operator.webhook.server import WebhookServer
    from locust_operator.webhook.tls import ReloadingTLSContext

    certificate = await _serving_certificate(client, options, stack)
    tls = ReloadingTLSContext(certificate.cert_path, certificate.key_path)
    check = ChildrenCheck(client, config) if config is not None else None
    server = WebhookServer(*options.bind, tls=tls, check_children=check)
    try:
        await server.start()
    except OSError as error:
        host, port = options.bind
        raise WebhookStartupError(
            f"--webhook-bind-address {host}:{port}: {error.strerror}"
        ) from None
    stack.push_async_callback(server.stop)
    watcher = asyncio.create_task(tls.watch())
    stack.callback(watcher.cancel)

    if options.url:
        # A registration by URL belongs to this process: put back what it replaces on exit.
        from locust_operator.webhook.unregister import UrlRegistration, remove_on_exit

        try:
            registration = await UrlRegistration.before_registering(client, options.url)
        except ApiError as error:
            raise WebhookStartupError(_registration_error(error)) from None
        await register_webhooks(client, options.endpoint(), certificate.ca_bundle)
        stack.push_async_callback(remove_on_exit, client, registration)
    else:
        await register_webhooks(client, options.endpoint(), certificate.ca_bundle)
    log.info("webhooks registered (%s)", options.url or "in-cluster Service")
    from locust_operator.webhook.registered import RegistrationCheck

    def served_ca() -> bytes:
        """The CA of what is served now (a shared certificate may have been rotated)."""
        from locust_operator.webhook.serving import CA_FILE

        for path in (certificate.cert_path.parent / CA_FILE, certificate.cert_path):
            with contextlib.suppress(OSError):
                return path.read_bytes()
        return certificate.ca_bundle

    registered = RegistrationCheck(client, served_ca)
    checker = asyncio.create_task(registered.run())
    stack.callback(checker.cancel)
    return registered


def _registration_error(error: ApiError) -> str:
    if error.status.code == 404:
        return (
            "--enable-webhooks: the LocustTest CRD is not installed; install it first: "
            "kubectl apply --server-side -f config/crd/locust.io_locusttests.yaml"
        )
    return f"--enable-webhooks: cannot read the webhook registrations: {error.status.message}"


if TYPE_CHECKING:
    from locust_operator.webhook.registered import RegistrationCheck
    from locust_operator.webhook.serving import ServingCertificate


async def _serving_certificate(
    client: AsyncClient, options: WebhookOptions, stack: contextlib.AsyncExitStack
) -> ServingCertificate:
    from locust_operator.webhook import serving

    if options.cert_dir:
        return serving.from_files(Path(options.cert_dir))
    cert_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="locust-webhook-")))
    if options.cert_secret:
        return await _shared_certificate(client, options, options.cert_secret, cert_dir, stack)
    return serving.generate_self_signed(cert_dir, options.hosts())


async def _shared_certificate(
    client: AsyncClient,
    options: WebhookOptions,
    secret: str,
    cert_dir: Path,
    stack: contextlib.AsyncExitStack,
) -> ServingCertificate:
    """One certificate for every replica behind the Service, kept in a Secret; when
    another replica rotates it, the webhooks are registered again with the new CA."""
    from lightkube.core.exceptions import ApiError

    from locust_operator.webhook.cert_secret import (
        SharedCertificateError,
        ensure_shared_certificate,
        watch_shared_certificate,
    )
    from locust_operator.webhook.registration import register_webhooks

    namespace, hosts = options.service_namespace, options.hosts()
    try:
        certificate = await ensure_shared_certificate(client, namespace, secret, hosts, cert_dir)
    except (ApiError, SharedCertificateError) as error:
        detail = error.status.message if isinstance(error, ApiError) else str(error)
        raise WebhookStartupError(f"--webhook-cert-secret {namespace}/{secret}: {detail}") from None

    async def reregister(changed: ServingCertificate) -> None:
        await register_webhooks(client, options.endpoint(), changed.ca_bundle)

    refresher = asyncio.create_task(
        watch_shared_certificate(client, namespace, secret, hosts, cert_dir, on_change=reregister)
    )
    stack.callback(refresher.cancel)
    return certificate
