"""Admission's last check: would the apiserver accept what this LocustTest becomes?

The rules Kubernetes applies to a Job (label syntax, quantities, volume sources, affinity
operators, ...) are many and change between versions; rather than restate them, the
webhook builds the test's children with the operator's own builders and asks the
apiserver to validate them with a server-side dry run (nothing is created). A refusal is
reported against the LocustTest field that produced the refused value. For a v1 object,
the converted v2 object itself is dry-run too, so that the structural schema and CEL rules
of v2 judge whatever a ``conversion.locust.io/v2-spec`` annotation carries.

Errors that say nothing about the test (the apiserver busy, a quota, missing permission)
never block admission: the reconciler handles those when it creates the children.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError

from locust_operator.api import names
from locust_operator.api.conversion import ConversionError, convert_v1_to_v2
from locust_operator.api.validation import FieldError
from locust_operator.config import OperatorConfig
from locust_operator.kube.dry_run import dry_run, is_permanent
from locust_operator.resources import build_children
from locust_operator.webhook.collisions import name_collisions
from locust_operator.webhook.priority_classes import missing_priority_classes

log = logging.getLogger(__name__)

# Stand-ins for what a LocustTest being created has not got yet.
_PLACEHOLDER_NAME = "admission-check"
_PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
# A dry run that takes longer than this is abandoned (the test is admitted; the
# reconciler still reports a refused child).
DRY_RUN_TIMEOUT_SECONDS = 5.0


def test_for_children(obj: Mapping[str, Any], namespace: str | None) -> dict[str, Any]:
    """The v2 test as the reconciler will see it once stored (pure)."""
    if obj.get("apiVersion") == names.V1_API_VERSION:
        obj = convert_v1_to_v2(obj)
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
    uid = metadata.get("uid") if isinstance(metadata.get("uid"), str) else None
    return {
        "apiVersion": names.V2_API_VERSION,
        "kind": names.KIND,
        "metadata": {
            "name": name or _PLACEHOLDER_NAME,
            "namespace": namespace or metadata.get("namespace") or "default",
            "uid": uid or _PLACEHOLDER_UID,
            "generation": 1,
        },
        "spec": obj.get("spec"),
    }


def _refusal_errors(error: ApiError, prefix: str = "") -> list[FieldError]:
    details = error.status.details
    causes = (details.causes if details else None) or []
    if not causes:
        return [FieldError(prefix or "spec", error.status.message or str(error))]
    return [
        FieldError(cause.field or prefix or "spec", cause.message or cause.reason or "invalid")
        for cause in causes
    ]


class ChildrenCheck:
    """Dry-runs a LocustTest's children (and a v1 test's v2 form) against the apiserver."""

    def __init__(self, client: AsyncClient, config: OperatorConfig) -> None:
        self._client = client
        self._config = config
        self.last_seconds = 0.0  # how long the last check took (admission latency)

    async def __call__(self, obj: dict[str, Any], namespace: str | None) -> list[FieldError]:
        started = time.monotonic()
        try:
            return await asyncio.wait_for(self._check(obj, namespace), DRY_RUN_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("dry run of the children timed out; admitting without it")
            return []
        finally:
            self.last_seconds = time.monotonic() - started

    async def collisions(self, obj: dict[str, Any], namespace: str | None) -> list[FieldError]:
        """A new test named like another but for '.' and '-' (their children would share
        names)."""
        try:
            return await asyncio.wait_for(
                name_collisions(self._client, obj, namespace), DRY_RUN_TIMEOUT_SECONDS
            )
        except TimeoutError:
            log.warning("listing LocustTests for a name collision timed out; admitting")
            return []

    async def _check(self, obj: dict[str, Any], namespace: str | None) -> list[FieldError]:
        try:
            test = test_for_children(obj, namespace)
        except ConversionError as error:
            return [FieldError("<root>", str(error))]
        if obj.get("apiVersion") == names.V1_API_VERSION:
            errors = await self._dry_run_v2(test)
            if errors:
                return errors
        try:
            children = build_children(test, self._config)
        except (ValueError, TypeError) as error:
            # The schema admitted something the builders cannot read (a v1 object's
            # annotation is dry-run above; this is the last line).
            return [FieldError("spec", f"cannot build the test's resources: {error}")]
        refusals, others = await dry_run(
            self._client, [children.service, children.master_job, children.worker_job]
        )
        for other in others:
            log.info("dry run of a child failed, not judged: %s", other.status.message)
        errors = [
            FieldError(field, message) for r in refusals for field, message in r.spec_fields()
        ]
        # A Job's dry run does not resolve its pods' PriorityClass; look it up.
        return errors + await missing_priority_classes(self._client, test.get("spec"))

    async def _dry_run_v2(self, test: dict[str, Any]) -> list[FieldError]:
        """The v2 object a v1 object becomes, judged by v2's schema and CEL rules."""
        from locust_operator.controller.reconciler import LocustTestResource

        body = {
            "apiVersion": names.V2_API_VERSION,
            "kind": names.KIND,
            "metadata": {
                "name": test["metadata"]["name"],
                "namespace": test["metadata"]["namespace"],
            },
            "spec": test["spec"],
        }
        try:
            await self._client.create(LocustTestResource.from_dict(body), dry_run=True)
        except ApiError as error:
            if error.status.code == 409 or not is_permanent(error):
                return []
            return [
                FieldError(e.field, f"{e.message} (in the v2 form of this v1 object)")
                for e in _refusal_errors(error)
            ]
        return []
