"""Registers the webhooks with the apiserver: the CRD's conversion clientConfig and the
ValidatingWebhookConfiguration, each with the CA bundle that signed our serving cert."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, cast

from lightkube import AsyncClient
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.types import PatchType

CRD_NAME = "locusttests.locust.io"
VALIDATING_CONFIGURATION_NAME = "locust-k8s-operator-validating-webhook"
VALIDATING_WEBHOOK_NAME = "validate.locusttest.locust.io"
FIELD_MANAGER = "locust-k8s-operator"


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where the apiserver reaches us: a URL (outside a cluster) or a Service (inside)."""

    url: str | None = None
    service_name: str | None = None
    service_namespace: str | None = None
    service_port: int = 443

    def __post_init__(self) -> None:
        if (self.url is None) == (self.service_name is None):
            raise ValueError("a webhook endpoint is either a URL or a Service, exactly one")
        if self.service_name and not self.service_namespace:
            raise ValueError("a Service endpoint needs the Service's namespace")

    def client_config(self, path: str, ca_bundle: bytes) -> dict[str, Any]:
        config: dict[str, Any] = {"caBundle": base64.b64encode(ca_bundle).decode()}
        if self.url is not None:
            config["url"] = self.url.rstrip("/") + path
        else:
            config["service"] = {
                "name": self.service_name,
                "namespace": self.service_namespace,
                "path": path,
                "port": self.service_port,
            }
        return config


def conversion_patch(endpoint: WebhookEndpoint, ca_bundle: bytes) -> dict[str, Any]:
    """A JSON merge patch for the CRD: null clears the other form of clientConfig."""
    client_config: dict[str, Any] = {"url": None, "service": None}
    client_config.update(endpoint.client_config("/convert", ca_bundle))
    return {
        "spec": {
            "conversion": {
                "strategy": "Webhook",
                "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": client_config},
            }
        }
    }


def validating_configuration(endpoint: WebhookEndpoint, ca_bundle: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        # No labels: in a cluster the Helm release owns this object (and its
        # app.kubernetes.io/managed-by), the operator only keeps the webhook current.
        "metadata": {"name": VALIDATING_CONFIGURATION_NAME},
        "webhooks": [
            {
                "name": VALIDATING_WEBHOOK_NAME,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "timeoutSeconds": 10,
                "clientConfig": endpoint.client_config("/validate", ca_bundle),
                "rules": [
                    {
                        "apiGroups": ["locust.io"],
                        "apiVersions": ["v1", "v2"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["locusttests"],
                        "scope": "Namespaced",
                    }
                ],
            }
        ],
    }


async def register_webhooks(
    client: AsyncClient, endpoint: WebhookEndpoint, ca_bundle: bytes
) -> None:
    """Points the CRD's conversion and the validating webhook at us. Idempotent."""
    await client.patch(
        CustomResourceDefinition,
        CRD_NAME,
        conversion_patch(endpoint, ca_bundle),
        patch_type=PatchType.MERGE,
    )
    configuration = cast(
        ValidatingWebhookConfiguration,
        ValidatingWebhookConfiguration.from_dict(validating_configuration(endpoint, ca_bundle)),
    )
    await client.apply(
        configuration,
        field_manager=FIELD_MANAGER,
        force=True,
    )
