"""Ask the apiserver whether it would accept a test's children, without creating them.

A server-side dry run (``dryRun=All``) runs the apiserver's own validation and admission
of a Job or Service, so what it refuses is exactly what a real create would refuse. The
webhook uses it to reject a LocustTest whose children could never be created. The
reconciler, which creates children without a dry run, judges a refusal with the same
``is_permanent`` and ``refusal``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Service

from locust_operator.config import Role
from locust_operator.resources.labels import ROLE_LABEL
from locust_operator.resources.origin import spec_field

# Codes of a request the apiserver will refuse again, however often it is sent: invalid
# (422), malformed (400), too large (413). Anything else (quota, conflicts, an apiserver
# that is busy or gone) may pass later.
PERMANENT_CODES = frozenset({400, 413, 422})


@dataclass(frozen=True)
class Cause:
    child_field: str | None
    message: str


@dataclass(frozen=True)
class Refusal:
    """The apiserver refused one child for good."""

    kind: str
    name: str
    role: Role | None  # None: the Service
    message: str
    causes: tuple[Cause, ...]

    def spec_fields(self) -> list[tuple[str, str]]:
        """(LocustTest field, what the apiserver said) for every cause, in order."""
        result = []
        for cause in self.causes or (Cause(None, self.message),):
            origin = spec_field(cause.child_field, self.role)
            where = f" at {cause.child_field}" if cause.child_field else ""
            what = f"the apiserver refuses the {self.kind} {self.name}{where}: {cause.message}"
            if origin.operator_setting:
                what += " (this comes from the operator's configuration, not the test)"
            result.append((origin.field, what))
        return result

    def summary(self) -> str:
        fields = ", ".join(dict.fromkeys(field for field, _ in self.spec_fields()))
        return f"the apiserver refused {self.kind} {self.name}: {self.message}; fix {fields}"


def is_permanent(error: ApiError) -> bool:
    return error.status.code in PERMANENT_CODES


def role_of(obj: Service | Job) -> Role | None:
    if isinstance(obj, Service):
        return None
    labels = (obj.metadata.labels if obj.metadata else None) or {}
    return "master" if labels.get(ROLE_LABEL) == "master" else "worker"


def refusal(obj: Service | Job, error: ApiError) -> Refusal:
    details = error.status.details
    causes = tuple(
        Cause(cause.field, cause.message or cause.reason or "invalid")
        for cause in ((details.causes if details else None) or [])
    )
    name = obj.metadata.name if obj.metadata and obj.metadata.name else "?"
    kind = obj.kind or type(obj).__name__
    return Refusal(kind, name, role_of(obj), error.status.message or str(error), causes)


async def _try(client: AsyncClient, obj: Service | Job) -> Refusal | ApiError | None:
    try:
        await client.create(obj, dry_run=True)
    except ApiError as error:
        if error.status.code == 409:
            return None  # AlreadyExists is checked after validation: the object is valid
        return refusal(obj, error) if is_permanent(error) else error
    return None


async def dry_run(
    client: AsyncClient, objs: Sequence[Service | Job]
) -> tuple[list[Refusal], list[ApiError]]:
    """Dry-runs the creation of ``objs`` at once: the permanent refusals, and the other
    errors (which say nothing about the objects)."""
    results = await asyncio.gather(*(_try(client, obj) for obj in objs))
    refusals = [r for r in results if isinstance(r, Refusal)]
    errors = [r for r in results if isinstance(r, ApiError)]
    return refusals, errors
