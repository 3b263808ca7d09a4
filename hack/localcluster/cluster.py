"""Start and stop a local cluster: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok as child processes, and optionally one real node (node.py)."""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .certs import CertificateAuthority, CertPair, write_service_account_keys
from .network import NODE_NAME
from .node import RealNode

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
STAGES_FILE = HERE / "kwok-stages.yaml"
FAKE_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# kwok nodes repel pods that do not ask for them, so a plain pod lands on the real node;
# tests that want kwok say so (tests/locusttests.py: ON_KWOK).
FAKE_NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
FAKE_NODE_LABEL = ("type", "kwok")
LOG_TAIL_LINES = 40
# Components that come from Debian packages (host.REQUIRED_PACKAGES), not from the build.
SYSTEM_BINARIES = frozenset({"containerd"})


class ComponentFailed(RuntimeError):
    """A control-plane component exited or never became ready; carries its log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_tools() -> Path:
    """Builds (or finds in the cache) the pinned binaries; returns their directory."""
    script = REPO_ROOT / "hack" / "build-tools.sh"
    result = subprocess.run(["bash", str(script)], check=True, stdout=subprocess.PIPE, text=True)
    return Path(result.stdout.strip().splitlines()[-1])


def _die_with_parent() -> None:
    # Children must not outlive the launcher, even when it is SIGKILLed.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _in_netns(netns: Path | None) -> Callable[[], None]:
    """preexec_fn: die with the parent and, for node daemons, join the node's network
    namespace only (unlike `ip netns exec`, keep the host's mounts, which kubelet and
    containerd must share)."""

    def enter() -> None:
        _die_with_parent()
        if netns is not None:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            fd = os.open(netns, os.O_RDONLY)
            clone_newnet = 0x40000000
            if libc.setns(fd, clone_newnet) != 0:
                os._exit(126)
            os.close(fd)

    return enter


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    netns: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_in_netns(self.netns),
        )
        log.close()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> ComponentFailed:
        return ComponentFailed(
            f"{self.name} {what}; last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, grace: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class LocalCluster:
    """A real control plane in ``data_dir``; ``start()`` returns once pods can run.

    Pods scheduled onto the kwok nodes become Running by themselves; tests drive them
    further with the annotations documented in kwok-stages.yaml. kwok nodes are tainted:
    only pods tolerating FAKE_NODE_TAINT go there. With ``real_node`` a real kubelet runs
    the other pods (needs root; see node.py).
    """

    data_dir: Path
    bin_dir: Path | None = None
    nodes: int = 2
    log: Callable[[str], None] = print
    real_node: bool = False
    components: list[Component] = field(default_factory=list)
    node: RealNode | None = None

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.pki = self.data_dir / "pki"
        self.logs = self.data_dir / "logs"
        self.kubeconfig = self.data_dir / "kubeconfig"
        self.apiserver_port = 0
        self.server = ""

    # -- lifecycle --------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> None:
        if self.bin_dir is None:
            self.bin_dir = build_tools()
        for d in (self.pki, self.logs, self.data_dir / "etcd"):
            d.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        try:
            self._start_all(deadline)
        except BaseException:
            self.stop()
            raise

    def _start_all(self, deadline: float) -> None:
        # Without a real node nothing but host processes talks to the apiserver: loopback.
        bind_ip, service_cidr, service_ip = "127.0.0.1", "10.96.0.0/16", "10.96.0.1"
        fake_pod_cidr = "10.244.0.0/16"
        if self.real_node:
            self.node = RealNode(self.data_dir, log=self.log)
            net = self.node.prepare_host()
            # Pods reach the apiserver through the `kubernetes` Service, which routes to
            # the host end of the node link.
            bind_ip, service_cidr, service_ip = (
                net.host_ip,
                net.service_cidr,
                net.kubernetes_service_ip,
            )
            fake_pod_cidr = net.fake_pod_cidr
        ca = CertificateAuthority(self.pki)
        sa_keys = write_service_account_keys(self.pki)
        serving = ca.issue(
            "apiserver",
            "kube-apiserver",
            dns_names=(
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ),
            ip_addresses=tuple(dict.fromkeys(("127.0.0.1", bind_ip, service_ip))),
            server=True,
        )
        admin = ca.issue("admin", "local-admin", organization="system:masters", client=True)
        self.ca_cert = ca.pair.cert
        self.admin_cert = admin
        self.apiserver_port = free_port()
        self.server = f"https://{bind_ip}:{self.apiserver_port}"
        write_kubeconfig(self.kubeconfig, self.server, self.ca_cert, admin)

        etcd_port, etcd_peer_port = free_port(), free_port()
        self._launch(
            "etcd",
            [
                "--name=local",
                f"--data-dir={self.data_dir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer_port}",
                f"--initial-cluster=local=http://127.0.0.1:{etcd_peer_port}",
                "--listen-metrics-urls=",
                # Throwaway data: skip fsync so tests are not bound by disk latency.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait("etcd", deadline, lambda: _http_ok(f"http://127.0.0.1:{etcd_port}/health", None))

        node_flags = (
            [
                # The kubelet serves logs/exec/port-forward on its InternalIP.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--kubelet-client-certificate={admin.cert}",
                f"--kubelet-client-key={admin.key}",
            ]
            if self.real_node
            # There is no real network behind 127.0.0.1 for the `kubernetes` Service.
            else ["--endpoint-reconciler-type=none"]
        )
        self._launch(
            "kube-apiserver",
            [
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                f"--bind-address={bind_ip}",
                f"--advertise-address={bind_ip}",
                f"--secure-port={self.apiserver_port}",
                f"--cert-dir={self.pki / 'apiserver-generated'}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={ca.pair.cert}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa_keys.cert}",
                f"--service-account-signing-key-file={sa_keys.key}",
                "--authorization-mode=Node,RBAC",
                f"--service-cluster-ip-range={service_cidr}",
                # Namespace annotations place pods on kwok (tests, benchmarks).
                "--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction",
                "--allow-privileged=true",
                *node_flags,
                "--profiling=false",
                "-v=1",
            ],
        )
        self._wait("kube-apiserver", deadline, lambda: self._api_ok("/readyz"))

        kcm_port, scheduler_port, kwok_port = free_port(), free_port(), free_port()
        kubeconfig = str(self.kubeconfig)
        self._launch(
            "kube-controller-manager",
            [
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                f"--cert-dir={self.pki / 'kcm-generated'}",
                "--leader-elect=false",
                f"--service-account-private-key-file={sa_keys.key}",
                f"--root-ca-file={ca.pair.cert}",
                "--controllers=*",
                "--profiling=false",
                # Client-side rate limits sized for a real cluster's apiserver would turn a
                # burst of hundreds of pods (make bench) into minutes of queueing here.
                "--kube-api-qps=500",
                "--kube-api-burst=1000",
            ],
        )
        self._launch(
            "kube-scheduler",
            [
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={scheduler_port}",
                f"--cert-dir={self.pki / 'scheduler-generated'}",
                "--leader-elect=false",
                "--profiling=false",
                "--kube-api-qps=500",
                "--kube-api-burst=1000",
            ],
        )
        self._launch(
            "kwok",
            [
                f"--kubeconfig={kubeconfig}",
                f"--config={STAGES_FILE}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=" + "=".join(FAKE_NODE_ANNOTATION),
                f"--cidr={fake_pod_cidr}",
                "--node-ip=10.0.0.2",
                f"--server-address=127.0.0.1:{kwok_port}",
                # kwok renews node Leases, which the node lifecycle controller reads as heartbeats.
                "--node-lease-duration-seconds=40",
            ],
        )
        self._wait(
            "kube-controller-manager",
            deadline,
            lambda: _http_ok(f"https://127.0.0.1:{kcm_port}/healthz", None, verify=False),
        )
        self._wait(
            "kube-scheduler",
            deadline,
            lambda: _http_ok(f"https://127.0.0.1:{scheduler_port}/healthz", None, verify=False),
        )
        self._wait(
            "kwok", deadline, lambda: _http_ok(f"http://127.0.0.1:{kwok_port}/healthz", None)
        )

        for i in range(self.nodes):
            self._create_node(f"kwok-node-{i}")
        self._wait("kwok", deadline, self._nodes_ready, what="make the nodes Ready")
        self._wait(
            "kube-controller-manager",
            deadline,
            lambda: self._api_ok("/api/v1/namespaces/default/serviceaccounts/default"),
            what="create the default ServiceAccount",
        )
        if self.node is not None:
            self._start_node(ca, deadline)
        where = " and a real node" if self.node else ""
        self.log(f"[localcluster] ready at {self.server} ({self.nodes} kwok nodes{where})")

    def _start_node(self, ca: CertificateAuthority, deadline: float) -> None:
        assert self.node is not None
        kubelet = ca.issue(
            "kubelet", f"system:node:{NODE_NAME}", organization="system:nodes", client=True
        )
        proxy = ca.issue("kube-proxy", "system:kube-proxy", client=True)
        kubeconfigs = {"coredns": self.kubeconfig}
        for name, pair in (("kubelet", kubelet), ("kube-proxy", proxy)):
            kubeconfigs[name] = self.pki / f"{name}.kubeconfig"
            write_kubeconfig(kubeconfigs[name], self.server, self.ca_cert, pair)
        self.node.start(
            lambda name, args, netns: self._launch(name, args, netns),
            lambda name, ready, what: self._wait(name, deadline, ready, what or "become ready"),
            kubeconfigs=kubeconfigs,
            client_ca=ca.pair.cert,
            node_ready=lambda: self._node_ready(NODE_NAME),
        )

    def stop(self) -> None:
        """Stops exactly the processes this cluster started, newest first, then removes
        what the real node changed on the host."""
        if self.node is not None:
            for component in self.components:
                if component.name in ("kubelet", "kube-proxy"):
                    component.stop()
            self.node.stop_workloads()
        for component in reversed(self.components):
            component.stop()
        if self.node is not None:
            self.node.teardown()

    def import_images(self, tarballs: Sequence[Path]) -> None:
        """Imports image tarballs (docker-archives carrying their tags, e.g. from
        localcluster.images.ensure_operator_image) into the real node's containerd; pods
        then find them with the default pull policy. Unchanged tarballs are skipped."""
        if self.node is None:
            raise ComponentFailed(
                "images can only be imported into the real node: LocalCluster(real_node=True)"
            )
        self.node.import_images(tarballs)

    def check(self) -> None:
        """Raises ComponentFailed with the log tail if any component has exited."""
        for component in self.components:
            code = component.exited()
            if code is not None:
                raise component.failure(f"exited unexpectedly with code {code}")

    def pids(self) -> dict[str, int]:
        return {c.name: c.process.pid for c in self.components if c.process is not None}

    # -- helpers ----------------------------------------------------------------------

    def restart(self, name: str, timeout: float = 60.0) -> float:
        """Kills component ``name`` (SIGKILL: a crash, nothing flushed) and starts it again
        with the same flags; returns ``time.monotonic()`` once it is ready again (the
        apiserver: /readyz answers ok)."""
        component = next(c for c in self.components if c.name == name)
        if component.process is not None and component.process.poll() is None:
            component.process.kill()
            component.process.wait()
        component.start({k: v for k, v in os.environ.items() if not k.startswith("KUBECONFIG")})
        self.log(f"[localcluster] restarted {name} (pid {component.process.pid})")  # type: ignore[union-attr]
        if name == "kube-apiserver":
            self._wait(name, time.monotonic() + timeout, lambda: self._api_ok("/readyz"))
        return time.monotonic()

    def _launch(self, name: str, args: Sequence[str], netns: Path | None = None) -> None:
        assert self.bin_dir is not None
        binary = self.bin_dir / name
        if name in SYSTEM_BINARIES:
            binary = Path(shutil.which(name) or binary)
        if not binary.exists():
            raise ComponentFailed(f"{name}: binary not found at {binary}; run hack/build-tools.sh")
        component = Component(name, [str(binary), *args], self.logs / f"{name}.log", netns)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBECONFIG")}
        component.start(env)
        self.components.append(component)
        self.log(f"[localcluster] started {name} (pid {component.process.pid})")  # type: ignore[union-attr]

    def _wait(
        self, name: str, deadline: float, ready: Callable[[], bool], what: str = "become ready"
    ) -> None:
        component = next(c for c in self.components if c.name == name)
        while True:
            self.check()
            if ready():
                return
            if time.monotonic() > deadline:
                raise component.failure(f"did not {what} in time")
            time.sleep(0.2)

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        context.load_cert_chain(str(self.admin_cert.cert), str(self.admin_cert.key))
        return context

    def api(self, method: str, path: str, body: object | None = None) -> dict[str, object]:
        """A minimal admin client for the launcher's own bootstrap calls."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, context=self._ssl_context(), timeout=10) as resp:
            return json.loads(resp.read() or b"{}")  # type: ignore[no-any-return]

    def _api_ok(self, path: str) -> bool:
        return _http_ok(self.server + path, self._ssl_context())

    def _create_node(self, name: str) -> None:
        key, value = FAKE_NODE_ANNOTATION
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {key: value},
                "labels": {
                    FAKE_NODE_LABEL[0]: FAKE_NODE_LABEL[1],
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
            "spec": {"taints": [FAKE_NODE_TAINT]},
        }
        with contextlib.suppress(urllib.error.HTTPError):  # 409: exists already
            self.api("POST", "/api/v1/nodes", node)

    def _nodes_ready(self) -> bool:
        nodes = self.api("GET", "/api/v1/nodes").get("items", [])
        assert isinstance(nodes, list)
        ready = 0
        for node in nodes:
            conditions = node.get("status", {}).get("conditions", [])
            is_ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            taints = node.get("spec", {}).get("taints", [])
            # Ready and no longer carrying the not-ready taints (only our own is left).
            if is_ready and all(t.get("key") == FAKE_NODE_TAINT["key"] for t in taints):
                ready += 1
        return ready >= self.nodes

    def _node_ready(self, name: str) -> bool:
        try:
            node = self.api("GET", f"/api/v1/nodes/{name}")
        except urllib.error.HTTPError:
            return False
        status = node.get("status", {})
        assert isinstance(status, dict)
        conditions = status.get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def write_kubeconfig(path: Path, server: str, ca_cert: Path, client: CertPair) -> None:
    def b64(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": server, "certificate-authority-data": b64(ca_cert)},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": b64(client.cert),
                    "client-key-data": b64(client.key),
                },
            }
        ],
        "contexts": [
            {
                "name": "local",
                "context": {"cluster": "local", "user": "admin", "namespace": "default"},
            }
        ],
        "current-context": "local",
    }
    # JSON is valid YAML, and every kubeconfig reader accepts it.
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)


def _http_ok(url: str, context: ssl.SSLContext | None, verify: bool = True) -> bool:
    if url.startswith("https") and context is None:
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False
