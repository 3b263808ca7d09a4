"""An operator that stops, is killed, or loses its cluster leaves users able to work.

Each test runs its own control plane (no real node): these tests change the CRD's
conversion and the validating webhook cluster-wide, and one stops the control plane.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster import LocalCluster
from locust_operator.webhook import serving
from locust_operator.webhook.registration import CRD_NAME, VALIDATING_CONFIGURATION_NAME
from tests.conftest import CRD_FILE
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.cluster

V2_TEST = """
apiVersion: locust.io/v2
kind: LocustTest
metadata: {name: NAME, namespace: default}
spec:
  image: locustio/locust:2.43.1
  master: {command: "--locustfile /lotest/src/t.py --host https://example.com"}
  worker: {command: "--locustfile /lotest/src/t.py", replicas: 1}
"""
V1_TEST = """
apiVersion: locust.io/v1
kind: LocustTest
metadata: {name: NAME, namespace: default}
spec:
  image: locustio/locust:2.43.1
  masterCommandSeed: "--locustfile /lotest/src/t.py --host https://example.com"
  workerCommandSeed: "--locustfile /lotest/src/t.py"
  workerReplicas: 1
"""
WEBHOOK_FAILURE = 'failed calling webhook "validate.locusttest.locust.io"'


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path / "cluster", nodes=1)
    local.start()
    try:
        kubectl(local, "apply", "--server-side", "-f", str(CRD_FILE))
        until(lambda: established(local), "the CRD is Established")
        yield local
    finally:
        local.stop()


def kubectl(
    cluster: LocalCluster, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    assert cluster.bin_dir is not None
    return subprocess.run(
        [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=check,
    )


def established(cluster: LocalCluster) -> bool:
    condition = '{.status.conditions[?(@.type=="Established")].status}'
    got = kubectl(cluster, "get", "crd", CRD_NAME, "-o", f"jsonpath={condition}", check=False)
    return got.stdout == "True"


def apply(cluster: LocalCluster, manifest: str, name: str) -> subprocess.CompletedProcess[str]:
    return kubectl(cluster, "apply", "-f", "-", stdin=manifest.replace("NAME", name), check=False)


def conversion(cluster: LocalCluster) -> dict[str, object]:
    crd = json.loads(kubectl(cluster, "get", "crd", CRD_NAME, "-o", "json").stdout)
    return dict(crd["spec"]["conversion"])


def validating_configuration_exists(cluster: LocalCluster) -> bool:
    got = kubectl(
        cluster,
        "get",
        "validatingwebhookconfiguration",
        VALIDATING_CONFIGURATION_NAME,
        check=False,
    )
    return got.returncode == 0


def operator(cluster: LocalCluster, log: Path) -> OperatorProcess:
    process = OperatorProcess(kubeconfig=cluster.kubeconfig, log_path=log, webhooks=True)
    process.start()
    process.wait_until_ready()
    return process


def until(condition: object, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.2)


def assert_users_can_work(cluster: LocalCluster, name: str) -> None:
    """v2 LocustTests can be applied and read; v1 requests fail naming the webhook Service
    the CRD is installed with (they need a running operator), and nothing converted while
    an operator ran lost a field."""
    applied = apply(cluster, V2_TEST, name)
    assert applied.returncode == 0, applied.stderr
    listed = kubectl(cluster, "get", "locusttests.v2.locust.io", "-o", "name")
    assert f"locusttest.locust.io/{name}" in listed.stdout
    converted = kubectl(cluster, "get", "locusttests.v2.locust.io/converted", "-o", "json")
    assert json.loads(converted.stdout)["spec"]["worker"]["command"] == (
        "--locustfile /lotest/src/t.py"
    )
    v1 = kubectl(cluster, "get", "locusttests.v1.locust.io", "-o", "name", check=False)
    assert v1.returncode != 0
    assert 'service "locust-k8s-operator-webhook" not found' in v1.stderr, v1.stderr


def test_a_clean_stop_removes_the_registration_by_url(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    installed = conversion(own_cluster)
    process = operator(own_cluster, tmp_path / "operator.log")
    try:
        until(lambda: apply(own_cluster, V1_TEST, "converted").returncode == 0, "v1 converted")
        assert conversion(own_cluster)["strategy"] == "Webhook"
        assert validating_configuration_exists(own_cluster)
    finally:
        assert process.stop(signal.SIGTERM) == 0, process.log_tail()
    log = process.log_path.read_text()
    assert "webhooks unregistered" in log, log
    assert conversion(own_cluster) == installed
    assert not validating_configuration_exists(own_cluster)
    assert_users_can_work(own_cluster, "after-stop")


def test_after_a_kill_the_unregister_command_clears_the_registration(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    installed = conversion(own_cluster)
    process = operator(own_cluster, tmp_path / "operator.log")
    until(lambda: apply(own_cluster, V1_TEST, "converted").returncode == 0, "v1 converted")
    process.stop(signal.SIGKILL)
    # The dead process's registration locks users out...
    refused = apply(own_cluster, V2_TEST, "locked-out")
    assert refused.returncode != 0
    assert WEBHOOK_FAILURE in refused.stderr, refused.stderr
    # ...until the documented command clears it.
    unregister = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust_operator.cli",
            "webhooks",
            "unregister",
            "--kubeconfig",
            str(own_cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unregister.returncode == 0, unregister.stderr
    assert f"removed: CRD {CRD_NAME} conversion called {process.webhook_url}/convert" in (
        unregister.stdout
    )
    assert f"{VALIDATING_CONFIGURATION_NAME} called {process.webhook_url}/validate: deleted" in (
        unregister.stdout
    )
    until(lambda: apply(own_cluster, V2_TEST, "unlocked").returncode == 0, "writes work again")
    assert conversion(own_cluster) == installed
    assert_users_can_work(own_cluster, "after-kill")
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust_operator.cli",
            "webhooks",
            "unregister",
            "--kubeconfig",
            str(own_cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "nothing removed" in again.stdout


def test_an_in_cluster_registration_is_put_back_and_left_alone(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    """Registrations by Service belong to an in-cluster deployment (its replicas share
    them): a local operator puts one back on exit, and the command leaves it."""
    service = {"name": "locust-k8s-operator-webhook", "namespace": "ops", "path": "/convert"}
    ca = serving.generate_self_signed(tmp_path, ["locust-k8s-operator-webhook.ops.svc"])
    ca_bundle = base64.b64encode(ca.ca_bundle).decode()
    in_cluster = {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {"service": {**service, "port": 443}, "caBundle": ca_bundle},
        },
    }
    kubectl(
        own_cluster,
        "patch",
        "crd",
        CRD_NAME,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"conversion": in_cluster}}),
    )
    process = operator(own_cluster, tmp_path / "operator.log")
    assert process.stop(signal.SIGTERM) == 0, process.log_tail()
    assert conversion(own_cluster) == in_cluster
    unregister = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust_operator.cli",
            "webhooks",
            "unregister",
            "--kubeconfig",
            str(own_cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "left in place: CRD locusttests.locust.io conversion: calls Service ops/" in (
        unregister.stdout
    )
    assert conversion(own_cluster) == in_cluster


def test_an_operator_whose_cluster_goes_away_logs_one_line_and_backs_off(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    for index in range(3):  # tests to reconcile during the outage
        assert apply(own_cluster, V2_TEST, f"load-{index}").returncode == 0
    process = OperatorProcess(
        kubeconfig=own_cluster.kubeconfig,
        log_path=tmp_path / "operator.log",
        webhooks=True,
        env={"RESYNC_PERIOD_SECONDS": "1"},  # reconciles keep coming during the outage
    )
    process.start()
    try:
        process.wait_until_ready()

        def reconciled() -> bool:
            phases = kubectl(
                own_cluster, "get", "lotest", "-o", "jsonpath={.items[*].status.phase}"
            ).stdout.split()
            return len(phases) == 3

        # The cluster goes away under a settled operator, not in the middle of its first
        # writes (those would fail with the apiserver's own shutdown message).
        until(reconciled, "the tests are reconciled")
        before = len(process.log_path.read_text().splitlines())
        own_cluster.stop()
        process.wait_for_log("unreachable")
        # Let every informer and reconcile fail a few rounds of backoff.
        time.sleep(10)
        assert process.process is not None and process.process.poll() is None
    finally:
        code = process.stop(signal.SIGTERM)
    since_stop = process.log_path.read_text().splitlines()[before:]
    assert "Traceback" not in "\n".join(since_stop), "\n".join(since_stop)
    # From the moment the operator noticed: a write in flight as the apiserver shut down
    # may still report the apiserver's own refusal just before.
    noticed = next(i for i, line in enumerate(since_stop) if "unreachable" in line)
    after = since_stop[noticed:]
    problems = [line for line in after if " WARNING " in line or " ERROR " in line]
    assert len([line for line in problems if "unreachable" in line]) == 1, after
    # The one line names the server; the exit names the command that clears what it
    # could not remove.
    assert any(f"apiserver {own_cluster.server} unreachable" in line for line in problems)
    assert any("locust-operator webhooks unregister" in line for line in problems), after
    assert len(problems) == 2, "\n".join(after)
    # No storm: a handful of lines for the whole outage and the shutdown (a line per
    # informer and retry, or a traceback per reconcile, would be dozens).
    assert len(after) <= 10, "\n".join(after)
    assert code == 0, process.log_tail()
