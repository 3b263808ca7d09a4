"""Admission: a PriorityClass a test names must exist.

A server-side dry run of a Job does not run the pod admission that resolves
priorityClassName, so a missing PriorityClass would only show once the Job controller
tries to create the pods: it cannot, and the test waits with no pod at all. The webhook
therefore looks each name up. Anything but a clear 404 (no permission, apiserver busy)
admits the test rather than block it on an unrelated problem.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.scheduling_v1 import PriorityClass

from locust_operator.api.placement import priority_class_names
from locust_operator.api.validation import FieldError

log = logging.getLogger(__name__)


async def missing_priority_classes(client: AsyncClient, spec: Any) -> list[FieldError]:
    """An error for each priorityClassName in the (v2) spec that names no PriorityClass."""
    if not isinstance(spec, Mapping):
        return []
    errors = []
    for field, name in priority_class_names(spec):
        try:
            await client.get(PriorityClass, name)
        except ApiError as error:
            if error.status.code == 404:
                errors.append(
                    FieldError(
                        field,
                        f"PriorityClass {name!r} does not exist, so the apiserver would refuse "
                        "every pod of the test: create it (kubectl get priorityclasses lists "
                        "those there are) or remove the field",
                    )
                )
            else:
                log.info("could not look up PriorityClass %r, not judged: %s", name, error)
    return errors
