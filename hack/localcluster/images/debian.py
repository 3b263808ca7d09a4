"""Debian pieces of the image builds: the host packages they need and bookworm root filesystems."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

SUITE = "bookworm"
# deb.debian.org with security updates: package versions follow bookworm's point releases,
# the suite name is what the cache keys carry.
SOURCES = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
# Docs, man pages and translations are never read in a container.
LEAN_DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
)
# What a root filesystem must not keep: package lists and caches, logs, the build's temp files.
CLEANUP_HOOK = (
    'rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/* "$1"/tmp/* '
    '"$1"/root/.cache "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old; '
    'rm -f "$1"/etc/resolv.conf "$1"/etc/machine-id; touch "$1"/etc/machine-id'
)


def _installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return result.returncode == 0 and result.stdout.endswith(" installed")


def ensure_host_packages(packages: Sequence[str], log: Callable[[str], None]) -> None:
    """apt-get installs the packages that are missing (apt-get update only then)."""
    missing = [package for package in packages if not _installed(package)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            f"the image builds need the Debian packages {', '.join(missing)} and this machine "
            "has no apt-get: install them (or their equivalents) by hand"
        )
    command = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    log(f"[images] installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*command, "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        [*command, "install", "-y", "-q", "--no-install-recommends", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def mmdebstrap_rootfs(
    out: Path,
    include: Sequence[str],
    hooks: Sequence[str],
    log: Callable[[str], None],
    hook_env: Mapping[str, str] | None = None,
) -> None:
    """A minbase bookworm root filesystem with `include`, customized by the shell `hooks`
    (each run with the root directory as $1 and `hook_env` in its environment), written as
    an uncompressed tarball to `out`.

    The hooks run with the host's DNS configuration and CA bundle in the root filesystem, so
    pip can reach the package index; both are removed at the end, with caches and logs.
    """
    if os.geteuid() != 0:
        raise RuntimeError("building the Debian-based images needs root (mmdebstrap --mode=root)")
    ensure_host_packages(["mmdebstrap"], log)
    ca_bundle = "/etc/ssl/certs/ca-certificates.crt"
    setup = [
        'cp /etc/resolv.conf "$1/etc/resolv.conf"',
        f'cp {ca_bundle} "$1/tmp/host-ca.crt"',
    ]
    command = [
        "mmdebstrap",
        "--quiet",
        "--mode=root",
        "--variant=minbase",
        "--format=tar",
        "--skip=output/dev",
        # Merged /usr via usr-is-merged rather than the usrmerge package, which pulls in
        # perl (about 45 MB) that nothing in the images uses.
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        f"--include={','.join(include)}",
        *(f"--dpkgopt={option}" for option in LEAN_DPKG_OPTIONS),
        *(f"--customize-hook={hook}" for hook in (*setup, *hooks, CLEANUP_HOOK)),
        SUITE,
        str(out),
        *SOURCES,
    ]
    # A fixed SOURCE_DATE_EPOCH makes mmdebstrap clamp every timestamp in the tarball.
    env = {**os.environ, **(hook_env or {}), "SOURCE_DATE_EPOCH": "0"}
    subprocess.run(command, check=True, env=env)
