"""The addresses and names of one real node, derived from its slot number alone.

Each local cluster with a real node owns a slot (see slots.py). The node's kubelet,
kube-proxy, containerd and pods live in a network namespace of their own, joined to the
host by one veth pair, so two clusters never share a bridge, an iptables chain or a
subnet. Nothing routes from that namespace off the machine: it has no default route,
only the link to the host, and the CNI bridge masquerades nothing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

MAX_SLOTS = 16
# 10.160.0.0/12 split into one /16 per slot; a slot whose /16 is already routed on the host
# (someone else's network) is skipped, see slots.py.
FIRST_OCTET, SECOND_OCTET_BASE = 10, 160
NODE_NAME = "real-node"


@dataclass(frozen=True)
class SlotNetwork:
    slot: int

    def __post_init__(self) -> None:
        if not 0 <= self.slot < MAX_SLOTS:
            raise ValueError(f"slot must be within 0..{MAX_SLOTS - 1}, got {self.slot}")

    @property
    def prefix(self) -> str:
        return f"{FIRST_OCTET}.{SECOND_OCTET_BASE + self.slot}"

    @property
    def block(self) -> ipaddress.IPv4Network:
        """Everything this slot uses; the host must not route any of it already."""
        return ipaddress.IPv4Network(f"{self.prefix}.0.0/16")

    @property
    def netns(self) -> str:
        return f"lko-{self.slot}"

    @property
    def host_link(self) -> str:
        """The host end of the veth pair (at most 15 characters, as Linux requires)."""
        return f"lko{self.slot}"

    node_link = "eth0"
    bridge = "cni0"

    @property
    def host_ip(self) -> str:
        """The host's address on the link: apiserver and cluster DNS listen here."""
        return f"{self.prefix}.255.1"

    @property
    def node_ip(self) -> str:
        return f"{self.prefix}.255.2"

    link_prefix_len = 30

    @property
    def pod_cidr(self) -> str:
        return f"{self.prefix}.0.0/20"

    @property
    def service_cidr(self) -> str:
        return f"{self.prefix}.16.0/20"

    @property
    def kubernetes_service_ip(self) -> str:
        """The first address of the Service range, which the apiserver gives `kubernetes`."""
        return f"{self.prefix}.16.1"

    @property
    def fake_pod_cidr(self) -> str:
        """kwok's pod addresses: inside the slot, apart from the real pods'."""
        return f"{self.prefix}.64.0/18"

    @property
    def dns_ip(self) -> str:
        return self.host_ip

    def cni_conflist(self) -> dict[str, Any]:
        """bridge + host-local + portmap + loopback; no ipMasq: pods talk only to the
        node, each other and the host end of the link."""
        return {
            "cniVersion": "0.4.0",
            "name": f"lko-{self.slot}",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.pod_cidr}]],
                        # No default route: the host end and Services, nothing else.
                        "routes": [{"dst": f"{self.host_ip}/32"}, {"dst": self.service_cidr}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
