"""The LocustTest CustomResourceDefinition, generated from the API dataclasses."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml

from . import names, v1, v2
from .schema import openapi_schema

CRD_FILE = "config/crd/locust.io_locusttests.yaml"
# Every committed copy, all written by `make crd`: Helm cannot read files outside the chart.
CRD_COPIES = (CRD_FILE, "charts/locust-k8s-operator/files/locust.io_locusttests.yaml")

WEBHOOK_SERVICE_NAME = "locust-k8s-operator-webhook"
WEBHOOK_NAMESPACE = "locust-operator-system"
CONVERSION_PATH = "/convert"
WEBHOOK_PORT = 443


def default_conversion() -> dict[str, Any]:
    """Webhook conversion through the operator's Service (caBundle is patched in at runtime)."""
    return {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "service": {
                    "name": WEBHOOK_SERVICE_NAME,
                    "namespace": WEBHOOK_NAMESPACE,
                    "path": CONVERSION_PATH,
                    "port": WEBHOOK_PORT,
                }
            },
        },
    }


_DEFAULT: Any = object()

_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

_V2_COLUMNS = [
    {"name": "PHASE", "type": "string", "jsonPath": ".status.phase",
     "description": "Current test phase"},
    # The workers the test runs with (from the spec its children were built from), not a
    # later edit, which is ignored (SpecDrifted).
    {"name": "WORKERS", "type": "integer", "jsonPath": ".status.expectedWorkers",
     "description": "Workers the test runs with"},
    {"name": "CONNECTED", "type": "integer", "jsonPath": ".status.connectedWorkers",
     "description": "Connected workers (approximate)"},
    {"name": "RPS", "type": "number", "jsonPath": ".status.results.currentRps",
     "description": "Requests per second now (Locust's figure, while running)"},
    {"name": "FAILURES", "type": "integer", "jsonPath": ".status.results.failures",
     "description": "Failed requests so far (Locust's figure)"},
    {"name": "IMAGE", "type": "string", "jsonPath": ".spec.image", "priority": 1,
     "description": "Locust image"},
    {**_AGE, "name": "AGE"},
]  # fmt: skip

_V1_COLUMNS = [
    {"name": "master_cmd", "type": "string", "jsonPath": ".spec.masterCommandSeed",
     "description": "Master command seed"},
    {"name": "worker_replica_count", "type": "integer", "jsonPath": ".spec.workerReplicas",
     "description": "Number of worker pods"},
    {"name": "Image", "type": "string", "jsonPath": ".spec.image",
     "description": "Locust image"},
    dict(_AGE),
]  # fmt: skip


def generate_crd(conversion: Mapping[str, Any] | None = _DEFAULT) -> dict[str, Any]:
    """The CRD as a dict.

    ``conversion`` is the ``spec.conversion`` stanza; by default webhook conversion through the
    operator's Service. ``None`` omits the stanza (strategy None: only for schema-only tests,
    since v1 and v2 differ in shape).
    """
    versions = [
        {
            "name": names.V1,
            "served": True,
            "storage": False,
            "deprecated": True,
            "deprecationWarning": names.V1_DEPRECATION_WARNING,
            "additionalPrinterColumns": copy.deepcopy(_V1_COLUMNS),
            "schema": {"openAPIV3Schema": openapi_schema(v1.LocustTest)},
            "subresources": {"status": {}},
        },
        {
            "name": names.V2,
            "served": True,
            "storage": True,
            "additionalPrinterColumns": copy.deepcopy(_V2_COLUMNS),
            "schema": {"openAPIV3Schema": openapi_schema(v2.LocustTest)},
            "subresources": {"status": {}},
        },
    ]
    spec: dict[str, Any] = {
        "group": names.GROUP,
        "names": {
            "kind": names.KIND,
            "listKind": names.LIST_KIND,
            "plural": names.PLURAL,
            "singular": names.SINGULAR,
            "shortNames": list(names.SHORT_NAMES),
        },
        "scope": "Namespaced",
    }
    if conversion is _DEFAULT:
        conversion = default_conversion()
    if conversion is not None:
        spec["conversion"] = copy.deepcopy(dict(conversion))
    spec["versions"] = versions
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": names.CRD_NAME},
        "spec": spec,
    }


def with_webhook_client_config(
    crd: Mapping[str, Any], client_config: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of ``crd`` converting through a webhook at ``client_config``.

    ``client_config`` is an apiextensions WebhookClientConfig: ``{"url": ...}`` or
    ``{"service": {...}}``, plus ``caBundle`` (base64 PEM).
    """
    out = copy.deepcopy(dict(crd))
    out["spec"]["conversion"] = {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": copy.deepcopy(dict(client_config)),
        },
    }
    return out


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Block style keeps multi-line descriptions readable.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render_crd_yaml(crd: Mapping[str, Any] | None = None) -> str:
    """Deterministic YAML of the CRD (of ``generate_crd()`` unless given)."""
    body = yaml.dump(
        dict(crd) if crd is not None else generate_crd(),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=100,
        allow_unicode=False,
    )
    return "---\n" + body
