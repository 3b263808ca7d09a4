"""`make demo-in-cluster`: the Helm path on the local cluster, narrated.

Builds the operator's image from the repository's Dockerfile (buildah, cached), starts the
local cluster with its real node and loads the image into the node's containerd (where a
real cluster would pull it from your registry), installs the chart with webhooks on (two
replicas, leader election), runs a small distributed Locust test against an in-cluster
HTTP target to Succeeded, shows a v1 object converted and a bad one rejected by the
operator's pods, prints the status, then uninstalls the release and shows that LocustTests
can still be written. Stops everything it started. No operator runs on this machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from localcluster import LocalCluster
from localcluster.cluster import build_tools
from localcluster.images import LOCUST_IMAGE, TARGET_PORT, ensure_operator_image
from localcluster.node import NodeUnavailable
from localcluster.workloads import http_target, service_url, target_count_path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHART = REPO_ROOT / "charts" / "locust-k8s-operator"
RELEASE = "locust-operator"
OPERATOR_NAMESPACE = "locust-operator-system"
NAMESPACE = "default"  # no kwok placement: its pods run on the real node
TEST = "demo"
LOCUSTFILE = """from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.5)

    @task
    def home(self):
        self.client.get("/home")
"""


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class Demo:
    def __init__(self, cluster: LocalCluster, bin_dir: Path) -> None:
        self.cluster = cluster
        self.bin_dir = bin_dir

    def run(self, tool: str, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [str(self.bin_dir / tool), f"--kubeconfig={self.cluster.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{result.stderr}")
        # kubectl says "No resources found" on stderr.
        return (result.stdout or result.stderr) if result.returncode == 0 else result.stderr

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return self.run("kubectl", *args, stdin=stdin, check=check)

    def show(self, *args: str) -> None:
        print(f"$ kubectl {' '.join(args)}")
        print(self.kubectl(*args).rstrip())

    def wait_for(self, what: str, check: Any, within: float = 180.0) -> None:
        deadline = time.monotonic() + within
        while not check():
            self.cluster.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(1)


def install(demo: Demo) -> None:
    say("helm install (chart defaults: 2 replicas, leader election; plus webhook.enabled=true)")
    started = time.monotonic()
    notes = demo.run(
        "helm",
        "install",
        RELEASE,
        str(CHART),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--create-namespace",
        "--set",
        "webhook.enabled=true",
        "--wait",
        "--timeout=180s",
    )
    print("\n".join(notes.splitlines()[:8]))
    say(f"release ready in {time.monotonic() - started:.1f}s")
    demo.show("-n", OPERATOR_NAMESPACE, "get", "pods", "-o", "wide")
    lease = json.loads(demo.kubectl("-n", OPERATOR_NAMESPACE, "get", "lease", "-o", "json"))
    holder = lease["items"][0]["spec"]["holderIdentity"]
    say(f"leader: {holder}")
    for pod in json.loads(demo.kubectl("-n", OPERATOR_NAMESPACE, "get", "pods", "-o", "json"))[
        "items"
    ]:
        say(f"{pod['metadata']['name']}: {measure(demo, pod)}")


def measure(demo: Demo, pod: dict[str, Any]) -> str:
    """Start-to-ready as the kubelet saw it (1 s resolution, includes the probe period) and
    as the operator logged it, and the operator process's RSS."""
    name = pod["metadata"]["name"]
    started = pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    lines = [
        json.loads(line)
        for line in demo.kubectl("-n", OPERATOR_NAMESPACE, "logs", name).splitlines()
        if line.startswith("{")
    ]
    running = next(line for line in lines if line["message"].startswith("operator running"))
    rss = demo.kubectl(
        "-n",
        OPERATOR_NAMESPACE,
        "exec",
        name,
        "--",
        "python",
        "-c",
        "import re; print(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/1/status').read())[1])",
    )

    def at(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    return (
        f"container start -> Ready {(at(ready['lastTransitionTime']) - at(started)).seconds}s "
        f"(kubelet), first log line -> running "
        f"{(at(running['time']) - at(lines[0]['time'])).total_seconds():.2f}s (operator), "
        f"RSS {int(rss) / 1024:.0f} MiB"
    )


def run_a_test(demo: Demo) -> None:
    say("an HTTP target in the cluster and a locustfile in a ConfigMap")
    for manifest in http_target():
        demo.kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=json.dumps(manifest))
    demo.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/target", "--timeout=120s")
    with tempfile.TemporaryDirectory() as work:
        locustfile = Path(work) / "demo.py"
        locustfile.write_text(LOCUSTFILE)
        demo.kubectl(
            "-n", NAMESPACE, "create", "configmap", "demo-scripts", f"--from-file={locustfile}"
        )
    host = service_url(NAMESPACE, "target", TARGET_PORT)
    test = f"""
apiVersion: locust.io/v2
kind: LocustTest
metadata: {{name: {TEST}}}
spec:
  image: {LOCUST_IMAGE}
  master:
    command: --locustfile /lotest/src/demo.py --host {host} --users 4 --spawn-rate 4 --run-time 15s
    autoquit: {{enabled: true, timeout: 3}}
  worker: {{command: --locustfile /lotest/src/demo.py, replicas: 2}}
  testFiles: {{configMapRef: demo-scripts}}
"""
    say(f"a LocustTest: 1 master, 2 workers, 15 s against {host}")
    print(demo.kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=test).rstrip())
    seen: list[str] = []

    def finished() -> bool:
        phase = demo.kubectl(
            "-n", NAMESPACE, "get", "locusttest", TEST, "-o", "jsonpath={.status.phase}"
        )
        if phase and (not seen or seen[-1] != phase):
            seen.append(phase)
            say(f"phase {phase}")
        return phase in ("Succeeded", "Failed")

    demo.wait_for(f"{TEST} to finish", finished)
    demo.show("-n", NAMESPACE, "get", "locusttest", TEST)
    conditions = json.loads(
        demo.kubectl(
            "-n", NAMESPACE, "get", "locusttest", TEST, "-o", "jsonpath={.status.conditions}"
        )
    )
    for condition in conditions:
        print(f"  {condition['type']}={condition['status']} ({condition['reason']})")
    log = demo.kubectl("-n", NAMESPACE, "logs", f"job/{TEST}-master", "-c", f"{TEST}-master")
    summary = [line for line in log.splitlines() if re.match(r"\s*(Type|GET|Aggregated)\s", line)]
    say("the master's summary")
    print("\n".join(summary))
    counts = demo.kubectl("get", "--raw", target_count_path(NAMESPACE))
    say(f"requests counted by the target: {counts.strip()}")


def webhooks(demo: Demo) -> None:
    say("a v1 object, converted by the operator's pods behind the webhook Service")
    v1 = """
apiVersion: locust.io/v1
kind: LocustTest
metadata: {name: from-v1}
spec:
  masterCommandSeed: --locustfile /lotest/src/demo.py --run-time 1s
  workerCommandSeed: --locustfile /lotest/src/demo.py
  workerReplicas: 1
  image: locustio/locust:2.47.0
  configMap: demo-scripts
"""
    demo.kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=v1)
    print(
        "as v2: "
        + demo.kubectl(
            "-n", NAMESPACE, "get", "locusttests.v2.locust.io", "from-v1", "-o", "jsonpath={.spec}"
        )
    )
    demo.kubectl("-n", NAMESPACE, "delete", "locusttest", "from-v1")
    say("a bad object, rejected by the validating webhook")
    bad = """
apiVersion: locust.io/v2
kind: LocustTest
metadata: {name: bad}
spec:
  image: locustio/locust:2.47.0
  master: {command: --locustfile /lotest/src/demo.py}
  worker: {command: --locustfile /lotest/src/demo.py, replicas: 1}
  testFiles: {configMapRef: demo-scripts}
  env:
    secretMounts: [{name: creds, mountPath: /lotest//src/x}]
"""
    print(demo.kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=bad, check=False).rstrip())


def uninstall(demo: Demo) -> None:
    say("delete the test (the operator removes its finalizer), then helm uninstall")
    demo.kubectl("-n", NAMESPACE, "delete", "locusttest", TEST, "--wait=true")
    print(demo.run("helm", "uninstall", RELEASE, "--namespace", OPERATOR_NAMESPACE, "--wait"))
    demo.show("get", "validatingwebhookconfigurations")
    say("LocustTests can still be written (the release took its webhook configuration along)")
    after = f"""
apiVersion: locust.io/v2
kind: LocustTest
metadata: {{name: after-uninstall}}
spec:
  image: {LOCUST_IMAGE}
  master: {{command: --locustfile /lotest/src/demo.py}}
  worker: {{command: --locustfile /lotest/src/demo.py, replicas: 1}}
  testFiles: {{configMapRef: demo-scripts}}
"""
    print(demo.kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=after).rstrip())
    print(demo.kubectl("-n", NAMESPACE, "delete", "locusttest", "after-uninstall").rstrip())


def main() -> int:
    say("control-plane binaries (built once, cached)")
    bin_dir = build_tools()
    say("the operator's image from the Dockerfile (buildah; cached by its inputs)")
    started = time.monotonic()
    image = ensure_operator_image(lambda line: print(f"    {line}"))
    size_mb = image.stat().st_size / 1e6
    say(f"{image.name}: {size_mb:.0f} MB, ready in {time.monotonic() - started:.1f}s")
    with tempfile.TemporaryDirectory(prefix="lko-demo-in-cluster-") as data_dir:
        cluster = LocalCluster(
            Path(data_dir),
            bin_dir=bin_dir,
            real_node=True,
            log=lambda line: print(f"    {line}", flush=True),
        )
        say("the local cluster with its real node")
        try:
            cluster.start()
            cluster.import_images([image])
            demo = Demo(cluster, bin_dir)
            install(demo)
            run_a_test(demo)
            webhooks(demo)
            uninstall(demo)
        except NodeUnavailable as problem:
            print(f"demo-in-cluster: {problem}", file=sys.stderr)
            return 1
        finally:
            say("stopping the cluster")
            cluster.stop()
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
