"""Configuration files of the real node's daemons, as pure functions of its paths and
addresses (unit-tested; node.py writes them and runs the daemons)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .network import NODE_NAME, SlotNetwork

KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248
PROXY_HEALTHZ_PORT = 10256
PROXY_METRICS_PORT = 10249
DNS_HEALTH_PORT = 8054
CLUSTER_DOMAIN = "cluster.local"
NODE_LABEL = ("locust-k8s-operator.local/node", "real")


@dataclass(frozen=True)
class NodePaths:
    containerd_root: Path  # kept per slot across restarts: imported images stay
    containerd_state: Path
    kubelet_root: Path
    pod_logs: Path
    cni_conf_dir: Path
    config_dir: Path
    cgroup_root: str  # the kubelet's; one per slot so two kubelets never share kubepods

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_state / "containerd.sock"


def containerd_config(paths: NodePaths, sandbox_image: str) -> str:
    """containerd 1.6 (config version 2), with every host path inside the node's dirs."""
    sock = paths.containerd_socket
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    lines = [
        "version = 2",
        f'root = "{paths.containerd_root}"',
        f'state = "{paths.containerd_state}"',
        "disabled_plugins = ["
        + ", ".join(
            f'"io.containerd.snapshotter.v1.{name}"'
            for name in ("aufs", "btrfs", "devmapper", "zfs")
        )
        + "]",
        "[grpc]",
        f'  address = "{sock}"',
        "[ttrpc]",
        f'  address = "{sock}.ttrpc"',
        "[debug]",
        '  address = ""',
        "[metrics]",
        '  address = ""',
        f"[{cri}]",
        f'  sandbox_image = "{sandbox_image}"',
        # The VM lacks CAP_SYS_RESOURCE: a negative oom_score_adj fails every sandbox.
        "  restrict_oom_score_adj = true",
        # Pod network namespaces under our state dir, not /var/run/netns: easy to clean.
        "  netns_mounts_under_state_dir = true",
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        "  disable_apparmor = true",
        f"[{cri}.cni]",
        '  bin_dir = "/usr/lib/cni"',
        f'  conf_dir = "{paths.cni_conf_dir}"',
        f"[{cri}.containerd]",
        '  snapshotter = "overlayfs"',
        '  default_runtime_name = "runc"',
        f"[{cri}.containerd.runtimes.runc]",
        '  runtime_type = "io.containerd.runc.v2"',
        f"[{cri}.containerd.runtimes.runc.options]",
        f'  Root = "{paths.containerd_state / "runc"}"',
        "  SystemdCgroup = false",
        '[plugins."io.containerd.internal.v1.opt"]',
        f'  path = "{paths.containerd_root / "opt"}"',
    ]
    return "\n".join(lines) + "\n"


def kubelet_config(paths: NodePaths, network: SlotNetwork, client_ca: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": network.node_ip,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": network.node_ip,
        "healthzPort": KUBELET_HEALTHZ_PORT,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        # containerd 1.6 has no RuntimeConfig call to tell the kubelet its driver.
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": paths.cgroup_root,
        "failCgroupV1": False,
        "failSwapOn": False,
        "clusterDNS": [network.dns_ip],
        "clusterDomain": CLUSTER_DOMAIN,
        "containerRuntimeEndpoint": f"unix://{paths.containerd_socket}",
        "podLogsDir": str(paths.pod_logs),
        "podCIDR": network.pod_cidr,
        "staticPodPath": "",
        "serializeImagePulls": False,
        # Images are imported, never pulled: never garbage-collect them.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "registerNode": True,
        "maxPods": 110,
        "shutdownGracePeriod": "0s",
        "localStorageCapacityIsolation": True,
    }


def kube_proxy_config(network: SlotNetwork, kubeconfig: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "bindAddress": network.node_ip,
        "clusterCIDR": network.pod_cidr,
        "healthzBindAddress": f"{network.node_ip}:{PROXY_HEALTHZ_PORT}",
        "metricsBindAddress": f"{network.node_ip}:{PROXY_METRICS_PORT}",
        # Zero leaves the host-wide conntrack table size and timeouts as they are.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
            "udpTimeout": "0s",
            "udpStreamTimeout": "0s",
        },
        # true would set route_localnet for NodePorts on 127.0.0.1.
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
        "nodePortAddresses": [f"{network.node_ip}/32"],
    }


def corefile(network: SlotNetwork, kubeconfig: Path) -> str:
    """Cluster DNS on the host end of the node link; no forwarding off the machine."""
    return (
        f".:53 {{\n"
        f"    bind {network.dns_ip}\n"
        f"    health {network.dns_ip}:{DNS_HEALTH_PORT}\n"
        f"    errors\n"
        f"    cache 5\n"
        f"    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{\n"
        f"        kubeconfig {kubeconfig} local\n"
        f"        pods insecure\n"
        f"        ttl 5\n"
        f"    }}\n"
        f"}}\n"
    )


def to_yaml(document: dict[str, Any]) -> str:
    """JSON is YAML: the kubelet and kube-proxy read it as their config file."""
    return json.dumps(document, indent=2) + "\n"
