"""Two `locust-operator run --leader-elect` replicas on the real apiserver: exactly one
reconciles; a standby takes over after the leader is killed (Lease expiry) or stopped
(released Lease), without duplicating children or losing status; a leader whose Lease
is taken from it stops and exits 1.

Default Lease timing (15 s / 10 s / 2 s) throughout: nothing here needs shorter flags.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Service
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import (
    create_scripts,
    create_test,
    jobs_of,
    locusttest,
    pods_of,
    wait_for_phase,
)
from tests.helpers import eventually, http_get, new_namespace, pod_outcome
from tests.locusttests import LocustTestV2
from tests.operator_process import OperatorProcess, free_port

pytestmark = pytest.mark.cluster

LEASE_NAME = "locust-k8s-operator.locust.io"
LEASE_DURATION, RETRY_PERIOD, RENEW_DEADLINE = 15.0, 2.0, 10.0
# Takeover after a crash: the Lease must stay unrenewed for a lease duration, then the
# standby needs up to one retry period (with jitter) to try; plus process scheduling.
CRASH_TAKEOVER_BOUND = LEASE_DURATION + RETRY_PERIOD * 1.2 + 5.0
# Takeover after SIGTERM: the released Lease is taken within 2 s; the margin is for process
# scheduling only.
RELEASE_TAKEOVER_BOUND = 2.0 + 0.5


@dataclass
class Replica:
    process: OperatorProcess
    probe_port: int
    metrics_port: int

    @property
    def identity(self) -> str:
        found = re.search(r"identity (\S+)", self.process.log_path.read_text(errors="replace"))
        assert found, self.process.log_tail()
        return found.group(1)

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def exited(self) -> bool:
        assert self.process.process is not None
        return self.process.process.poll() is not None

    async def metric(self, name: str, **labels: str) -> float:
        status, text = await asyncio.to_thread(http_get, self.metrics_port, "/metrics")
        assert status == 200, self.process.log_tail()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    async def ready(self) -> bool:
        return (await asyncio.to_thread(http_get, self.probe_port, "/readyz"))[0] == 200


Start = Callable[[str], Replica]


@pytest.fixture
async def namespace(kube: AsyncClient, crd: str) -> AsyncIterator[str]:
    async with new_namespace(kube, "leader") as name:
        await create_scripts(kube, name)
        yield name


@pytest.fixture
def start_replica(kubeconfig: Path, namespace: str, tmp_path: Path) -> Iterator[Start]:
    started: list[Replica] = []

    def start(label: str) -> Replica:
        probe_port, metrics_port = free_port(), free_port()
        process = OperatorProcess(
            kubeconfig=kubeconfig,
            log_path=tmp_path / f"operator-{label}.log",
            args=[
                f"--namespace={namespace}",
                "--leader-elect",
                f"--leader-election-namespace={namespace}",
                f"--health-probe-bind-address=127.0.0.1:{probe_port}",
                f"--metrics-bind-address=127.0.0.1:{metrics_port}",
            ],
        )
        process.start()
        replica = Replica(process, probe_port, metrics_port)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.process.stop(signal.SIGKILL)


async def lease_holder(kube: AsyncClient, namespace: str) -> str:
    try:
        lease = await kube.get(Lease, LEASE_NAME, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return ""
        raise
    return (lease.spec.holderIdentity if lease.spec else None) or ""


async def leader_and_standby(
    kube: AsyncClient, namespace: str, start: Start
) -> tuple[Replica, Replica]:
    leader = start("a")
    leader.process.wait_for_log("controller started")
    standby = start("b")
    standby.process.wait_for_log("waiting to lead")
    await eventually(standby.ready, what="the standby is ready (caches synced)")
    assert await lease_holder(kube, namespace) == leader.identity
    return leader, standby


async def wait_for_holder(
    kube: AsyncClient, namespace: str, previous: str, within: float
) -> tuple[str, float]:
    """(new holder, seconds since the call) once the Lease has another, non-empty holder."""
    started = time.monotonic()
    while True:
        holder = await lease_holder(kube, namespace)
        elapsed = time.monotonic() - started
        if holder and holder != previous:
            return holder, elapsed
        assert elapsed < within, f"the Lease is still held by {holder!r} after {elapsed:.1f}s"
        await asyncio.sleep(0.05)


async def children(kube: AsyncClient, namespace: str, name: str) -> dict[str, str]:
    """Kind/name -> uid of the test's Service and Jobs."""
    found = {
        f"Job/{j.metadata.name}": j.metadata.uid
        for j in await jobs_of(kube, namespace, name)
        if j.metadata
    }
    services = kube.list(Service, namespace=namespace, labels={"performance-test-name": name})
    found |= {f"Service/{s.metadata.name}": s.metadata.uid async for s in services if s.metadata}
    return {kind: str(uid) for kind, uid in found.items()}


async def run_until_running(kube: AsyncClient, namespace: str, name: str) -> dict[str, str]:
    await create_test(kube, namespace, locusttest(name))
    await wait_for_phase(kube, namespace, name, "Running")
    made = await children(kube, namespace, name)
    assert sorted(made) == [f"Job/{name}-master", f"Job/{name}-worker", f"Service/{name}-master"]
    return made


async def finish(kube: AsyncClient, namespace: str, name: str) -> None:
    """The master pod succeeds; the current leader must record the test's Succeeded."""
    (master,) = await pods_of(kube, namespace, name, "master")
    await pod_outcome(kube, master, "Succeeded")
    await wait_for_phase(kube, namespace, name, "Succeeded")


async def delete(kube: AsyncClient, namespace: str, name: str) -> None:
    """Deletes the test; the current leader must remove its finalizer."""
    await kube.delete(LocustTestV2, name, namespace=namespace)

    async def gone() -> bool:
        names = [t["metadata"]["name"] async for t in kube.list(LocustTestV2, namespace=namespace)]
        return name not in names

    await eventually(gone, what=f"{name} deleted (finalizer removed)")


async def test_one_replica_reconciles_and_a_standby_takes_over_after_a_crash(
    kube: AsyncClient, namespace: str, start_replica: Start
) -> None:
    leader, standby = await leader_and_standby(kube, namespace, start_replica)
    made = {name: await run_until_running(kube, namespace, name) for name in ("one", "two")}

    assert await leader.metric("locust_operator_reconcile_total") > 0
    assert await standby.metric("locust_operator_reconcile_total") == 0
    assert await leader.metric("locust_operator_leader") == 1
    assert await standby.metric("locust_operator_leader") == 0
    assert "controller started" not in standby.log()

    old_holder = leader.identity
    killed_at = time.monotonic()
    leader.process.stop(signal.SIGKILL)
    holder, _ = await wait_for_holder(kube, namespace, old_holder, CRASH_TAKEOVER_BOUND + 5)
    takeover = time.monotonic() - killed_at
    print(f"\ntakeover after SIGKILL of the leader: {takeover:.2f}s")
    assert holder == standby.identity
    assert takeover < CRASH_TAKEOVER_BOUND
    standby.process.wait_for_log("controller started")
    lease = await kube.get(Lease, LEASE_NAME, namespace=namespace)
    assert lease.spec and lease.spec.leaseTransitions == 1

    # The new leader carries on: status continues on the same children; new tests run.
    for name, uids in made.items():
        await finish(kube, namespace, name)
        assert await children(kube, namespace, name) == uids
    await run_until_running(kube, namespace, "three")
    assert await standby.metric("locust_operator_reconcile_total") > 0
    for name in ("one", "two", "three"):
        await delete(kube, namespace, name)


async def test_a_stopped_leader_hands_over_within_two_seconds(
    kube: AsyncClient, namespace: str, start_replica: Start
) -> None:
    leader, standby = await leader_and_standby(kube, namespace, start_replica)
    before = await run_until_running(kube, namespace, "handover")

    old_holder = leader.identity
    stopped_at = time.monotonic()
    assert leader.process.process is not None
    leader.process.process.send_signal(signal.SIGTERM)
    holder, _ = await wait_for_holder(kube, namespace, old_holder, RELEASE_TAKEOVER_BOUND + 10)
    takeover = time.monotonic() - stopped_at
    print(f"\ntakeover after SIGTERM of the leader: {takeover:.2f}s")
    assert holder == standby.identity
    assert takeover < RELEASE_TAKEOVER_BOUND
    assert leader.process.process.wait(30) == 0, leader.process.log_tail()
    assert "released leadership" in leader.log()

    standby.process.wait_for_log("controller started")
    await finish(kube, namespace, "handover")
    assert await children(kube, namespace, "handover") == before  # not duplicated, not redone
    await delete(kube, namespace, "handover")

    # A stopped standby exits cleanly and leaves the Lease alone.
    another = start_replica("c")
    another.process.wait_for_log("waiting to lead")
    assert another.process.stop(signal.SIGTERM) == 0, another.process.log_tail()
    assert "released leadership" not in another.log()
    assert await lease_holder(kube, namespace) == standby.identity


async def test_a_leader_that_cannot_renew_stops_reconciling_and_exits(
    kube: AsyncClient, namespace: str, start_replica: Start
) -> None:
    leader = start_replica("a")
    leader.process.wait_for_log("controller started")

    # Another holder appears (as after a partition during which the Lease expired).
    while True:
        lease = await kube.get(Lease, LEASE_NAME, namespace=namespace)
        assert lease.spec is not None
        lease.spec.holderIdentity = "intruder"
        lease.spec.renewTime = datetime.now(UTC)
        try:
            await kube.replace(lease)
            break
        except ApiError as error:  # the leader renewed in between
            if error.status.code != 409:
                raise
    stolen_at = time.monotonic()

    async def exited() -> bool:
        return leader.exited()

    await eventually(exited, within=RENEW_DEADLINE + 3 * RETRY_PERIOD + 10, what="leader exits")
    print(f"\nexit after the Lease was taken: {time.monotonic() - stolen_at:.2f}s")
    assert leader.process.stop() == 1
    assert "lost leadership" in leader.log()
    assert await lease_holder(kube, namespace) == "intruder"
