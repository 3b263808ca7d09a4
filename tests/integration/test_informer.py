"""Informers against the real apiserver: list then watch, label selection, generic
resources, a genuine 410 Gone and broken watch connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import msgspec
import pytest
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Pod, ServiceAccount
from lightkube.types import PatchType

from locust_operator.kube.informer import Informer
from locust_operator.kube.listwatch import ListWatch, ResourceExpired
from tests.helpers import eventually, new_namespace
from tests.locusttests import LocustTestV2, minimal_v2

pytestmark = pytest.mark.cluster

TEST_LABEL = "performance-test-name"
INFORMER_LOGGER = "locust_operator.kube.informer"
REACHABILITY_LOGGER = "locust_operator.kube.reachability"


@pytest.fixture
async def namespace(kube: AsyncClient) -> AsyncIterator[str]:
    async with new_namespace(kube, "informer") as name:

        async def default_service_account() -> bool:  # pods need it to be admitted
            try:
                await kube.get(ServiceAccount, "default", namespace=name)
            except ApiError:
                return False
            return True

        await eventually(default_service_account, what="the default ServiceAccount")
        yield name


class Recorder:
    """A handler that remembers (event, name) pairs."""

    def __init__(self, informer: Informer[Any]) -> None:
        self.seen: list[tuple[str, str]] = []
        informer.add_handler(self)

    def __call__(self, event: str, obj: Any) -> None:
        meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata.to_dict()
        self.seen.append((event, meta["name"]))

    def names(self) -> set[str]:
        return {name for _, name in self.seen}

    async def wait_for(self, *expected: tuple[str, str]) -> None:
        async def arrived() -> bool:
            return all(e in self.seen for e in expected)

        await eventually(arrived, what=f"events {expected}; seen {self.seen}")


@contextlib.asynccontextmanager
async def running(informer: Informer[Any]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(informer.run())
    try:

        async def synced() -> bool:
            assert not task.done(), task
            return informer.has_synced

        await eventually(synced, what=f"{informer.name} synced")
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def new_pod(name: str, **labels: str) -> Pod:
    return Pod(
        metadata=ObjectMeta(name=name, labels=labels),
        spec=PodSpec(containers=[Container(name="main", image="busybox:1.36")]),
    )


def log_count(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records if r.name == INFORMER_LOGGER)


async def test_pods_selected_by_label_are_listed_then_watched(
    kube: AsyncClient, namespace: str
) -> None:
    mine = {TEST_LABEL: "mine"}
    await kube.create(new_pod("before", **mine), namespace=namespace)
    await kube.create(new_pod("theirs", **{TEST_LABEL: "theirs"}), namespace=namespace)
    await kube.create(new_pod("unlabelled"), namespace=namespace)
    informer: Informer[Pod] = Informer(
        kube, Pod, namespace=namespace, labels=mine, index_labels=[TEST_LABEL]
    )
    events = Recorder(informer)
    async with running(informer):
        assert events.seen[0] == ("ADDED", "before")
        listed = informer.store.get(namespace, "before")
        assert listed is not None and listed.metadata is not None
        assert listed.metadata.managedFields is None  # the apiserver did send some

        await kube.create(new_pod("after", **mine), namespace=namespace)
        await kube.create(new_pod("theirs-too", **{TEST_LABEL: "theirs"}), namespace=namespace)
        await events.wait_for(("ADDED", "after"))
        found = informer.store.by_label(TEST_LABEL, "mine", namespace)
        assert {p.metadata.name for p in found if p.metadata} == {"before", "after"}

        patch = {"metadata": {"annotations": {"informer-test": "changed"}}}
        await kube.patch(Pod, "after", patch, namespace=namespace)

        async def annotated() -> bool:
            cached = informer.store.get(namespace, "after")
            meta = cached.metadata if cached else None
            return bool(meta and (meta.annotations or {}).get("informer-test") == "changed")

        await eventually(annotated, what="the annotation reaches the store")
        assert ("MODIFIED", "after") in events.seen

        await kube.delete(Pod, "before", namespace=namespace, grace_period=0)
        await events.wait_for(("DELETED", "before"))
        assert informer.store.get(namespace, "before") is None
        assert informer.store.by_label(TEST_LABEL, "mine", namespace)[0].metadata.name == "after"  # type: ignore[union-attr]
    # One watch stream, in resourceVersion order: "theirs-too" would have come before.
    assert events.names() == {"before", "after"}


async def test_an_all_namespaces_informer_of_locusttests(
    kube: AsyncClient, crd: str, namespace: str
) -> None:
    labels = {"informer-test": uuid.uuid4().hex[:8]}  # only this test's objects
    informer: Informer[Any] = Informer(kube, LocustTestV2, labels=labels)
    events = Recorder(informer)
    async with running(informer):
        manifest = minimal_v2("load")
        manifest["metadata"]["labels"] = labels
        await kube.create(LocustTestV2.from_dict(manifest), namespace=namespace)
        unlabelled = minimal_v2("other")
        await kube.create(LocustTestV2.from_dict(unlabelled), namespace=namespace)
        await events.wait_for(("ADDED", "load"))
        cached = informer.store.get(namespace, "load")
        assert isinstance(cached, LocustTestV2)
        assert cached["spec"]["worker"]["replicas"] == 2
        assert "managedFields" not in cached["metadata"]

        patch = {"spec": {"worker": {"replicas": 3}}}
        await kube.patch(
            LocustTestV2, "load", patch, namespace=namespace, patch_type=PatchType.MERGE
        )

        async def scaled() -> bool:
            got = informer.store.get(namespace, "load")
            return got is not None and got["spec"]["worker"]["replicas"] == 3

        await eventually(scaled, what="the new replicas reach the store")
        await kube.delete(LocustTestV2, "load", namespace=namespace)
        await events.wait_for(("MODIFIED", "load"), ("DELETED", "load"))
    assert informer.store.list() == []
    assert events.names() == {"load"}


# -- 410 Gone ---------------------------------------------------------------------------------

GADGETS = "gadgets.informer.test.locust.io"
Gadget = create_namespaced_resource("informer.test.locust.io", "v1", "Gadget", "gadgets")


def _gadget_crd(printer_columns: list[dict[str, str]]) -> CustomResourceDefinition:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        },
        "additionalPrinterColumns": printer_columns,
    }
    return CustomResourceDefinition.from_dict(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": GADGETS},
            "spec": {
                "group": "informer.test.locust.io",
                "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
                "scope": "Namespaced",
                "versions": [version],
            },
        }
    )


@pytest.fixture
async def gadgets(kube: AsyncClient) -> AsyncIterator[None]:
    """A CRD of the test's own, so that changing it disturbs nobody."""
    await kube.apply(_gadget_crd([]), field_manager="tests", force=True)

    async def served() -> bool:
        try:
            [_ async for _ in kube.list(Gadget, namespace="default")]
        except httpx2.HTTPStatusError:  # 404 until the group is served
            return False
        return True

    await eventually(served, what="gadgets are served")
    try:
        yield
    finally:
        await kube.delete(CustomResourceDefinition, GADGETS)


async def _reset_watch_history(kube: AsyncClient, namespace: str, stale_version: str) -> None:
    """Makes ``stale_version`` too old for the apiserver, for real: a changed CRD spec
    gets fresh storage, whose watch cache starts at the current resourceVersion."""
    columns = [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]
    await kube.apply(_gadget_crd(columns), field_manager="tests", force=True)
    probe = ListWatch(kube, Gadget, namespace)

    async def gone() -> bool:
        try:
            async with contextlib.aclosing(probe.watch(stale_version, timeout_seconds=1)) as events:
                async for _ in events:
                    return False  # still the old history
        except ResourceExpired:
            return True
        except httpx2.HTTPStatusError:  # 429 while the new cache initialises
            return False
        return False

    await eventually(gone, what=f"resourceVersion {stale_version} is too old")


async def test_410_relists_and_reports_what_changed_while_not_watching(
    kube: AsyncClient, gadgets: None, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=INFORMER_LOGGER)
    for name in ("kept", "deleted"):
        await kube.create(Gadget.from_dict({"metadata": {"name": name}}), namespace=namespace)
    informer: Informer[Any] = Informer(kube, Gadget, namespace=namespace)
    events = Recorder(informer)
    async with running(informer):
        assert events.names() == {"kept", "deleted"}
    stale = informer.resource_version
    assert stale is not None

    # Not watching: one object goes, one comes, and the history is lost.
    await kube.delete(Gadget, "deleted", namespace=namespace)
    await kube.create(Gadget.from_dict({"metadata": {"name": "created"}}), namespace=namespace)
    await _reset_watch_history(kube, namespace, stale)

    async with running(informer):  # resumes from the stale resourceVersion: 410, re-list
        await events.wait_for(("DELETED", "deleted"), ("ADDED", "created"))
    assert sorted(informer.store.keys()) == [(namespace, "created"), (namespace, "kept")]
    assert informer.resource_version != stale
    assert log_count(caplog, "too old") >= 1
    assert log_count(caplog, ": listing") == 2
    deleted = [e for e in events.seen if e == ("DELETED", "deleted")]
    assert len(deleted) == 1


# -- broken streams ----------------------------------------------------------------------------


async def test_short_server_timeouts_reconnect_without_losing_events(
    kube: AsyncClient, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=INFORMER_LOGGER)
    mine = {TEST_LABEL: "churn"}
    informer: Informer[Pod] = Informer(
        kube, Pod, namespace=namespace, labels=mine, watch_timeout_seconds=1
    )
    events = Recorder(informer)
    async with running(informer):
        for i in range(5):
            watches = log_count(caplog, "watching from")
            await kube.create(new_pod(f"p{i}", **mine), namespace=namespace)
            if i >= 1:
                patch = {"metadata": {"annotations": {"step": str(i)}}}
                await kube.patch(Pod, f"p{i - 1}", patch, namespace=namespace)
            if i >= 2:
                await kube.delete(Pod, f"p{i - 2}", namespace=namespace, grace_period=0)

            async def reconnected(before: int = watches) -> bool:
                return log_count(caplog, "watching from") > before

            await eventually(reconnected, what="the informer watches again")
        expected = [("ADDED", f"p{i}") for i in range(5)]
        expected += [("MODIFIED", f"p{i}") for i in range(4)]
        expected += [("DELETED", f"p{i}") for i in range(3)]
        await events.wait_for(*expected)
        assert sorted(informer.store.keys()) == [(namespace, "p3"), (namespace, "p4")]
    assert log_count(caplog, ": listing") == 1  # every reconnection resumed the watch


class SeveringProxy:
    """A TCP proxy to the apiserver that can cut every open connection at once."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 443
        self._open: set[asyncio.StreamWriter] = set()
        self.connections = 0
        self.url = ""

    async def __aenter__(self) -> SeveringProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        self.sever()
        await self._server.wait_closed()

    def sever(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        self._open |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        finally:
            self._open.discard(sink)
            sink.transport.abort()


def client_via(kubeconfig: Path, server: str) -> AsyncClient:
    config = KubeConfig.from_file(str(kubeconfig)).get()
    config = config._replace(cluster=msgspec.structs.replace(config.cluster, server=server))
    return AsyncClient(config=config)


async def test_a_broken_connection_resumes_the_watch_without_losing_events(
    kube: AsyncClient, kubeconfig: Path, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    # (set_level also sets the capturing handler's level: the lowest goes last)
    caplog.set_level(logging.INFO, logger=REACHABILITY_LOGGER)
    caplog.set_level(logging.DEBUG, logger=INFORMER_LOGGER)
    mine = {TEST_LABEL: "severed"}
    await kube.create(new_pod("old", **mine), namespace=namespace)
    async with SeveringProxy(str(kube.config.cluster.server)) as proxy:
        client = client_via(kubeconfig, proxy.url)
        try:
            informer: Informer[Pod] = Informer(client, Pod, namespace=namespace, labels=mine)
            events = Recorder(informer)
            async with running(informer):
                connections = proxy.connections
                proxy.sever()
                await kube.create(new_pod("new", **mine), namespace=namespace)
                await kube.delete(Pod, "old", namespace=namespace, grace_period=0)
                await events.wait_for(("ADDED", "new"), ("DELETED", "old"))
                assert proxy.connections > connections
                assert sorted(informer.store.keys()) == [(namespace, "new")]
        finally:
            await client.close()
    # The cut is a lost connection, reported once by the client's reachability tracker (not
    # as the informer's own failure), and once more when the next watch is answered.
    reachability = [r for r in caplog.records if r.name == REACHABILITY_LOGGER]
    assert [r.levelno for r in reachability] == [logging.WARNING, logging.INFO], reachability
    assert "unreachable" in reachability[0].getMessage()
    assert "answers again" in reachability[1].getMessage()
    assert log_count(caplog, "list/watch failed") == 0
    assert log_count(caplog, ": listing") == 1  # resumed from its resourceVersion
