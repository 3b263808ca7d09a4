"""The real node: containerd + runc, a kubelet, kube-proxy (iptables) and cluster DNS
(CoreDNS), in a network namespace of its own joined to the host by a veth pair.

prepare_host() runs before the apiserver (which listens on the host end of the link so
pods reach it), start() after it; stop_workloads() and teardown() undo everything,
including what a crashed previous owner of the slot left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import host
from .network import NODE_NAME, SlotNetwork
from .nodeconfig import (
    DNS_HEALTH_PORT,
    KUBELET_HEALTHZ_PORT,
    NODE_LABEL,
    PROXY_HEALTHZ_PORT,
    NodePaths,
    containerd_config,
    corefile,
    kube_proxy_config,
    kubelet_config,
    to_yaml,
)
from .slots import LOCK_DIR, SlotLease, acquire_slot, other_slots_active

STATE_ROOT = Path(os.environ.get("LOCALCLUSTER_STATE_DIR", "/var/lib/locust-k8s-operator"))
NETNS_DIR = Path("/run/netns")
IMPORTED_MARK = "imported-images.json"
SYSCTL_RECORD = LOCK_DIR / "host-sysctls.json"

Launch = Callable[[str, Sequence[str], "Path | None"], None]
Wait = Callable[[str, Callable[[], bool], str], None]


class NodeUnavailable(RuntimeError):
    """The machine cannot run the real node; the message says why and what to do."""


def node_paths(network: SlotNetwork) -> NodePaths:
    slot_state = STATE_ROOT / f"slot-{network.slot}"
    slot_run = LOCK_DIR / f"slot-{network.slot}"
    return NodePaths(
        containerd_root=slot_state / "containerd",
        containerd_state=slot_run / "containerd",
        kubelet_root=slot_state / "kubelet",
        pod_logs=slot_state / "pod-logs",
        cni_conf_dir=slot_run / "cni",
        config_dir=slot_run / "config",
        cgroup_root=f"/locust-k8s-operator-slot-{network.slot}",
    )


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise NodeUnavailable(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")
    return result


def load_images(log: Callable[[str], None]) -> tuple[list[Path], str]:
    """The image tarballs and the pause image ref from localcluster.images."""
    try:
        from .images import PAUSE_IMAGE, ensure_images  # type: ignore[import-not-found,unused-ignore]
    except ImportError as error:
        raise NodeUnavailable(f"localcluster.images is not available ({error})") from error
    return list(ensure_images(log)), str(PAUSE_IMAGE)


@dataclass
class RealNode:
    data_dir: Path
    log: Callable[[str], None] = print
    images: Callable[[Callable[[str], None]], tuple[list[Path], str]] = load_images
    lease: SlotLease | None = None
    _host_changed: bool = field(default=False, repr=False)

    @property
    def network(self) -> SlotNetwork:
        assert self.lease is not None, "prepare_host() first"
        return self.lease.network

    @property
    def paths(self) -> NodePaths:
        return node_paths(self.network)

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.network.netns

    # -- before the control plane ------------------------------------------------------

    def prepare_host(self) -> SlotNetwork:
        if os.geteuid() != 0:
            raise NodeUnavailable(
                "the real node needs root (network namespaces, mounts, cgroups); run as root "
                "or start the cluster without it (LocalCluster(real_node=False), "
                "`python -m localcluster up --no-real-node`)"
            )
        host.ensure_packages(self.log)
        self.lease = acquire_slot(f"{self.data_dir} (pid {os.getpid()})")
        (self.data_dir / "slot").write_text(f"{self.network.slot}\n")
        cleanup_slot(self.network, self.log)  # a crashed previous owner's leftovers
        paths = self.paths
        for d in (
            paths.containerd_root,
            paths.containerd_state,
            paths.kubelet_root,
            paths.pod_logs,
            paths.cni_conf_dir,
            paths.config_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        problem = host.overlay_works(paths.containerd_root)
        if problem:
            raise NodeUnavailable(
                f"overlayfs does not mount under {paths.containerd_root} ({problem}); set "
                "LOCALCLUSTER_STATE_DIR to a directory on ext4/xfs"
            )
        host.record_sysctls(SYSCTL_RECORD)
        self._host_changed = True
        self._create_link()
        self.log(
            f"[localcluster] slot {self.network.slot}: node netns {self.network.netns}, "
            f"host {self.network.host_ip}, pods {self.network.pod_cidr}"
        )
        return self.network

    def _create_link(self) -> None:
        net = self.network
        ns = net.netns
        _run("ip", "netns", "add", ns)
        # The peer is born inside the netns: its name (eth0) may exist on the host.
        _run(
            "ip", "link", "add", net.host_link, "type", "veth",
            "peer", "name", net.node_link, "netns", ns,
        )  # fmt: skip
        _run("ip", "addr", "add", f"{net.host_ip}/{net.link_prefix_len}", "dev", net.host_link)
        _run("ip", "link", "set", net.host_link, "up")
        _run("ip", "-n", ns, "addr", "add", f"{net.node_ip}/{net.link_prefix_len}", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "-n", ns, "link", "set", net.node_link, "up")
        # The host reaches pods and Services through the node; the node has no default
        # route, so nothing from a pod leaves the machine.
        for cidr in (net.pod_cidr, net.service_cidr):
            _run("ip", "route", "add", cidr, "via", net.node_ip, "dev", net.host_link)
        for key, value in (
            ("net.ipv4.ip_forward", "1"),
            # Pod -> Service -> pod on the same bridge needs iptables to see bridged replies.
            ("net.bridge.bridge-nf-call-iptables", "1"),
        ):
            _run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}")

    # -- after the control plane -------------------------------------------------------

    def start(
        self,
        launch: Launch,
        wait: Wait,
        *,
        kubeconfigs: dict[str, Path],
        client_ca: Path,
        node_ready: Callable[[], bool],
    ) -> None:
        """kubeconfigs: "kubelet", "kube-proxy" and "coredns" to the apiserver."""
        net, paths = self.network, self.paths
        cfg = paths.config_dir
        tarballs, pause_image = self.images(self.log)

        (cfg / "Corefile").write_text(corefile(net, kubeconfigs["coredns"]))
        launch("coredns", [f"-conf={cfg / 'Corefile'}"], None)
        wait("coredns", lambda: _http_ok(f"http://{net.dns_ip}:{DNS_HEALTH_PORT}/health"), "")

        (paths.cni_conf_dir / "10-lko.conflist").write_text(json.dumps(net.cni_conflist()))
        (cfg / "containerd.toml").write_text(containerd_config(paths, pause_image))
        launch("containerd", [f"--config={cfg / 'containerd.toml'}"], self.netns_path)
        wait("containerd", self._containerd_ready, "")
        self._import_images(tarballs)

        host.create_cgroup(paths.cgroup_root)
        (cfg / "kubelet.json").write_text(to_yaml(kubelet_config(paths, net, client_ca)))
        launch(
            "kubelet",
            [
                f"--config={cfg / 'kubelet.json'}",
                f"--kubeconfig={kubeconfigs['kubelet']}",
                f"--root-dir={paths.kubelet_root}",
                f"--cert-dir={paths.kubelet_root / 'pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={net.node_ip}",
                "--node-labels=" + "=".join(NODE_LABEL),
                "-v=1",
            ],
            self.netns_path,
        )
        (cfg / "kube-proxy.json").write_text(
            to_yaml(kube_proxy_config(net, kubeconfigs["kube-proxy"]))
        )
        launch("kube-proxy", [f"--config={cfg / 'kube-proxy.json'}", "-v=1"], self.netns_path)
        wait(
            "kubelet",
            lambda: _http_ok(f"http://{net.node_ip}:{KUBELET_HEALTHZ_PORT}/healthz"),
            "",
        )
        wait("kubelet", node_ready, "make the real node Ready")
        wait(
            "kube-proxy",
            lambda: _http_ok(f"http://{net.node_ip}:{PROXY_HEALTHZ_PORT}/healthz"),
            "",
        )

    def _ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(
            "ctr", f"--address={self.paths.containerd_socket}", "-n", "k8s.io", *args, check=check
        )

    def _containerd_ready(self) -> bool:
        if not self.paths.containerd_socket.exists():
            return False
        return self._ctr("version", check=False).returncode == 0

    def import_images(self, tarballs: Sequence[Path]) -> None:
        """Imports more docker-archives (e.g. the operator's image) into the running node."""
        if self.lease is None or not self._containerd_ready():
            raise NodeUnavailable("the real node is not running: start the cluster first")
        self._import_images(list(tarballs))

    def _import_images(self, tarballs: list[Path]) -> None:
        """Imports only tarballs that changed since the last start of this slot."""
        mark = self.paths.containerd_root / IMPORTED_MARK
        try:
            imported: dict[str, str] = json.loads(mark.read_text())
        except (OSError, ValueError):
            imported = {}
        present = set(self._ctr("images", "ls", "-q").stdout.split())
        for tarball in tarballs:
            stat = tarball.stat()
            key = f"{stat.st_size}:{stat.st_mtime_ns}"
            refs = imported.get(str(tarball), "").split(" ")
            if refs[0] == key and all(ref in present for ref in refs[1:]):
                continue
            started = time.monotonic()
            before = set(self._ctr("images", "ls", "-q").stdout.split())
            self._ctr("images", "import", str(tarball))
            after = set(self._ctr("images", "ls", "-q").stdout.split())
            imported[str(tarball)] = " ".join([key, *sorted(after - before)])
            self.log(f"[localcluster] imported {tarball.name} in {time.monotonic() - started:.1f}s")
            mark.write_text(json.dumps(imported, indent=1))

    # -- stopping ------------------------------------------------------------------------

    def stop_workloads(self) -> None:
        """With the kubelet stopped: kill and remove every container (containerd up)."""
        if self.lease is None or not self._containerd_ready():
            return
        for _ in range(3):
            tasks = self._ctr("tasks", "ls", "-q", check=False).stdout.split()
            for task in tasks:
                self._ctr("tasks", "kill", "-s", "SIGKILL", "--all", task, check=False)
            for task in tasks:
                self._ctr("tasks", "delete", "-f", task, check=False)
            containers = self._ctr("containers", "ls", "-q", check=False).stdout.split()
            for container in containers:
                self._ctr("containers", "delete", container, check=False)
            if not tasks and not containers:
                return

    def teardown(self) -> None:
        """After every daemon stopped: mounts, cgroups, the netns, host settings, the slot."""
        if self.lease is None:
            return
        cleanup_slot(self.network, self.log)
        if self._host_changed and not other_slots_active(self.lease):
            changed = host.restore_sysctls(SYSCTL_RECORD)
            if changed:
                self.log(f"[localcluster] restored host settings {changed}")
        (self.data_dir / "slot").unlink(missing_ok=True)
        self.lease.release()
        self.lease = None


def cleanup_slot(network: SlotNetwork, log: Callable[[str], None] = print) -> None:
    """Removes whatever a node of this slot left: shim processes, mounts, its cgroup, the
    netns (with it the bridge, veths and every iptables rule the node made) and the host
    end of the link. Only for the slot's holder (the lock proves nobody else runs it)."""
    paths = node_paths(network)
    # containerd shims outlive containerd; their command line names our socket.
    for pid in host.pids_whose_cmdline_has(str(paths.containerd_state)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    host.remove_cgroup(paths.cgroup_root)
    unmounted = host.unmount_all(
        [paths.containerd_state, paths.containerd_root, paths.kubelet_root, paths.pod_logs]
    )
    if unmounted:
        log(f"[localcluster] unmounted {len(unmounted)} mounts of slot {network.slot}")
    if (NETNS_DIR / network.netns).exists():
        _run("ip", "netns", "delete", network.netns, check=False)
    if Path(f"/sys/class/net/{network.host_link}").exists():
        _run("ip", "link", "delete", network.host_link, check=False)
    # Pods, logs and kubelet state are per run; images (containerd's root) are kept.
    for d in (paths.kubelet_root, paths.pod_logs, paths.containerd_state, paths.cni_conf_dir):
        shutil.rmtree(d, ignore_errors=True)


def _http_ok(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False
