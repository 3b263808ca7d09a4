"""The real node's plan, without running it: per-slot addresses that never overlap,
slot allocation that refuses clearly, daemon configs with the settings this machine kind
needs, and the host bookkeeping that `down` relies on."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from localcluster import host, slots
from localcluster.network import MAX_SLOTS, SlotNetwork
from localcluster.node import node_paths
from localcluster.nodeconfig import (
    containerd_config,
    corefile,
    kube_proxy_config,
    kubelet_config,
)


def test_slots_never_share_an_address_or_a_name() -> None:
    networks = [SlotNetwork(s) for s in range(MAX_SLOTS)]
    blocks = [n.block for n in networks]
    for i, a in enumerate(blocks):
        for b in blocks[i + 1 :]:
            assert not a.overlaps(b)
    assert len({n.netns for n in networks}) == MAX_SLOTS
    assert len({n.host_link for n in networks}) == MAX_SLOTS
    assert all(len(n.host_link) <= 15 for n in networks)


def test_a_slot_keeps_pods_services_fake_pods_and_the_link_apart() -> None:
    net = SlotNetwork(3)
    ranges = [
        ipaddress.IPv4Network(net.pod_cidr),
        ipaddress.IPv4Network(net.service_cidr),
        ipaddress.IPv4Network(net.fake_pod_cidr),
        ipaddress.IPv4Network(f"{net.host_ip}/{net.link_prefix_len}", strict=False),
    ]
    for i, a in enumerate(ranges):
        assert a.subnet_of(net.block)
        for b in ranges[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    assert ipaddress.IPv4Address(net.kubernetes_service_ip) in ranges[1]
    assert ipaddress.IPv4Address(net.node_ip) in ranges[3]


def test_slot_numbers_outside_the_range_are_refused() -> None:
    with pytest.raises(ValueError, match="slot must be within"):
        SlotNetwork(MAX_SLOTS)


def test_pods_get_no_default_route_and_no_masquerade() -> None:
    net = SlotNetwork(0)
    bridge = net.cni_conflist()["plugins"][0]
    assert bridge["ipMasq"] is False
    assert not bridge.get("isDefaultGateway")
    routes = [r["dst"] for r in bridge["ipam"]["routes"]]
    assert "0.0.0.0/0" not in routes
    assert routes == [f"{net.host_ip}/32", net.service_cidr]


def test_a_host_route_into_the_slot_is_foreign_unless_it_is_our_own_link() -> None:
    net = SlotNetwork(2)
    routes = [
        (ipaddress.IPv4Network("192.0.2.0/24"), "eth0"),
        (ipaddress.IPv4Network(net.pod_cidr), net.host_link),  # a crashed run of ours
    ]
    assert slots.foreign_routes(net, routes) == []
    theirs = (ipaddress.IPv4Network("10.162.0.0/24"), "docker0")
    assert slots.foreign_routes(net, [*routes, theirs]) == [theirs]


def test_slots_held_by_others_are_skipped_and_all_taken_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slots, "LOCK_DIR", tmp_path)
    first = slots.acquire_slot("cluster A", routes=list)
    second = slots.acquire_slot("cluster B", routes=list)
    assert (first.network.slot, second.network.slot) == (0, 1)
    assert slots.other_slots_active(first)
    held = [first, second]
    held += [slots.acquire_slot(f"cluster {i}", routes=list) for i in range(2, MAX_SLOTS)]
    with pytest.raises(slots.NoFreeSlot) as refused:
        slots.acquire_slot("cluster Z", routes=list)
    assert "slot 0: cluster A" in str(refused.value)
    assert "make cluster-down" in str(refused.value)
    first.release()
    again = slots.acquire_slot("cluster C", routes=list)
    assert again.network.slot == 0
    for lease in [again, *held[1:]]:
        lease.release()


def test_a_slot_whose_addresses_the_host_routes_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slots, "LOCK_DIR", tmp_path)
    busy = [(ipaddress.IPv4Network("10.160.0.0/16"), "br-other")]
    lease = slots.acquire_slot("me", routes=lambda: busy)
    assert lease.network.slot == 1
    lease.release()


def test_containerd_keeps_every_path_in_the_slot_and_works_on_this_kernel() -> None:
    paths = node_paths(SlotNetwork(5))
    config = containerd_config(paths, "localhost/pause:1")
    assert "restrict_oom_score_adj = true" in config  # no CAP_SYS_RESOURCE in the VM
    assert "netns_mounts_under_state_dir = true" in config
    assert f'address = "{paths.containerd_socket}"' in config
    assert 'sandbox_image = "localhost/pause:1"' in config
    assert "/var/lib/containerd" not in config and "/run/containerd" not in config
    assert len(str(paths.containerd_socket)) < 100  # unix socket path limit


def test_kubelet_and_kube_proxy_settings_this_machine_needs() -> None:
    net = SlotNetwork(1)
    paths = node_paths(net)
    kubelet = kubelet_config(paths, net, Path("ca.crt"))
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["failCgroupV1"] is False and kubelet["failSwapOn"] is False
    assert kubelet["clusterDNS"] == [net.dns_ip]
    assert kubelet["cgroupRoot"] != node_paths(SlotNetwork(2)).cgroup_root
    assert kubelet["authentication"]["anonymous"]["enabled"] is False
    proxy = kube_proxy_config(net, Path("kp.kubeconfig"))
    assert proxy["mode"] == "iptables"
    assert proxy["conntrack"]["maxPerCore"] == 0
    assert proxy["iptables"]["localhostNodePorts"] is False


def test_cluster_dns_answers_only_for_the_cluster() -> None:
    text = corefile(SlotNetwork(0), Path("kc"))
    assert "bind 10.160.255.1" in text
    assert "kubernetes cluster.local" in text
    assert "forward" not in text


def test_missing_packages_are_named_once(tmp_path: Path) -> None:
    assert host.missing_packages(exists=lambda _p: True) == []
    missing = host.missing_packages(exists=lambda p: "containerd" not in p)
    assert missing == ["containerd"]


def test_host_settings_are_recorded_once_and_restored(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "vm").mkdir(parents=True)
    (proc / "vm" / "overcommit_memory").write_text("0\n")
    record = tmp_path / "run" / "record.json"
    host.record_sysctls(record, root=proc)
    (proc / "vm" / "overcommit_memory").write_text("1\n")  # what the kubelet does
    host.record_sysctls(record, root=proc)  # a second node must not record the changed value
    assert json.loads(record.read_text())["vm/overcommit_memory"] == "0"
    assert host.restore_sysctls(record, root=proc) == {"vm/overcommit_memory": "0"}
    assert (proc / "vm" / "overcommit_memory").read_text() == "0"
    assert not record.exists()


def test_mounts_are_found_under_our_dirs_only_deepest_first() -> None:
    mountinfo = "\n".join(
        [
            "1 0 8:0 / / rw - ext4 /dev/vda rw",
            "2 1 0:1 / /run/lko/slot-0/containerd rw - tmpfs tmpfs rw",
            "3 2 0:2 / /run/lko/slot-0/containerd/io/k8s.io/abc/rootfs rw - overlay o rw",
            "4 1 0:3 / /run/lko/slot-10 rw - tmpfs tmpfs rw",
            "5 1 0:4 / /var/lib/kubelet/pods/x/volumes rw - tmpfs tmpfs rw",
        ]
    )
    found = host.mounts_under([Path("/run/lko/slot-0")], mountinfo)
    assert found == [
        Path("/run/lko/slot-0/containerd/io/k8s.io/abc/rootfs"),
        Path("/run/lko/slot-0/containerd"),
    ]


def test_cgroup_hierarchies_are_read_from_mountinfo() -> None:
    mountinfo = "\n".join(
        [
            "30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
            "31 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
            "32 25 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw",
        ]
    )
    assert host.cgroup_hierarchies(mountinfo) == [
        Path("/sys/fs/cgroup/cpu"),
        Path("/sys/fs/cgroup/unified"),
    ]
