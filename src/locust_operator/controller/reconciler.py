"""Reconcile one LocustTest: converge its children and write its status.

Level-triggered: every call reads the observed state from the informer caches and acts
on it, whatever event (or none: a resync) caused it. Writes happen only when something
differs: a missing child, a missing finalizer, a status that changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Pod, Service
from lightkube.types import CascadeType, PatchType

from locust_operator.api.conditions import READY, RESOURCES_CREATED, RUNNING, TERMINAL_PHASES
from locust_operator.api.names import GROUP, KIND, PLURAL, V2, V2_API_VERSION
from locust_operator.config import OperatorConfig
from locust_operator.controller.pod_health import not_started, oldest_creation
from locust_operator.controller.results import with_results
from locust_operator.controller.status import (
    Observed,
    compute_status,
    is_final,
    status_changed,
)
from locust_operator.controller.transitions import (
    DELETING,
    DELETING_MESSAGE,
    ChildRef,
    EventIntent,
    creation_events,
    transition_events,
)
from locust_operator.kube.dry_run import is_permanent, refusal
from locust_operator.kube.events import EmitsEvents, InvolvedObject
from locust_operator.kube.owners import controller_name, controller_uid, is_controlled_by
from locust_operator.resources import (
    ROLE_LABEL,
    TEST_NAME_LABEL,
    Children,
    build_children,
    master_job_name,
    master_service_name,
    spec_digest,
    trusted_built,
    worker_job_name,
)
from locust_operator.resources.references import config_map_names
from locust_operator.resources.source import LocustTestSource

log = logging.getLogger(__name__)

LocustTestResource = create_namespaced_resource(GROUP, V2, KIND, PLURAL)
# Added by earlier versions, removed from every test now (see _release).
FINALIZER = "locust.io/cleanup"
# While a previous incarnation's children (same name, other uid) are being garbage
# collected, look again soon; their DELETED events usually come first anyway.
FOREIGN_CHILD_RETRY_SECONDS = 2.0

T = TypeVar("T")


class Cache(Protocol[T]):
    def get(self, namespace: str, name: str) -> T | None: ...

    def by_label(self, key: str, value: str, namespace: str) -> list[T]: ...


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None
    # A new test's children were just created; its status is not written yet. The
    # controller reconciles it again soon and times how long the children took.
    children_created: bool = False


class Conflict(Exception):
    """The object changed under us; retry from the cache (rate-limited)."""


class ChildCreationFailed(Exception):
    """The apiserver refused a child; the status says why, the key is retried with backoff."""


@dataclass
class Creation:
    """What creating the missing children did."""

    error: str | None = None  # why some child could not be created
    # The apiserver refuses a child as invalid (or the spec cannot be read): permanent,
    # the test fails instead of being retried.
    refused: bool = False
    created: list[ChildRef] = field(default_factory=list)
    # Found already there and owned by this test: the cache was behind, or another
    # operator (the reference) created it, unlabelled, before a switch-over.
    adopted: list[ChildRef] = field(default_factory=list)


@dataclass
class ObservedChildren:
    service: Service | None = None
    master_job: Job | None = None
    worker_job: Job | None = None
    foreign: tuple[str, ...] = ()

    def existing(self) -> list[Service | Job]:
        return [c for c in (self.service, self.master_job, self.worker_job) if c is not None]


def _involved(test: Mapping[str, Any]) -> InvolvedObject:
    meta = test["metadata"]
    return InvolvedObject(V2_API_VERSION, KIND, meta["namespace"], meta["name"], meta["uid"])


async def _nothing() -> None:
    return None


def _is_master(child: Job) -> bool:
    labels = (child.metadata.labels if child.metadata else None) or {}
    return labels.get(ROLE_LABEL) == "master"


# status.appliedSpecDigest: the digest of the spec the children were built from. Only the
# operator writes status; a child's recorded spec is used only when it matches.
APPLIED_SPEC_DIGEST = "appliedSpecDigest"
UNTRUSTED_SPEC = (
    "cannot recreate the missing children: the spec was edited since the test started, and "
    "the copy of the spec it started with on its remaining children was altered, removed "
    "or too large to keep (over 64 KiB); delete the LocustTest and create it again"
)


class _Collision(ValueError):
    """The children's names are another test's: this test can never run as named."""


def _collision(name: str, observed: ObservedChildren) -> str | None:
    """Why this test's children's names are taken by another LocustTest, one whose name
    differs only by '.' and '-' (children are named after the test with dots as dashes);
    None when no child is in the way, or only an earlier test of the same name's."""
    for child in observed.existing():
        owner = controller_name(child, KIND)
        if owner is not None and owner != name:
            return (
                f"its Service and Jobs would be named like those of LocustTest {owner!r} "
                f"({master_service_name(name)}, {worker_job_name(name)}): names that differ "
                "only by '.' and '-' share them; delete this test and create it under "
                "another name"
            )
    return None


def _unreadable(error: ValueError) -> str:
    return (
        f"the spec cannot be used: {error}; delete the LocustTest and create it again "
        "with a valid spec"
    )


def _replicas(spec: Any) -> int:
    worker = spec.get("worker") if isinstance(spec, Mapping) else None
    replicas = worker.get("replicas") if isinstance(worker, Mapping) else None
    return replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 0


def _child_ref(child: Service | Job) -> ChildRef:
    name = (child.metadata.name if child.metadata else None) or "?"
    role = "master" if isinstance(child, Service) or _is_master(child) else "worker"
    return ChildRef(child.kind or type(child).__name__, name, role)


class LocustTestReconciler:
    def __init__(
        self,
        client: AsyncClient,
        config: OperatorConfig,
        *,
        tests: Cache[Any],
        services: Cache[Service],
        jobs: Cache[Job],
        pods: Cache[Pod],
        recorder: EmitsEvents,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._config = config
        self._tests = tests
        self._services = services
        self._jobs = jobs
        self._pods = pods
        self._recorder = recorder
        self._clock = clock
        self._grace_period = timedelta(seconds=config.pod_health_grace_period_seconds)

    async def reconcile(self, namespace: str, name: str) -> Result:
        test = self._tests.get(namespace, name)
        if test is None:
            return Result()  # gone: its children go with it through garbage collection
        meta = test["metadata"]
        if meta.get("deletionTimestamp"):
            await self._release(test)  # the Deleting event comes with the DELETED event
            return Result()
        # An earlier version's finalizer (migration): nothing holds a test any more.
        legacy_finalizer = FINALIZER in (meta.get("finalizers") or [])
        previous = test.get("status") or {}
        # A finished test's children are not healed; a Failed one may still resume.
        terminal = previous.get("phase") in TERMINAL_PHASES
        observed = self._observe_children(test)
        final = is_final(previous, observed.master_job)
        collision = _collision(meta["name"], observed)
        if observed.foreign and collision is None:
            # The manager's log context names the test on every line.
            log.info(
                "waiting for %s of an earlier test with the same name to go away",
                ", ".join(observed.foreign),
            )
            return Result(requeue_after=FOREIGN_CHILD_RETRY_SECONDS)
        if collision is not None:
            observed = ObservedChildren()  # none of them is this test's

        built_test, trusted = self._built_test(test, observed)
        unreadable: Creation | None
        try:
            if collision is not None:
                raise _Collision(collision)
            missing = [] if terminal else self._missing(built_test, observed)
            if missing and not trusted:
                raise ValueError(UNTRUSTED_SPEC)
        except ValueError as error:
            # Stored before validation covered it (e.g. through a v1 annotation): no retry
            # can read it; the test fails, saying why.
            known = not trusted or isinstance(error, _Collision)
            message = str(error) if known else _unreadable(error)
            missing, unreadable = [], Creation(error=message, refused=True)
        else:
            unreadable = None
        # The finalizer and the children are independent writes: send them together.
        patched, creation = await asyncio.gather(
            self._release(test) if legacy_finalizer else _nothing(),
            self._create(missing, observed, meta["uid"], started=self._had_children(previous))
            if missing
            else _nothing(),
        )
        creation = creation or unreadable or Creation()
        creation_error = creation.error
        if legacy_finalizer:
            if patched is None:
                return Result()  # deleted meanwhile
            test, meta = patched, patched["metadata"]
        await self._emit(test, creation_events(creation.created))
        recreated: list[ChildRef] = []
        if creation.created and creation_error is None and self._had_children(previous):
            recreated = creation.created
            log.warning("recreated deleted %s", ", ".join(c.described for c in recreated))
        elif creation.created and creation_error is None:
            # A new test: its children first; its first status waits behind the children of
            # the other new tests (a burst of creations gets all its children sooner).
            return Result(children_created=True)

        pods = self._observe_pods(test, observed)
        spec = built_test["spec"]
        missing_config_maps: list[str] = []
        now = self._clock()
        if not final and any(not_started(p) for p in pods) and self._past_grace(pods, now):
            missing_config_maps = await self._missing_config_maps(namespace, built_test)

        built_generation = int(built_test["metadata"].get("generation") or 0)
        state = Observed(
            generation=int(meta.get("generation") or 0),
            built_from_generation=built_generation if observed.existing() else None,
            expected_workers=_replicas(spec),
            service=observed.service,
            master_job=observed.master_job,
            worker_job=observed.worker_job,
            pods=pods,
            missing_config_maps=missing_config_maps,
            creation_error=creation_error,
            creation_refused=creation.refused,
            recreated=[f"{c.kind} {c.name}" for c in recreated],
        )
        result = compute_status(previous, state, now, self._grace_period)
        result = with_results(result, previous, spec, now)  # status.results, thresholds
        digest = previous.get(APPLIED_SPEC_DIGEST)
        if digest is None and observed.existing() and trusted:
            digest = spec_digest(spec)
        if digest is not None:
            result.status[APPLIED_SPEC_DIGEST] = digest
        if status_changed(previous, result.status):
            await self._write_status(test, previous, result.status)
            await self._emit(test, transition_events(previous, result.status, recreated))
        if creation_error is not None and not creation.refused:
            raise ChildCreationFailed(creation_error)
        return Result(requeue_after=result.requeue_after)

    # --- observation ---------------------------------------------------------------------

    def _observe_children(self, test: Mapping[str, Any]) -> ObservedChildren:
        meta = test["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        found = ObservedChildren(
            service=self._services.get(namespace, master_service_name(name)),
            master_job=self._jobs.get(namespace, master_job_name(name)),
            worker_job=self._jobs.get(namespace, worker_job_name(name)),
        )
        foreign = []
        for attr in ("service", "master_job", "worker_job"):
            obj = getattr(found, attr)
            if obj is not None and not is_controlled_by(obj, uid):
                foreign.append(f"{obj.kind} {obj.metadata.name if obj.metadata else '?'}")
        found.foreign = tuple(foreign)
        return found

    def _observe_pods(self, test: Mapping[str, Any], observed: ObservedChildren) -> list[Pod]:
        meta = test["metadata"]
        job_uids = {
            job.metadata.uid
            for job in (observed.master_job, observed.worker_job)
            if job is not None and job.metadata is not None
        }
        pods = self._pods.by_label(TEST_NAME_LABEL, meta["name"], meta["namespace"])
        # Only pods of this incarnation's Jobs: a recreated test must not see the old pods.
        return sorted(
            (p for p in pods if controller_uid(p) in job_uids),
            key=lambda p: p.metadata.name if p.metadata and p.metadata.name else "",
        )

    def _built_test(
        self, test: Mapping[str, Any], observed: ObservedChildren
    ) -> tuple[dict[str, Any], bool]:
        """The test to build children from (the spec it started with, known from what only
        the operator writes) and True; else the test as it is, for the status only, and
        False: nothing may be built from it."""
        digest = (test.get("status") or {}).get(APPLIED_SPEC_DIGEST)
        built = trusted_built(
            test, observed.existing(), digest if isinstance(digest, str) else None
        )
        return (built, True) if built is not None else (dict(test), False)

    def _past_grace(self, pods: Sequence[Pod], now: datetime) -> bool:
        """Pod problems are only diagnosed after the grace period: no lookups before."""
        return bool(pods) and now - oldest_creation(pods, now) >= self._grace_period

    @staticmethod
    def _had_children(previous: Mapping[str, Any]) -> bool:
        for condition in previous.get("conditions") or []:
            if condition.get("type") == READY and condition.get("reason") == RESOURCES_CREATED:
                return True
        return previous.get("phase") == RUNNING

    def _missing(
        self, built_test: Mapping[str, Any], observed: ObservedChildren
    ) -> list[Service | Job]:
        if observed.service and observed.master_job and observed.worker_job:
            return []
        wanted: Children = build_children(built_test, self._config)
        return [
            want
            for have, want in (
                (observed.service, wanted.service),
                (observed.master_job, wanted.master_job),
                (observed.worker_job, wanted.worker_job),
            )
            if have is None
        ]

    async def _missing_config_maps(
        self, namespace: str, built_test: Mapping[str, Any]
    ) -> list[str]:
        missing = []
        for name in config_map_names(LocustTestSource.parse(built_test).spec):
            try:
                await self._client.get(ConfigMap, name, namespace=namespace)
            except ApiError as error:
                if error.status.code == 404:
                    missing.append(name)
                else:
                    raise
        return missing

    # --- writes --------------------------------------------------------------------------

    async def _create(
        self,
        missing: Sequence[Service | Job],
        observed: ObservedChildren,
        uid: str,
        *,
        started: bool,
    ) -> Creation:
        """Creates the missing children, all at once (one round trip, as a bare client
        would). Reports an error message instead of raising, so that the status can say it.

        All or none: when the apiserver refuses one of them, the Jobs that exist for a test
        that has not started yet are deleted again before anything else happens, so that
        a master never runs without its workers or the reverse. (A refusal here is rare:
        with the webhook on, admission already dry-ran these children.) The Service runs
        nothing and stays; a retry reuses it."""
        results = await asyncio.gather(*(self._apply(obj, uid) for obj in missing))
        creation = Creation()
        refusals: list[str] = []
        errors: list[str] = []
        made: list[tuple[Service | Job, Service | Job]] = []  # (wanted, what the server has)
        for wanted, (outcome, child, error) in zip(missing, results, strict=True):
            if child is not None:
                made.append((wanted, child))
                (creation.created if outcome == "created" else creation.adopted).append(
                    _child_ref(wanted)
                )
            elif error is not None and is_permanent(error):
                refusals.append(refusal(wanted, error).summary())
            else:
                errors.append(outcome)
        if refusals or errors:
            namespace = missing[0].metadata.namespace if missing[0].metadata else None
            rolled_back = await self._roll_back(
                [child for _, child in made], observed, namespace or "", started=started
            )
            if rolled_back is not None:  # could not delete them all: retried
                return Creation(error="; ".join([*refusals, *errors, rolled_back]))
            made = [(wanted, child) for wanted, child in made if not isinstance(child, Job)]
            kept = {_child_ref(wanted) for wanted, _ in made}
            creation.created = [c for c in creation.created if c in kept]
            creation.adopted = [c for c in creation.adopted if c in kept]
            if refusals:
                creation.error, creation.refused = "; ".join(refusals), True
            else:  # e.g. a quota: retried with backoff, still all or none
                creation.error = "; ".join(errors)
        for wanted, child in made:
            if isinstance(wanted, Service):
                observed.service = child  # type: ignore[assignment]
            elif _is_master(wanted):
                observed.master_job = child  # type: ignore[assignment]
            else:
                observed.worker_job = child  # type: ignore[assignment]
        return creation

    async def _roll_back(
        self,
        made: Sequence[Service | Job],
        observed: ObservedChildren,
        namespace: str,
        *,
        started: bool,
    ) -> str | None:
        """Deletes the Jobs just made, and those found of a test not started yet (an earlier
        roll-back that did not finish). None when done, else why not (to be retried)."""
        jobs = [child for child in made if isinstance(child, Job)]
        if not started:
            jobs += [job for job in (observed.master_job, observed.worker_job) if job is not None]
        names = sorted({job.metadata.name for job in jobs if job.metadata and job.metadata.name})
        if not names:
            return None
        outcomes = await asyncio.gather(*(self._delete_job(name, namespace) for name in names))
        failed = [outcome for outcome in outcomes if outcome is not None]
        if not failed:
            for attr in ("master_job", "worker_job"):
                job = getattr(observed, attr)
                if job is not None and job.metadata and job.metadata.name in names:
                    setattr(observed, attr, None)
            log.info("deleted %s again: its other children could not be created", ", ".join(names))
            return None
        return "; ".join(failed)

    async def _delete_job(self, name: str, namespace: str) -> str | None:
        try:
            # Background: the pods go with it through garbage collection.
            await self._client.delete(
                Job, name, namespace=namespace, cascade=CascadeType.BACKGROUND
            )
        except ApiError as error:
            if error.status.code != 404:
                return f"deleting Job {name} again failed: {error.status.message}"
        return None

    async def _apply(
        self, obj: Service | Job, uid: str
    ) -> tuple[str, Service | Job | None, ApiError | None]:
        """Creates one child: ("created", it, None), ("adopted", the existing one, None),
        or (why, None, the apiserver's error if it refused).

        Create, not apply: a child is written once (tests are immutable), and an object of
        the same name that this test does not control must never be taken over or changed
        (a user's Service, or a leftover of an earlier test). One this test controls is
        adopted as it is: the cache was behind, or the reference operator created it before
        a switch-over (its Service carries no label our informers select on, so it is found
        here, by its owner reference, on every round)."""
        assert obj.metadata is not None and obj.metadata.name
        name, kind = obj.metadata.name, obj.kind
        try:
            created: Service | Job = await self._client.create(obj)
        except ApiError as error:
            if error.status.code != 409:
                return f"creating {kind} {name} failed: {error.status.message}", None, error
            existing = await self._client.get(type(obj), name, namespace=obj.metadata.namespace)
            if is_controlled_by(existing, uid):
                return "adopted", existing, None
            return (
                (
                    f"{kind} {name} already exists and does not belong to this LocustTest; "
                    "delete or rename it, or rename the test"
                ),
                None,
                None,
            )
        return "created", created, None

    async def _emit(self, test: Mapping[str, Any], intents: Sequence[EventIntent]) -> None:
        for intent in intents:
            await self._recorder.emit(_involved(test), intent.type, intent.reason, intent.message)

    async def _release(self, test: Mapping[str, Any]) -> dict[str, Any] | None:
        """Removes the ``locust.io/cleanup`` finalizer earlier versions added: a finalizer
        would block the deletion of the test, its namespace and the CRD whenever no
        operator runs. The patched test, or None when it is gone."""
        meta = test["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return dict(test)
        remaining = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        return await self._patch_metadata(test, {"finalizers": remaining})

    async def deleted(self, test: Mapping[str, Any]) -> None:
        """The test is gone (its DELETED event): the Deleting event users see. Its children
        go through garbage collection; no finalizer waits for this."""
        await self._recorder.emit(_involved(test), "Normal", DELETING, DELETING_MESSAGE)
        log.info("deleted; its children go with it")

    async def _patch_metadata(
        self, test: Mapping[str, Any], changes: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The patched object, or None when it is gone."""
        meta = test["metadata"]
        # resourceVersion makes the patch conditional: a stale view gets 409, not a lost update.
        body = {"metadata": {**changes, "resourceVersion": meta["resourceVersion"]}}
        try:
            patched = await self._client.patch(
                LocustTestResource,
                meta["name"],
                body,
                namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )
            return dict(patched)  # a generic resource is a dict of the JSON
        except ApiError as error:
            if error.status.code == 404:
                return None
            if error.status.code == 409:
                raise Conflict(error.status.message) from error
            raise

    async def _write_status(
        self, test: Mapping[str, Any], previous: Mapping[str, Any], status: dict[str, Any]
    ) -> None:
        meta = test["metadata"]
        # A merge patch keeps keys it does not mention: null the ones that went away.
        patch: dict[str, Any] = {key: None for key in previous if key not in status}
        patch.update(status)
        body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": patch}
        try:
            await self._client.patch(
                LocustTestResource.Status,
                meta["name"],
                body,
                namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )
        except ApiError as error:
            if error.status.code == 404:
                return
            if error.status.code == 409:
                raise Conflict(error.status.message) from error
            raise
