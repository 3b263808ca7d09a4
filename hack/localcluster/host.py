"""What a real node needs from, and changes on, the host: Debian packages, kernel settings
the kubelet rewrites, mounts and cgroups it leaves. Each change is recorded so that
stopping the cluster puts the host back as it was."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

# What the node runs, by the file that proves the Debian package is installed.
REQUIRED_PACKAGES: dict[str, str] = {
    "/usr/bin/containerd": "containerd",
    "/usr/sbin/runc": "runc",
    "/usr/lib/cni/bridge": "containernetworking-plugins",
    "/usr/sbin/iptables": "iptables",
    "/usr/sbin/conntrack": "conntrack",
    "/usr/sbin/ip": "iproute2",
}
CNI_BIN_DIR = Path("/usr/lib/cni")

# Host-wide settings the kubelet sets at start (kernel tunables it "protects"); the
# network ones it and kube-proxy touch live in the node's network namespace instead.
KUBELET_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
PROC_SYS = Path("/proc/sys")


def missing_packages(exists: Callable[[str], bool] = os.path.exists) -> list[str]:
    return sorted({pkg for path, pkg in REQUIRED_PACKAGES.items() if not exists(path)})


def ensure_packages(log: Callable[[str], None]) -> None:
    """apt-get installs what is missing; costs one stat per package when all are present."""
    missing = missing_packages()
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            f"the real node needs the Debian packages {', '.join(missing)} and apt-get is not "
            "available; install them, or start the cluster without the real node"
        )
    log(f"[localcluster] installing {' '.join(missing)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )
    still = missing_packages()
    if still:
        raise RuntimeError(f"apt-get did not install {', '.join(still)}")


# -- kernel settings ---------------------------------------------------------------------


def read_sysctls(names: Iterable[str] = KUBELET_SYSCTLS, root: Path = PROC_SYS) -> dict[str, str]:
    values = {}
    for name in names:
        with contextlib.suppress(OSError):
            values[name] = (root / name).read_text().strip()
    return values


def record_sysctls(record: Path, root: Path = PROC_SYS) -> None:
    """Keeps the values from before the first running node (later nodes find the record)."""
    if record.exists():
        return
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_suffix(".partial")
    partial.write_text(json.dumps(read_sysctls(root=root), indent=1))
    partial.rename(record)


def restore_sysctls(record: Path, root: Path = PROC_SYS) -> dict[str, str]:
    """Writes the recorded values back and forgets the record; returns what it changed."""
    try:
        recorded: dict[str, str] = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    changed = {}
    current = read_sysctls(recorded, root=root)
    for name, value in recorded.items():
        if current.get(name) != value:
            with contextlib.suppress(OSError):
                (root / name).write_text(value)
                changed[name] = value
    record.unlink(missing_ok=True)
    return changed


# -- mounts ------------------------------------------------------------------------------


def mounts_under(roots: Iterable[Path], mountinfo: str | None = None) -> list[Path]:
    """Mount points at or below ``roots``, deepest first (the order to unmount them)."""
    if mountinfo is None:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    prefixes = [str(r).rstrip("/") for r in roots]
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        # mountinfo escapes spaces and the like as octal (\040).
        point = fields[4].encode().decode("unicode_escape")
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            found.append(Path(point))
    return sorted(set(found), key=lambda p: (len(p.parts), str(p)), reverse=True)


def unmount_all(roots: Iterable[Path]) -> list[Path]:
    unmounted = []
    for point in mounts_under(roots):
        result = subprocess.run(["umount", "-l", str(point)], capture_output=True)
        if result.returncode == 0:
            unmounted.append(point)
    return unmounted


def overlay_works(directory: Path) -> str | None:
    """None when overlayfs mounts inside ``directory`` (containerd's snapshotter needs it),
    else the reason."""
    probe = directory / ".overlay-probe"
    shutil.rmtree(probe, ignore_errors=True)
    dirs = {name: probe / name for name in ("lower", "upper", "work", "merged")}
    for d in dirs.values():
        d.mkdir(parents=True)
    options = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}"
    result = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(dirs["merged"])],
        capture_output=True,
        text=True,
    )
    if result.returncode == 0:
        subprocess.run(["umount", str(dirs["merged"])], check=False)
    shutil.rmtree(probe, ignore_errors=True)
    return None if result.returncode == 0 else (result.stderr.strip() or "mount failed")


# -- cgroups -----------------------------------------------------------------------------


def cgroup_hierarchies(mountinfo: str | None = None) -> list[Path]:
    """Mount points of every cgroup (v1) and cgroup2 hierarchy."""
    if mountinfo is None:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    found = []
    for line in mountinfo.splitlines():
        before, _, after = line.partition(" - ")
        fstype = after.split(" ", 1)[0]
        if fstype in ("cgroup", "cgroup2"):
            found.append(Path(before.split()[4]))
    return found


def create_cgroup(name: str) -> None:
    """The kubelet's cgroupRoot must exist in every hierarchy before it starts."""
    for hierarchy in cgroup_hierarchies():
        with contextlib.suppress(OSError):
            (hierarchy / name.strip("/")).mkdir(exist_ok=True)


def remove_cgroup(name: str) -> list[int]:
    """Kills whatever still runs inside the cgroup (only our pods' processes can) and
    removes it, deepest first; returns the pids it had to kill."""
    killed: list[int] = []
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / name.strip("/")
        if not top.is_dir():
            continue
        dirs = sorted(
            (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        )
        for d in [*dirs, top]:
            with contextlib.suppress(OSError):
                for pid in (d / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), 9)
                        killed.append(int(pid))
        for d in [*dirs, top]:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)  # a killed process leaves its cgroup a moment later
    return killed


# -- processes ---------------------------------------------------------------------------


def pids_whose_cmdline_has(needle: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if needle in cmdline and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found
