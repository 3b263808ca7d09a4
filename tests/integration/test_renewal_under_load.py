"""The leader keeps renewing its Lease on time while its webhook converts large reviews
(issue 12, finding 7): four 7+ MB ConversionReviews at once (a `kubectl get` of thousands
of v1 objects) are converted off the event loop; the leader stays leader and no renewal
gap reaches the renew deadline. The largest gap is printed."""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.resources.coordination_v1 import Lease

from tests.helpers import new_namespace
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.cluster

LEASE_NAME = "locust-k8s-operator.locust.io"
RENEW_DEADLINE_SECONDS = 10.0


def v1_object(i: int) -> dict[str, object]:
    return {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": f"t-{i}", "namespace": "load", "uid": f"uid-{i}"},
        "spec": {
            "masterCommandSeed": "--locustfile /lotest/src/t.py --host https://example.com "
            + "--tag x " * 40,
            "workerCommandSeed": "--locustfile /lotest/src/t.py",
            "workerReplicas": 3,
            "image": "locustio/locust:2.43.1",
            "labels": {"master": {"a": "b"}, "worker": {"c": "d"}},
        },
    }


def review(count: int) -> bytes:
    return json.dumps(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "ConversionReview",
            "request": {
                "uid": "load",
                "desiredAPIVersion": "locust.io/v2",
                "objects": [v1_object(i) for i in range(count)],
            },
        }
    ).encode()


def convert(url: str, body: bytes) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(
        url + "/convert", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, context=context, timeout=120) as response:
        return int(response.status)


async def test_the_leader_renews_on_time_while_converting_large_reviews(
    kube: AsyncClient, kubeconfig: Path, crd: str, tmp_path: Path
) -> None:
    async with new_namespace(kube, "renew") as namespace:
        operator = OperatorProcess(
            kubeconfig=kubeconfig,
            log_path=tmp_path / "op.log",
            webhooks=True,
            args=["--leader-elect", f"--leader-election-namespace={namespace}"],
        )
        operator.start()
        try:
            operator.wait_until_ready()
            body = review(11000)
            assert len(body) > 7_000_000
            renewals: list[datetime] = []

            async def watch_lease(stop: asyncio.Event) -> None:
                while not stop.is_set():
                    lease = await kube.get(Lease, LEASE_NAME, namespace=namespace)
                    renewed = lease.spec.renewTime if lease.spec else None
                    if renewed is not None and (not renewals or renewals[-1] != renewed):
                        renewals.append(renewed)
                    await asyncio.sleep(0.2)

            stop = asyncio.Event()
            watcher = asyncio.create_task(watch_lease(stop))
            started = time.monotonic()
            codes = await asyncio.gather(
                *(asyncio.to_thread(convert, operator.webhook_url, body) for _ in range(4))
            )
            took = time.monotonic() - started
            await asyncio.sleep(3)  # a renewal after the load too
            stop.set()
            await watcher
            assert codes == [200] * 4
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(renewals)]
            print(
                f"\nfour {len(body) / 1e6:.1f} MB conversions in {took:.1f}s; "
                f"{len(renewals)} renewals, largest gap {max(gaps, default=0):.1f}s"
            )
            assert len(renewals) >= 2
            assert max(gaps) < RENEW_DEADLINE_SECONDS
            assert operator.process is not None and operator.process.poll() is None
            assert "lost leadership" not in operator.log_path.read_text().lower()
        finally:
            assert operator.stop() == 0, operator.log_tail()
