"""Ready means the apiserver trusts what this replica serves (issue 12, finding 11): the CA
bundle registered in the CRD's conversion and in the ValidatingWebhookConfiguration is the
CA of the certificate served now. Another replica (or process) may register its own CA
after this one did; a replica whose CA is no longer registered would make the apiserver's
calls fail with 'x509: certificate signed by unknown authority', so /readyz says so and the
Service sends it nothing until it matches again."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Mapping
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from locust_operator.api.names import CRD_NAME
from locust_operator.webhook.registration import VALIDATING_CONFIGURATION_NAME

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 3.0


def registration_problem(
    served_ca: bytes, conversion: Mapping[str, Any] | None, validating: Mapping[str, Any] | None
) -> str | None:
    """Why the registered webhooks do not trust ``served_ca`` (None: they do). Pure: the
    arguments are the CRD's spec.conversion and the ValidatingWebhookConfiguration."""
    expected = base64.b64encode(served_ca).decode()
    bundles: list[tuple[str, Any]] = []
    webhook = (conversion or {}).get("webhook") or {}
    bundles.append(("the CRD's conversion webhook", (webhook.get("clientConfig") or {})))
    if validating is None:
        return "the validating webhook is not registered"
    for hook in validating.get("webhooks") or []:
        bundles.append((f"validating webhook {hook.get('name')}", hook.get("clientConfig") or {}))
    for what, client_config in bundles:
        if client_config.get("caBundle") != expected:
            return (
                f"{what} is registered with another CA than the one this replica serves "
                "(another replica or process registered its own); waiting until they match"
            )
    return None


class RegistrationCheck:
    """Keeps ``problem`` current by reading both registrations every few seconds."""

    def __init__(self, client: AsyncClient, served_ca: Callable[[], bytes]) -> None:
        self._client = client
        self._served_ca = served_ca
        self.problem: str | None = None  # registered a moment ago: it matches

    async def check(self) -> None:
        try:
            crd = await self._client.get(CustomResourceDefinition, CRD_NAME)
            validating: Any = await self._client.get(
                ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME
            )
        except ApiError as error:
            if error.status.code != 404:
                raise
            problem: str | None = f"a webhook registration is missing: {error.status.message}"
        else:
            conversion = crd.spec.conversion.to_dict() if crd.spec.conversion else None
            problem = registration_problem(self._served_ca(), conversion, validating.to_dict())
        if problem != self.problem:
            (log.warning if problem else log.info)(
                "webhooks: %s", problem or "the registered CA is the one served again"
            )
        self.problem = problem

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL_SECONDS)
            try:
                await self.check()
            except Exception as error:  # the apiserver away: keep the last verdict
                log.debug("webhooks: reading the registrations failed: %r", error)
