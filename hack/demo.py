"""`make demo`: a real distributed Locust load test on the local cluster, narrated.

Builds the control-plane binaries and the node's images (first time only), starts etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, kwok and one real node
(kubelet, containerd, kube-proxy, CoreDNS), installs the LocustTest CRD and runs the
operator (controller and webhooks). Then an HTTP target in the cluster, a locustfile and
a helper module in ConfigMaps, and a v2 LocustTest with 1 master and 3 workers: Locust's
own log lines as the workers connect, the test's progress, the master exiting 0 by
autoquit, phase Succeeded, the requests counted at the target and the master's summary.
Then a v1 test (converted by the operator) and a bad one (rejected). Stops everything it
started.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from localcluster import LocalCluster
from localcluster.cluster import build_tools, free_port
from localcluster.images.catalog import LOCUST_IMAGE, TARGET_PORT
from localcluster.node import NodeUnavailable
from localcluster.workloads import http_target, service_url, target_count_path


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


REPO_ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "default"  # no kwok placement: its pods run on the real node
WORKERS = 3
USERS = 6
RUN_TIME = "20s"
AUTOQUIT_SECONDS = 3
TARGET_URL = service_url(NAMESPACE, "target", TARGET_PORT)
EXAMPLE_V2 = f"""
apiVersion: locust.io/v2
kind: LocustTest
metadata: {{name: demo-v2}}
spec:
  image: {LOCUST_IMAGE}
  master:
    command: >-
      --locustfile /lotest/src/demo.py --host {TARGET_URL}
      --users {USERS} --spawn-rate {USERS} --run-time {RUN_TIME}
    autoquit: {{enabled: true, timeout: {AUTOQUIT_SECONDS}}}
  worker: {{command: "--locustfile /lotest/src/demo.py", replicas: {WORKERS}}}
  testFiles: {{configMapRef: demo-scripts, libConfigMapRef: demo-lib}}
"""
EXAMPLE_V1 = """
apiVersion: locust.io/v1
kind: LocustTest
metadata: {name: demo-v1}
spec:
  masterCommandSeed: "--locustfile /lotest/src/demo.py"
  workerCommandSeed: "--locustfile /lotest/src/demo.py"
  workerReplicas: 2
  image: locustio/locust:2.20.0
  configMap: demo-scripts
"""
LOCUSTFILE = """from locust import HttpUser, constant, task

import shop  # from the lib ConfigMap, on PYTHONPATH


class Shopper(HttpUser):
    wait_time = constant(0.5)

    @task
    def browse(self):
        self.client.get(shop.next_page())
"""
LIB_MODULE = """import random

PAGES = ["/", "/products", "/cart"]


def next_page():
    return random.choice(PAGES)
"""
EXAMPLE_INVALID = EXAMPLE_V2.replace("demo-v2", "demo-bad").replace(
    f"replicas: {WORKERS}", "replicas: 0"
)
# Locust's own master log lines worth showing while the test runs.
MASTER_EVENTS = re.compile(
    r"reported as ready|Sending spawn jobs|All users spawned|Time limit reached|"
    r"--autoquit|Shutting down|Starting Locust"
)
SUMMARY_START = re.compile(r"^Type\s+Name\s+# reqs")


def kubectl(
    cluster: LocalCluster, *args: str, stdin: str | None = None, quiet: bool = False
) -> str:
    assert cluster.bin_dir is not None
    command = [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args]
    if not quiet:
        print(f"    $ kubectl {' '.join(args)}", flush=True)
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if not quiet:
        for line in (result.stdout + result.stderr).splitlines():
            print(f"      {line}", flush=True)
    return result.stdout


def wait_for(
    cluster: LocalCluster, what: str, jsonpath: str, want: str, within: float = 60
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if kubectl(cluster, "get", what, f"-ojsonpath={jsonpath}", quiet=True) == want:
            return
        time.sleep(0.2)
    raise SystemExit(f"{what}: {jsonpath} never became {want!r}")


def master_log(cluster: LocalCluster, name: str) -> list[str]:
    return kubectl(
        cluster, "logs", f"job/{name}-master", "-c", f"{name}-master", quiet=True
    ).splitlines()


def follow_test(cluster: LocalCluster, name: str, within: float = 180) -> str:
    """Prints each change of phase, conditions and connected workers, and the master's
    notable log lines as they appear; returns the terminal phase."""
    deadline = time.monotonic() + within
    last = None
    shown = 0
    while time.monotonic() < deadline:
        raw = kubectl(cluster, "get", "lotest", name, "-ojsonpath={.status}", quiet=True)
        status = json.loads(raw) if raw else {}
        conditions = {c["type"]: c["reason"] for c in status.get("conditions", [])}
        workers = f"{status.get('connectedWorkers', 0)}/{status.get('expectedWorkers', '-')}"
        seen = (status.get("phase"), workers, tuple(sorted(conditions.items())))
        if seen != last:
            last = seen
            print(
                f"    phase={status.get('phase', '-')}  workers={workers}  "
                + "  ".join(f"{kind}={reason}" for kind, reason in conditions.items()),
                flush=True,
            )
        if status.get("phase") in ("Running", "Succeeded", "Failed"):
            lines = master_log(cluster, name)
            for line in lines[shown:]:
                if MASTER_EVENTS.search(line):
                    print(f"      [master] {line}", flush=True)
            shown = max(shown, len(lines))
        if status.get("phase") in ("Succeeded", "Failed"):
            return str(status["phase"])
        time.sleep(0.5)
    raise SystemExit(f"{name} did not finish within {within:.0f}s")


def _ready(probe_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{probe_port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:  # not listening yet, or 503 (an HTTPError is an OSError)
        return False


def start_operator(cluster: LocalCluster, work_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    port, probe_port = free_port(), free_port()
    say(f"running the operator: controller + webhooks on https://127.0.0.1:{port}")
    log_path = work_dir / "operator.log"
    with log_path.open("wb") as log:
        operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust_operator.cli",
                "run",
                f"--kubeconfig={cluster.kubeconfig}",
                "--enable-webhooks",
                f"--webhook-url=https://127.0.0.1:{port}",
                f"--health-probe-bind-address=127.0.0.1:{probe_port}",  # 8081 may be taken
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    deadline = time.monotonic() + 30
    while not _ready(probe_port):
        if operator.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the operator did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    time.sleep(2)  # the apiserver picks up new webhook registrations asynchronously
    return operator, log_path


def deploy_target(cluster: LocalCluster) -> None:
    say(f"an HTTP target in the cluster ({TARGET_URL}): counts the requests it answers")
    manifests = {"apiVersion": "v1", "kind": "List", "items": http_target()}
    kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(manifests))
    kubectl(cluster, "rollout", "status", "deployment/target", "--timeout=120s")


def show_a_test_run(cluster: LocalCluster) -> None:
    say("ConfigMaps with the locustfile and the helper module it imports")
    kubectl(cluster, "create", "configmap", "demo-scripts", "--from-literal=demo.py=" + LOCUSTFILE)
    kubectl(cluster, "create", "configmap", "demo-lib", "--from-literal=shop.py=" + LIB_MODULE)
    say(f"a v2 LocustTest: 1 master, {WORKERS} workers, {USERS} users for {RUN_TIME}")
    print(EXAMPLE_V2.strip("\n"))
    kubectl(cluster, "apply", "-f", "-", stdin=EXAMPLE_V2)
    say("the operator creates the master Service and Jobs; the real node runs the pods")
    phase = follow_test(cluster, "demo-v2")
    kubectl(cluster, "get", "svc,jobs,pods", "-l", "performance-test-name=demo-v2", "-o", "wide")
    kubectl(cluster, "get", "lotest", "demo-v2")
    say("the master's exit code (Locust quit by itself: --autoquit)")
    kubectl(cluster, "get", "pods", "-l", "performance-test-pod-name=demo-v2-master", "-o",
            "jsonpath={.items[0].status.containerStatuses[0].state.terminated}{'\\n'}")  # fmt: skip
    say("requests counted at the target, per path")
    kubectl(cluster, "get", "--raw", target_count_path(NAMESPACE))
    print()
    say("the master's summary (the end of its log)")
    lines = master_log(cluster, "demo-v2")
    start = next((i for i, line in enumerate(lines) if SUMMARY_START.search(line)), -20)
    for line in lines[start:]:
        print(f"      {line}")
    kubectl(cluster, "get", "events", "--field-selector", "involvedObject.name=demo-v2",
            "-o", "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message")  # fmt: skip
    if phase != "Succeeded":
        raise SystemExit(f"demo-v2 ended {phase}, not Succeeded")


def show_versions_and_validation(cluster: LocalCluster) -> None:
    say("a deprecated v1 LocustTest: stored as v2 by the conversion webhook")
    kubectl(cluster, "apply", "-f", "-", stdin=EXAMPLE_V1)
    kubectl(cluster, "get", "locusttests.v2.locust.io", "demo-v1", "-o", "jsonpath={.spec}{'\\n'}")
    kubectl(cluster, "delete", "lotest", "demo-v1", "--wait=false")  # it has no target
    # The CRD's schema (minimum 1) refuses this before the webhook sees it: the apiserver's
    # message names the field and the allowed range.
    say("a bad test (worker.replicas: 0) is rejected by the schema, naming the field and range")
    kubectl(cluster, "apply", "-f", "-", stdin=EXAMPLE_INVALID)


def install_crd(cluster: LocalCluster) -> None:
    say("installing the LocustTest CRD (generated from the Python types)")
    kubectl(
        cluster,
        "apply",
        "--server-side",
        "-f",
        str(REPO_ROOT / "config/crd/locust.io_locusttests.yaml"),
    )
    # Polled: `kubectl wait` fails outright while the new CRD has no conditions yet.
    wait_for(
        cluster,
        "crd/locusttests.locust.io",
        '{.status.conditions[?(@.type=="Established")].status}',
        "True",
    )
    say("the LocustTest CRD is Established")


def main() -> int:
    say("building the control-plane binaries from the Go module proxy")
    say("(the first build takes several minutes on 2 cores; later runs reuse the cache)")
    started = time.monotonic()
    bin_dir = build_tools()
    say(f"binaries ready in {time.monotonic() - started:.0f}s: {bin_dir}")
    with tempfile.TemporaryDirectory(prefix="locust-demo-") as data_dir:
        cluster = LocalCluster(
            Path(data_dir), bin_dir=bin_dir, log=lambda m: print(f"    {m}"), real_node=True
        )
        say("starting the local cluster: control plane on the host, one real node")
        try:
            cluster.start()
        except NodeUnavailable as problem:
            raise SystemExit(f"the real node cannot run here: {problem}") from None
        try:
            kubectl(cluster, "get", "nodes", "-o", "wide")
            install_crd(cluster)
            deploy_target(cluster)
            operator, log_path = start_operator(cluster, Path(data_dir))
            try:
                show_a_test_run(cluster)
                show_versions_and_validation(cluster)
            finally:
                operator.terminate()
                operator.wait(30)
                say("operator log (last lines)")
                for line in log_path.read_text().splitlines()[-8:]:
                    print(f"      {line}")
        finally:
            say("stopping the cluster")
            cluster.stop()
    say(f"done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
