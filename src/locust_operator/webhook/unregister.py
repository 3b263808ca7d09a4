"""Removing registrations made by URL, so that a stopped operator does not lock users out.

An operator run outside the cluster (``--webhook-url``) registers the CRD's conversion and
the validating webhook at its own address. Once that process is gone the apiserver still
calls it: every write of a LocustTest is refused. The registration therefore belongs to
the process: on a clean exit it puts back what was there before
(:class:`UrlRegistration`), and ``locust-operator webhooks unregister`` clears one left
behind by a process that was killed (:func:`unregister_url_webhooks`).

Registrations by Service belong to an in-cluster deployment shared by its replicas: one
replica exiting must not remove them, so neither path here touches them.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.types import PatchType

from locust_operator.webhook.registration import CRD_NAME, VALIDATING_CONFIGURATION_NAME

log = logging.getLogger(__name__)


# What the CRD's conversion goes back to when what it replaced cannot be put back: the
# conversion the CRD is installed with (the in-cluster Service, no CA bundle). Not strategy
# None: without the webhook the apiserver would store a v1 object as v2 stripped of every
# v1 field, and serve v2 objects to v1 readers without theirs; a v1 request that fails,
# naming the webhook Service, loses nothing. v2 needs no conversion.
def installed_conversion() -> dict[str, Any]:
    from locust_operator.api.crd import default_conversion

    return default_conversion()


def _client_config_url(client_config: dict[str, Any] | None) -> str | None:
    return (client_config or {}).get("url") or None


def conversion_url(conversion: dict[str, Any] | None) -> str | None:
    """The URL the CRD's conversion calls, if it is registered by URL."""
    webhook = (conversion or {}).get("webhook") or {}
    return _client_config_url(webhook.get("clientConfig"))


def validating_urls(webhooks: list[dict[str, Any]] | None) -> list[str]:
    """The URLs of the validating webhooks registered by URL."""
    urls = (_client_config_url(webhook.get("clientConfig")) for webhook in webhooks or [])
    return [url for url in urls if url]


def _by_service_with_ca(client_config: dict[str, Any] | None) -> bool:
    config = client_config or {}
    return bool(config.get("service")) and bool(config.get("caBundle"))


def conversion_to_restore(previous: dict[str, Any] | None) -> dict[str, Any]:
    """What the CRD's conversion goes back to on exit: what it was, unless that was a
    registration by URL (another process's, which is gone or will register again), in
    which case the conversion the CRD is installed with."""
    if previous is None:
        return {"strategy": "None"}  # the apiserver's default: nothing was set
    if conversion_url(previous):
        return installed_conversion()
    return copy.deepcopy(previous)


def conversion_merge_patch(
    conversion: dict[str, Any], resource_version: str | None
) -> dict[str, Any]:
    """A JSON merge patch that makes the CRD's spec.conversion exactly ``conversion``."""
    replacement: dict[str, Any] = {"strategy": conversion.get("strategy", "None"), "webhook": None}
    webhook = conversion.get("webhook")
    if webhook:
        replacement["webhook"] = {
            **webhook,
            # null clears what the replacement does not set (the other form, our CA)
            "clientConfig": {
                "url": None,
                "service": None,
                "caBundle": None,
                **webhook.get("clientConfig", {}),
            },
        }
    patch: dict[str, Any] = {"spec": {"conversion": replacement}}
    if resource_version:  # only if nobody changed it since we looked
        patch["metadata"] = {"resourceVersion": resource_version}
    return patch


@dataclass(frozen=True)
class UrlRegistration:
    """This process's registration by URL, and what it replaced, to put back on exit."""

    base_url: str
    previous_conversion: dict[str, Any] | None
    previous_validating_webhooks: list[dict[str, Any]] | None  # None: there was none

    @property
    def conversion_url(self) -> str:
        return self.base_url.rstrip("/") + "/convert"

    @property
    def validating_url(self) -> str:
        return self.base_url.rstrip("/") + "/validate"

    @classmethod
    async def before_registering(cls, client: AsyncClient, base_url: str) -> UrlRegistration:
        """Reads the registrations this process is about to replace."""
        crd = await client.get(CustomResourceDefinition, CRD_NAME)
        conversion = crd.spec.conversion.to_dict() if crd.spec.conversion else None
        try:
            configuration = await client.get(
                ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME
            )
        except ApiError as error:
            if error.status.code != 404:
                raise
            webhooks = None
        else:
            webhooks = [webhook.to_dict() for webhook in configuration.webhooks or []]
        return cls(base_url, conversion, webhooks)

    async def remove(self, client: AsyncClient) -> list[str]:
        """Puts back what this process replaced, where its registration is still in place
        (another process may have registered since). Returns what it changed."""
        changed = []
        crd = await client.get(CustomResourceDefinition, CRD_NAME)
        current = crd.spec.conversion.to_dict() if crd.spec.conversion else None
        if conversion_url(current) == self.conversion_url:
            restored = conversion_to_restore(self.previous_conversion)
            version = crd.metadata.resourceVersion if crd.metadata else None
            await client.patch(
                CustomResourceDefinition,
                CRD_NAME,
                conversion_merge_patch(restored, version),
                patch_type=PatchType.MERGE,
            )
            changed.append(f"CRD {CRD_NAME} conversion: {_describe_conversion(restored)}")
        try:
            configuration = await client.get(
                ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME
            )
        except ApiError as error:
            if error.status.code != 404:
                raise
            return changed
        webhooks = [webhook.to_dict() for webhook in configuration.webhooks or []]
        if self.validating_url not in validating_urls(webhooks):
            return changed
        previous = self.previous_validating_webhooks or []
        if previous and all(_by_service_with_ca(w.get("clientConfig")) for w in previous):
            version = configuration.metadata.resourceVersion if configuration.metadata else None
            await client.patch(
                ValidatingWebhookConfiguration,
                VALIDATING_CONFIGURATION_NAME,
                {"metadata": {"resourceVersion": version}, "webhooks": previous},
                patch_type=PatchType.MERGE,
            )
            changed.append(
                f"ValidatingWebhookConfiguration {VALIDATING_CONFIGURATION_NAME}: "
                "the in-cluster Service registration it replaced"
            )
        else:
            await client.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
            changed.append(
                f"ValidatingWebhookConfiguration {VALIDATING_CONFIGURATION_NAME}: deleted"
            )
        return changed


def _describe_conversion(conversion: dict[str, Any]) -> str:
    if conversion.get("strategy") != "Webhook":
        return "strategy None"
    client_config = (conversion.get("webhook") or {}).get("clientConfig") or {}
    service = client_config.get("service") or {}
    if not service:
        return f"calls {client_config.get('url')}"
    where = f"Service {service.get('namespace')}/{service.get('name')}"
    if client_config.get("caBundle"):
        return f"calls {where} (an in-cluster operator's)"
    return f"calls {where}, as installed (v1 requests work once an operator serves it)"


class NothingToUnregister(Exception):
    """The LocustTest CRD is not installed."""


async def unregister_url_webhooks(client: AsyncClient) -> tuple[list[str], list[str]]:
    """Clears every registration by URL (a stopped or killed local operator's): the CRD's
    conversion goes back to the one it is installed with and a validating configuration
    that calls a URL is deleted. Returns (what it changed, what it left: registrations by
    Service)."""
    changed: list[str] = []
    left: list[str] = []
    try:
        crd = await client.get(CustomResourceDefinition, CRD_NAME)
    except ApiError as error:
        if error.status.code == 404:
            raise NothingToUnregister(f"the CRD {CRD_NAME} is not installed") from None
        raise
    conversion = crd.spec.conversion.to_dict() if crd.spec.conversion else None
    url = conversion_url(conversion)
    if url:
        installed = installed_conversion()
        await client.patch(
            CustomResourceDefinition,
            CRD_NAME,
            conversion_merge_patch(installed, None),
            patch_type=PatchType.MERGE,
        )
        changed.append(
            f"CRD {CRD_NAME} conversion called {url}: now {_describe_conversion(installed)}"
        )
    elif (conversion or {}).get("strategy") == "Webhook":
        left.append(f"CRD {CRD_NAME} conversion: {_describe_conversion(conversion or {})}")
    try:
        configuration = await client.get(
            ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME
        )
    except ApiError as error:
        if error.status.code != 404:
            raise
        return changed, left
    webhooks = [webhook.to_dict() for webhook in configuration.webhooks or []]
    urls = validating_urls(webhooks)
    if urls:
        await client.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
        changed.append(
            f"ValidatingWebhookConfiguration {VALIDATING_CONFIGURATION_NAME} called "
            f"{', '.join(urls)}: deleted"
        )
    elif webhooks:
        left.append(
            f"ValidatingWebhookConfiguration {VALIDATING_CONFIGURATION_NAME}: by Service "
            "(an in-cluster operator's)"
        )
    return changed, left


# Bounds the removal on exit, so that an apiserver that is gone cannot hold the process.
REMOVE_TIMEOUT_SECONDS = 5.0


async def remove_on_exit(client: AsyncClient, registration: UrlRegistration) -> None:
    """The exit step of a by-URL operator: removes its registration, or says how to."""
    try:
        changed = await asyncio.wait_for(registration.remove(client), REMOVE_TIMEOUT_SECONDS)
    except Exception as error:
        detail = error.status.message if isinstance(error, ApiError) else repr(error)
        log.warning(
            "could not remove the webhooks registered at %s (%s): until they are removed, "
            "creating or updating LocustTests fails; run: "
            "locust-operator webhooks unregister --kubeconfig PATH",
            registration.base_url,
            detail,
        )
        return
    for line in changed:
        log.info("webhooks unregistered: %s", line)
