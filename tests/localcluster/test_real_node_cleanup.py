"""`make cluster` with the real node, then `make cluster-down`: a pod really ran (its
sandbox, mounts, cgroups, veth, iptables rules for a Service), and afterwards nothing of
ours is left on the host: no process, mount, network namespace or interface, cgroup,
iptables rule, and the kernel settings the kubelet changed are back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localcluster import host
from localcluster.network import SlotNetwork
from localcluster.node import node_paths
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.cluster


def _localcluster(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcluster", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT / "hack")),
        capture_output=True,
        text=True,
        timeout=900,
    )


def _kubectl(data_dir: Path, *args: str) -> str:
    bin_dir = Path(
        subprocess.run(
            ["bash", str(REPO_ROOT / "hack" / "build-tools.sh")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
    )
    return subprocess.run(
        [str(bin_dir / "kubectl"), f"--kubeconfig={data_dir / 'kubeconfig'}", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _iptables_rules() -> set[str]:
    rules = set()
    for tool in ("iptables-save", "ip6tables-save"):
        out = subprocess.run([tool], capture_output=True, text=True).stdout
        rules |= {line for line in out.splitlines() if line and line[0] in "-:"}
    return rules


def test_down_leaves_nothing_of_the_real_node_behind(tmp_path: Path) -> None:
    rules_before = _iptables_rules()
    settings_before = host.read_sysctls()
    data_dir = tmp_path / "cluster"
    up = _localcluster("up", f"--dir={data_dir}")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        net = SlotNetwork(int((data_dir / "slot").read_text()))
        paths = node_paths(net)
        _kubectl(
            data_dir,
            "run",
            "sleeper",
            "--image=registry.k8s.io/pause:3.10",
            "--image-pull-policy=Never",
            "--port=80",
        )
        _kubectl(data_dir, "expose", "pod", "sleeper", "--port=80")
        _kubectl(data_dir, "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s")
        pod = json.loads(_kubectl(data_dir, "get", "pod", "sleeper", "-o=json"))
        assert pod["spec"]["nodeName"] == "real-node"
        assert pod["status"]["podIP"].startswith(net.prefix)
        # It ran: a sandbox netns, rootfs mounts and the pod's cgroup exist right now.
        assert host.mounts_under([paths.containerd_state])
        assert Path(f"/run/netns/{net.netns}").exists()
        assert any(
            (h / paths.cgroup_root.strip("/") / "kubepods").is_dir()
            for h in host.cgroup_hierarchies()
        )
    finally:
        down = _localcluster("down", f"--dir={data_dir}")
    assert down.returncode == 0, down.stderr

    deadline = time.monotonic() + 30
    while host.pids_whose_cmdline_has(str(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert host.pids_whose_cmdline_has(str(data_dir)) == []
    assert host.pids_whose_cmdline_has(str(paths.containerd_state)) == []  # shims
    assert (
        host.mounts_under([paths.containerd_state, paths.containerd_root, paths.kubelet_root]) == []
    )
    assert not Path(f"/run/netns/{net.netns}").exists()
    assert not Path(f"/sys/class/net/{net.host_link}").exists()
    assert not any((h / paths.cgroup_root.strip("/")).exists() for h in host.cgroup_hierarchies())
    assert _iptables_rules() - rules_before == set()
    assert host.read_sysctls() == settings_before
