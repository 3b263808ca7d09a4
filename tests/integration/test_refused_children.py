"""A child the apiserver refuses as invalid fails the test whole (issue 12, finding 1), on
a control plane of its own with no webhook (so only the schema judged the spec): no Job is
left (the master created in the same round trip is deleted again before the test is judged,
so never a master without workers), the test ends Failed with the apiserver's message
naming the LocustTest field, one warning event, and no retries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Event, Pod

from localcluster import LocalCluster
from tests.integration.test_recovery import NAMESPACE, body, install, until
from tests.locusttests import LocustTestV2
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.cluster


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path / "cluster", nodes=1)
    local.start()
    try:
        yield local
    finally:
        local.stop()


def status(kube: Client, name: str) -> dict[str, object]:
    return dict(kube.get(LocustTestV2, name, namespace=NAMESPACE).get("status") or {})


def test_limits_below_requests_fail_the_test_once_with_no_job_left(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    kube = install(own_cluster)
    operator = OperatorProcess(kubeconfig=own_cluster.kubeconfig, log_path=tmp_path / "op.log")
    operator.start()
    try:
        operator.wait_for_log("controller started")
        bad = body("refused")
        bad["spec"]["worker"]["resources"] = {  # type: ignore[index]
            "requests": {"cpu": "2"},
            "limits": {"cpu": "1"},
        }
        kube.create(LocustTestV2(bad), namespace=NAMESPACE)
        until(lambda: status(kube, "refused").get("phase") == "Failed", "the test Failed")
        ready = {c["type"]: c for c in status(kube, "refused")["conditions"]}["Ready"]  # type: ignore[index,union-attr]
        print("\n" + str(ready["message"]))
        assert ready["reason"] == "ResourcesFailed"
        assert "spec.worker.resources" in ready["message"]
        assert "must be less than or equal to cpu limit" in ready["message"]
        assert [j for j in kube.list(Job, namespace=NAMESPACE)] == []

        time.sleep(5)  # several retry periods of the old loop; assert nothing more happens
        events = [
            e
            for e in kube.list(
                Event, namespace=NAMESPACE, fields={"involvedObject.name": "refused"}
            )
            if e.type == "Warning"
        ]
        assert len(events) == 1 and (events[0].count or 1) == 1, events
        assert [j for j in kube.list(Job, namespace=NAMESPACE)] == []
        # A master pod the short-lived Job may have made goes with it (garbage collection).
        until(lambda: not list(kube.list(Pod, namespace=NAMESPACE)), "no pod left")
        assert "Traceback" not in operator.log_path.read_text()
    finally:
        assert operator.stop() == 0, operator.log_tail()
