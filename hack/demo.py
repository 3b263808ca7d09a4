"""`make demo`: the main job on the embedded local control plane, narrated.

Builds the control-plane binaries (first time only), starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok on loopback, installs the LocustTest CRD,
runs the operator (controller and webhooks), and follows a LocustTest from Pending to
Running to Succeeded with its status and children. Then a v1 test (converted by the
operator) and a bad one (rejected). Stops everything it started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from localcluster import LocalCluster
from localcluster.cluster import build_tools, free_port


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_V2 = """
apiVersion: locust.io/v2
kind: LocustTest
metadata: {name: demo-v2}
spec:
  image: locustio/locust:2.43.1
  master: {command: "--locustfile /lotest/src/demo.py --host http://127.0.0.1:8080"}
  worker: {command: "--locustfile /lotest/src/demo.py", replicas: 3}
  testFiles: {configMapRef: demo-scripts}
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
LOCUSTFILE = """from locust import HttpUser, task

class Demo(HttpUser):
    @task
    def index(self):
        self.client.get("/")
"""
EXAMPLE_INVALID = EXAMPLE_V2.replace("demo-v2", "demo-bad").replace("replicas: 3", "replicas: 0")


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


def follow_phases(cluster: LocalCluster, name: str, until: str, within: float = 60) -> None:
    """Prints each phase the test goes through, with the conditions that explain it."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        raw = kubectl(cluster, "get", "lotest", name, "-ojsonpath={.status}", quiet=True)
        status = json.loads(raw) if raw else {}
        conditions = {c["type"]: c["reason"] for c in status.get("conditions", [])}
        seen = (status.get("phase"), tuple(sorted(conditions.items())))
        if seen != last:
            last = seen
            print(
                f"    phase={status.get('phase', '-')}  "
                + "  ".join(f"{kind}={reason}" for kind, reason in conditions.items()),
                flush=True,
            )
        if status.get("phase") == until:
            return
        time.sleep(0.1)
    raise SystemExit(f"{name} never reached {until}")


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


def show_a_test_run(cluster: LocalCluster) -> None:
    say("a ConfigMap with the locustfile, and a v2 LocustTest using it")
    kubectl(cluster, "create", "configmap", "demo-scripts", "--from-literal=demo.py=" + LOCUSTFILE)
    kubectl(cluster, "apply", "-f", "-", stdin=EXAMPLE_V2)
    say("the operator creates the master Service and Jobs; kwok runs the pods")
    follow_phases(cluster, "demo-v2", "Running")
    kubectl(cluster, "get", "svc,jobs,pods", "-l", "performance-test-name=demo-v2")
    kubectl(cluster, "get", "lotest", "demo-v2")
    say("the FAQ's progress commands")
    kubectl(cluster, "get", "locusttest", "demo-v2", "-o",
            "jsonpath={.status.connectedWorkers}/{.status.expectedWorkers}{'\\n'}")  # fmt: skip
    say("Locust's master exits 0 when --autoquit ends the test (kwok plays that part)")
    master = kubectl(cluster, "get", "pods", "-l", "performance-test-pod-name=demo-v2-master",
                     "-o", "jsonpath={.items[0].metadata.name}", quiet=True)  # fmt: skip
    kubectl(cluster, "annotate", "pod", master, "kwok.locust.io/outcome=Succeeded")
    follow_phases(cluster, "demo-v2", "Succeeded")
    kubectl(cluster, "get", "lotest", "demo-v2", "-o", "jsonpath={.status}{'\\n'}")
    kubectl(cluster, "get", "events", "--field-selector", "involvedObject.name=demo-v2",
            "-o", "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message")  # fmt: skip


def show_versions_and_validation(cluster: LocalCluster) -> None:
    say("a deprecated v1 LocustTest: stored as v2 by the conversion webhook, reconciled alike")
    kubectl(cluster, "apply", "-f", "-", stdin=EXAMPLE_V1)
    wait_for(cluster, "lotest/demo-v1", "{.status.phase}", "Running")
    kubectl(cluster, "get", "lotest")
    kubectl(cluster, "get", "locusttests.v2.locust.io", "demo-v1", "-o", "jsonpath={.spec}{'\\n'}")
    say("a bad test (worker.replicas: 0) is rejected with the field and the fix")
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
    kubectl(cluster, "wait", "--for=condition=Established", "crd/locusttests.locust.io")


def main() -> int:
    say("building the control-plane binaries from the Go module proxy")
    say("(the first build takes several minutes on 2 cores; later runs reuse the cache)")
    started = time.monotonic()
    bin_dir = build_tools()
    say(f"binaries ready in {time.monotonic() - started:.0f}s: {bin_dir}")
    with tempfile.TemporaryDirectory(prefix="locust-demo-") as data_dir:
        cluster = LocalCluster(Path(data_dir), bin_dir=bin_dir, log=lambda m: print(f"    {m}"))
        say("starting the local control plane on 127.0.0.1")
        cluster.start()
        try:
            kubectl(cluster, "get", "nodes")
            install_crd(cluster)
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
            say("stopping the control plane")
            cluster.stop()
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
