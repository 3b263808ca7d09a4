"""A new LocustTest whose children would be named like another test's is denied (issue 12,
finding 9): children are named after the test with dots as dashes, so 'dot.case' and
'dot-case' would share 'dot-case-master' and 'dot-case-worker'."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError

from locust_operator.api.validation import FieldError
from locust_operator.resources import master_service_name, worker_job_name

log = logging.getLogger(__name__)


def collision_errors(name: str, others: Iterable[str]) -> list[FieldError]:
    """The error for ``name`` if one of ``others`` (the namespace's tests) gives the same
    child names; pure."""
    mine = master_service_name(name)
    for other in sorted(others):
        if other != name and master_service_name(other) == mine:
            return [
                FieldError(
                    "metadata.name",
                    f"{name!r} would share its Service and Jobs ({mine}, "
                    f"{worker_job_name(name)}) with LocustTest {other!r} in this namespace: "
                    "the operator names them after the test with dots as dashes; choose a "
                    "name that differs by more than '.' and '-'",
                )
            ]
    return []


async def name_collisions(
    client: AsyncClient, obj: Mapping[str, Any], namespace: str | None
) -> list[FieldError]:
    """Lists the namespace's tests; a failure to list admits (logged), it says nothing
    about the test."""
    from locust_operator.controller.reconciler import LocustTestResource

    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str) or not name or not namespace:
        return []  # generateName: the apiserver picks a name no test has
    try:
        others = [
            str(item["metadata"]["name"])
            async for item in client.list(LocustTestResource, namespace=namespace)
        ]
    except (ApiError, OSError) as error:
        log.info("listing LocustTests for a name collision failed, not judged: %s", error)
        return []
    return collision_errors(name, others)
