"""An in-memory apiserver and informer caches for LocustTestReconciler unit tests.

The fake answers like the apiserver where the reconciler depends on it: create refuses an
existing name with 409, a metadata or status patch carrying a stale resourceVersion gets
409, a missing object 404. Caches read the same objects, except those marked ``uncached``
(an informer that has not seen them yet). Errors can be injected per request.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Pod, Service

from locust_operator.controller.reconciler import LocustTestResource
from locust_operator.kube.events import EventType, InvolvedObject

Key = tuple[str, str, str]  # kind, namespace, name


def api_error(code: int, message: str = "") -> ApiError:
    reasons = {404: "NotFound", 409: "Conflict", 403: "Forbidden", 422: "Invalid"}
    return ApiError(status=Status(code=code, reason=reasons.get(code), message=message))


def _kind(resource: Any) -> str:
    if resource is LocustTestResource or resource is LocustTestResource.Status:
        return "LocustTest"
    return str(resource.__name__)


class FakeKube:
    """What the reconciler calls on lightkube's AsyncClient: create, get, patch, delete."""

    def __init__(self) -> None:
        self.objects: dict[Key, Any] = {}
        self.uncached: set[Key] = set()
        self.fail: dict[tuple[str, str, str], ApiError] = {}  # (verb, kind, name) -> error
        self.writes: list[tuple[str, str, str]] = []  # (verb, kind, name)
        self.reads: list[tuple[str, str]] = []  # (kind, name) of each get
        self.dry_runs: list[tuple[str, str]] = []  # (kind, name) of each dry-run create
        self._versions = itertools.count(100)

    # --- seeding and reading ---------------------------------------------------------

    def add_test(self, test: Mapping[str, Any]) -> None:
        meta = test["metadata"]
        stored = copy.deepcopy(dict(test))
        stored["metadata"].setdefault("resourceVersion", str(next(self._versions)))
        self.objects[("LocustTest", meta["namespace"], meta["name"])] = stored

    def add(self, obj: Service | Job | Pod | ConfigMap) -> None:
        assert obj.metadata is not None and obj.metadata.name and obj.metadata.namespace
        stored = copy.deepcopy(obj)
        assert stored.metadata is not None
        stored.metadata.uid = stored.metadata.uid or f"uid-{obj.metadata.name}"
        self.objects[(type(obj).__name__, obj.metadata.namespace, obj.metadata.name)] = stored

    def test(self, namespace: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.objects[("LocustTest", namespace, name)]
        return found

    def child(self, kind: str, namespace: str, name: str) -> Any:
        return self.objects.get((kind, namespace, name))

    # --- the client ------------------------------------------------------------------

    def _check(self, verb: str, kind: str, name: str) -> None:
        error = self.fail.pop((verb, kind, name), None)
        if error is not None:
            raise error

    async def create(self, obj: Any, *, dry_run: bool = False) -> Any:
        meta = obj.metadata
        kind = type(obj).__name__
        if dry_run:  # validation only: fails as injected ("dry-run", kind, name), else passes
            self.dry_runs.append((kind, meta.name))
            self._check("dry-run", kind, meta.name)
            return copy.deepcopy(obj)
        self._check("create", kind, meta.name)
        key = (kind, meta.namespace, meta.name)
        if key in self.objects:
            raise api_error(409, f'{kind.lower()}s "{meta.name}" already exists')
        self.writes.append(("create", kind, meta.name))
        stored = copy.deepcopy(obj)
        stored.metadata.uid = f"uid-{meta.name}-{next(self._versions)}"
        stored.metadata.resourceVersion = str(next(self._versions))
        self.objects[key] = stored
        return copy.deepcopy(stored)

    async def delete(self, resource: Any, name: str, *, namespace: str, **_: Any) -> None:
        kind = _kind(resource)
        self._check("delete", kind, name)
        if self.objects.pop((kind, namespace, name), None) is None:
            raise api_error(404, f'{kind.lower()}s "{name}" not found')
        self.writes.append(("delete", kind, name))

    async def get(self, resource: Any, name: str, *, namespace: str) -> Any:
        kind = _kind(resource)
        self._check("get", kind, name)
        self.reads.append((kind, name))
        found = self.objects.get((kind, namespace, name))
        if found is None:
            raise api_error(404, f'{kind.lower()}s "{name}" not found')
        return copy.deepcopy(found)

    async def patch(
        self, resource: Any, name: str, body: dict[str, Any], *, namespace: str, **_: Any
    ) -> Any:
        verb = "patch status" if resource is LocustTestResource.Status else "patch"
        self._check(verb, "LocustTest", name)
        stored = self.objects.get(("LocustTest", namespace, name))
        if stored is None:
            raise api_error(404, f'locusttests "{name}" not found')
        changes = dict(body.get("metadata") or {})
        if changes.pop("resourceVersion", None) != stored["metadata"]["resourceVersion"]:
            raise api_error(409, "the object has been modified")
        self.writes.append((verb, "LocustTest", name))
        if verb == "patch status":
            status = {**(stored.get("status") or {}), **body["status"]}
            stored["status"] = {k: v for k, v in status.items() if v is not None}
        else:
            stored["metadata"].update(changes)
        stored["metadata"]["resourceVersion"] = str(next(self._versions))
        return copy.deepcopy(stored)


class Cache:
    """An informer cache of one kind, over the fake's objects."""

    def __init__(self, kube: FakeKube, kind: str) -> None:
        self._kube, self._kind = kube, kind

    def _cached(self) -> dict[Key, Any]:
        return {
            key: obj
            for key, obj in self._kube.objects.items()
            if key[0] == self._kind and key not in self._kube.uncached
        }

    def get(self, namespace: str, name: str) -> Any:
        return copy.deepcopy(self._cached().get((self._kind, namespace, name)))

    def by_label(self, key: str, value: str, namespace: str) -> list[Any]:
        return [
            copy.deepcopy(obj)
            for (_, ns, _name), obj in self._cached().items()
            if ns == namespace and (obj.metadata.labels or {}).get(key) == value
        ]


class RecordedEvents:
    """The EventRecorder's emit(), remembered."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []  # type, reason, message

    async def emit(
        self, target: InvolvedObject, event_type: EventType, reason: str, message: str
    ) -> None:
        self.events.append((event_type, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]

    def messages(self, reason: str) -> list[str]:
        return [message for _, kind, message in self.events if kind == reason]
