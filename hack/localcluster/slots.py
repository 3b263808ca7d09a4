"""One slot per local cluster with a real node, so clusters on one machine never share a
subnet, a network namespace or a containerd.

A slot is held by an exclusive flock on /run/locust-k8s-operator/slot-N.lock for as long
as the process running the cluster lives; the kernel drops the lock when it dies, so a
crashed cluster frees its slot (its leftovers are cleaned by the next owner).
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .network import MAX_SLOTS, SlotNetwork

LOCK_DIR = Path(os.environ.get("LOCALCLUSTER_RUN_DIR", "/run/locust-k8s-operator"))

Route = tuple[ipaddress.IPv4Network, str]  # destination, device


class NoFreeSlot(RuntimeError):
    """Every slot is held by another local cluster or overlaps a network of the host."""


@dataclass
class SlotLease:
    network: SlotNetwork
    lock_path: Path
    fd: int

    @property
    def run_dir(self) -> Path:
        """Short per-slot paths (sockets must stay under 108 characters)."""
        return LOCK_DIR / f"slot-{self.network.slot}"

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1


def foreign_routes(network: SlotNetwork, routes: Iterable[Route]) -> list[Route]:
    """Host routes overlapping the slot's addresses that are not this slot's own link
    (a crashed cluster's leftover link is ours to clean, not a reason to skip the slot)."""
    return [
        (dst, dev)
        for dst, dev in routes
        if dst.prefixlen > 0 and dst.overlaps(network.block) and dev != network.host_link
    ]


def host_routes() -> list[Route]:
    output = subprocess.run(
        ["ip", "-j", "-4", "route", "show", "table", "all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    routes: list[Route] = []
    for entry in json.loads(output or "[]"):
        dst = entry.get("dst", "")
        if dst in ("default", "") or ":" in dst:
            continue
        try:
            routes.append((ipaddress.IPv4Network(dst, strict=False), str(entry.get("dev", ""))))
        except ValueError:
            continue
    return routes


def owner_of(lock_path: Path) -> str:
    try:
        return lock_path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def acquire_slot(owner: str, routes: Callable[[], list[Route]] = host_routes) -> SlotLease:
    """The first free slot, locked for ``owner`` (a description naming the cluster)."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    taken: list[str] = []
    for slot in range(MAX_SLOTS):
        network = SlotNetwork(slot)
        path = LOCK_DIR / f"slot-{slot}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            taken.append(f"slot {slot}: {owner_of(path)}")
            continue
        foreign = foreign_routes(network, routes())
        if foreign:
            os.close(fd)
            dst, dev = foreign[0]
            taken.append(f"slot {slot}: the host already routes {dst} via {dev}")
            continue
        os.ftruncate(fd, 0)
        os.write(fd, owner.encode())
        return SlotLease(network, path, fd)
    raise NoFreeSlot(
        "no free slot for a real node; stop another local cluster (make cluster-down in its "
        "checkout) or start without the real node. Slots:\n  " + "\n  ".join(taken)
    )


def other_slots_active(own: SlotLease) -> bool:
    """Whether another cluster holds a slot right now (probing each lock without waiting)."""
    for slot in range(MAX_SLOTS):
        path = LOCK_DIR / f"slot-{slot}.lock"
        if slot == own.network.slot or not path.exists():
            continue
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
    return False
