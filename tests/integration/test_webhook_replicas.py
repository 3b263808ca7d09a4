"""Two operator replicas with `--webhook-cert-secret` serve one certificate: whichever the
apiserver calls, the caBundle registered by the other validates it (nothing hand-made)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Secret

from locust_operator.webhook.registration import CRD_NAME, VALIDATING_CONFIGURATION_NAME
from tests.helpers import eventually, new_namespace
from tests.locusttests import BAD_CASES, LocustTestV2
from tests.operator_process import OperatorProcess, free_port

pytestmark = pytest.mark.cluster


async def handshake(port: int, ca_bundle: bytes) -> None:
    """A TLS handshake with the replica on ``port``, trusting only ``ca_bundle``."""
    context = ssl.create_default_context(cadata=ca_bundle.decode())
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
    )
    writer.close()
    await writer.wait_closed()


async def test_replicas_share_the_registered_certificate(
    kube: AsyncClient, kubeconfig: Path, crd: str, tmp_path: Path
) -> None:
    async with new_namespace(kube, "webhook-replicas") as namespace:
        replicas = []
        for index in range(2):
            process = OperatorProcess(
                kubeconfig=kubeconfig,
                log_path=tmp_path / f"replica-{index}.log",
                webhooks=True,
                webhook_port=free_port(),
                args=[
                    "--no-controller",
                    "--webhook-cert-secret=webhook-certs",
                    f"--webhook-service-namespace={namespace}",
                ],
            )
            replicas.append(process)
        try:
            for process in replicas:
                process.start()
            for process in replicas:
                process.wait_for_log("webhooks registered")

            secret = await kube.get(Secret, "webhook-certs", namespace=namespace)
            assert secret.type == "kubernetes.io/tls"
            config = await kube.get(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
            assert config.webhooks
            ca_bundle = base64.b64decode(config.webhooks[0].clientConfig.caBundle or "")
            # Whichever replica registered last, the other one is trusted too.
            for process in replicas:
                await handshake(process.webhook_port, ca_bundle)

            # And the apiserver really calls through that registration.
            bad = next(c for c in BAD_CASES if not c.in_schema).object("through-replica")

            async def rejected_by_webhook() -> bool:
                # The apiserver picks registrations up asynchronously: retry until it has.
                try:
                    await kube.create(LocustTestV2(bad), namespace=namespace)
                except ApiError as error:
                    return "validate.locusttest.locust.io" in error.status.message
                await kube.delete(LocustTestV2, "through-replica", namespace=namespace)
                return False

            await eventually(rejected_by_webhook, what="the webhook rejects a bad test")

            # Registered by URL, the registrations belong to the processes: once both have
            # stopped, neither the validating configuration nor the CRD's conversion calls
            # them (whichever registered last removed them on exit).
            for process in replicas:
                assert process.stop() == 0, process.log_tail()
            with pytest.raises(ApiError) as gone:
                await kube.get(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
            assert gone.value.status.code == 404
            definition = await kube.get(CustomResourceDefinition, CRD_NAME)
            conversion = definition.spec.conversion
            client_config = (
                conversion.webhook.clientConfig if conversion and conversion.webhook else None
            )
            assert not (client_config and client_config.url), client_config
        finally:
            for process in replicas:
                process.stop()
            # Left behind only if a replica could not remove it.
            with contextlib.suppress(ApiError):
                await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
