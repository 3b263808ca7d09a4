"""The Locust image: bookworm's python3 with a venv holding the pinned Locust and its
OpenTelemetry extra, laid out like the official locustio/locust image."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from .archive import ImageConfig, write_docker_archive
from .cache import cached_tarball, input_key
from .debian import CLEANUP_HOOK, LEAN_DPKG_OPTIONS, SOURCES, mmdebstrap_rootfs

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "locust-requirements.txt"
LOCUST_VERSION = "2.47.0"

# The tags pods ask for. Besides this Locust's own, the versions named by the FAQ, the users'
# manifests of the compatibility suite and our docs and demo: on the local cluster they all
# run this Locust, as local stand-ins (no registry is reachable to pull the real ones).
LOCUST_TAGS = tuple(
    f"locustio/locust:{tag}"
    for tag in (LOCUST_VERSION, "latest", "2.44.0", "2.43.1", "2.32.0", "2.20.0")
)

VENV = "/opt/venv"
# The official image's user: its name is "locust"; numeric here so runAsNonRoot can verify it.
USER_ID = 1000
HOME = "/home/locust"

_CHROOT = 'chroot "$1" env -i PATH=/usr/bin:/bin HOME=/root PIP_NO_CACHE_DIR=1'
_HOOKS = (
    # The path comes through the environment: the cache key must not hold this checkout's path.
    'cp "$LOCUST_REQUIREMENTS" "$1/tmp/requirements.txt"',
    f"{_CHROOT} python3 -m venv {VENV}",
    f"{_CHROOT} PIP_CERT=/tmp/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "
    f"{VENV}/bin/pip install --quiet --no-deps --only-binary=:all: -r /tmp/requirements.txt",
    f"{_CHROOT} {VENV}/bin/pip check",
    f"{_CHROOT} {VENV}/bin/locust --version",
    # The OpenTelemetry SDK must import, or Locust only logs that it is not installed.
    f"{_CHROOT} {VENV}/bin/python -c 'import opentelemetry.sdk, "
    "opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http'",
    f'echo "locust:x:{USER_ID}:{USER_ID}::{HOME}:/bin/sh" >> "$1/etc/passwd"',
    f'echo "locust:x:{USER_ID}:" >> "$1/etc/group"',
    f'mkdir -p "$1{HOME}" && chown {USER_ID}:{USER_ID} "$1{HOME}"',
)

LOCUST_CONFIG = ImageConfig(
    entrypoint=("locust",),
    env=(
        f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONUNBUFFERED=1",
    ),
    working_dir=HOME,
    user=f"{USER_ID}:{USER_ID}",
    exposed_ports=(8089, 5557),
)


def locust_key() -> str:
    return input_key(
        REQUIREMENTS,
        HERE / "locust.py",
        HERE / "debian.py",
        HERE / "archive.py",
        repr((LOCUST_TAGS, LOCUST_CONFIG, SOURCES, LEAN_DPKG_OPTIONS, CLEANUP_HOOK, _HOOKS)),
    )


def ensure_locust_image(log: Callable[[str], None]) -> Path:
    def build(out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="image-locust-") as work:
            rootfs = Path(work) / "rootfs.tar"
            mmdebstrap_rootfs(
                rootfs,
                ["python3", "python3-venv", "ca-certificates"],
                _HOOKS,
                log,
                hook_env={"LOCUST_REQUIREMENTS": str(REQUIREMENTS)},
            )
            write_docker_archive(out, [rootfs], LOCUST_TAGS, LOCUST_CONFIG)

    return cached_tarball("locust", locust_key(), build, log)
