"""The operator's image, built from the repository's Dockerfile by buildah (no daemon), on a
Python base image built here from Debian packages and passed as the Dockerfile's PYTHON_IMAGE.

The Dockerfile stays the one `docker build` uses elsewhere; only the base differs: bookworm's
python3 in a venv first on PATH, so `python -m pip` installs where the official python image's
would and `locust-operator` lands on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .archive import ImageConfig, retag_docker_archive, write_docker_archive
from .cache import cache_root, cached_tarball, input_key
from .debian import (
    CLEANUP_HOOK,
    LEAN_DPKG_OPTIONS,
    SOURCES,
    ensure_host_packages,
    mmdebstrap_rootfs,
)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]

OPERATOR_IMAGE = "locust-k8s-operator:dev"
PYTHON_BASE_IMAGE = "localhost/python-base:3.11-bookworm"
# What the build reads (the .dockerignore lets only these into the context).
BUILD_INPUTS = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "src")
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

_VENV = "/opt/python"
_BASE_HOOKS = (
    f'chroot "$1" env -i PATH=/usr/bin:/bin python3 -m venv {_VENV}',
    f'chroot "$1" {_VENV}/bin/python --version',
)
PYTHON_BASE_CONFIG = ImageConfig(
    entrypoint=(),
    cmd=("python",),
    env=(
        f"PATH={_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG=C.UTF-8",
        # pip vendors its own CA list; the system bundle is the one builds can extend.
        f"PIP_CERT={HOST_CA_BUNDLE}",
    ),
)


def chart_app_version() -> str:
    """The tag the chart deploys by default (`image.tag` empty -> the chart's appVersion)."""
    for line in (
        (REPO_ROOT / "charts" / "locust-k8s-operator" / "Chart.yaml").read_text().splitlines()
    ):
        if line.startswith("appVersion:"):
            return line.split(":", 1)[1].strip().strip("\"'")
    raise RuntimeError("charts/locust-k8s-operator/Chart.yaml has no appVersion")


def operator_tags() -> tuple[str, ...]:
    return (OPERATOR_IMAGE, f"locust-k8s-operator:{chart_app_version()}")


def _base_key() -> str:
    return input_key(
        HERE / "operator.py",
        HERE / "debian.py",
        HERE / "archive.py",
        repr((PYTHON_BASE_IMAGE, PYTHON_BASE_CONFIG, SOURCES, LEAN_DPKG_OPTIONS, CLEANUP_HOOK)),
    )


def ensure_python_base(log: Callable[[str], None]) -> Path:
    def build(out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="image-python-base-") as work:
            rootfs = Path(work) / "rootfs.tar"
            mmdebstrap_rootfs(
                rootfs, ["python3", "python3-venv", "ca-certificates"], _BASE_HOOKS, log
            )
            write_docker_archive(out, [rootfs], (PYTHON_BASE_IMAGE,), PYTHON_BASE_CONFIG)

    return cached_tarball("python-base", _base_key(), build, log)


def operator_key(base: Path) -> str:
    return input_key(
        *(REPO_ROOT / name for name in BUILD_INPUTS),
        base.name,  # the base's own input key
        HERE / "operator.py",
        repr(operator_tags()),
    )


def _buildah(storage: Path) -> list[str]:
    # A private, throwaway store: vfs works on any file system (overlay on overlay does not).
    return [
        "buildah",
        "--root",
        str(storage / "root"),
        "--runroot",
        str(storage / "run"),
        "--storage-driver",
        "vfs",
    ]


def build_operator_image(base: Path, out: Path, log: Callable[[str], None]) -> None:
    storage = Path(tempfile.mkdtemp(prefix="buildah-", dir=cache_root()))
    try:
        buildah = _buildah(storage)
        subprocess.run([*buildah, "pull", "--quiet", f"docker-archive:{base}"], check=True)
        subprocess.run(
            [
                *buildah,
                "bud",
                "--isolation",
                "chroot",
                "--pull-never",
                "--layers=false",
                "--build-arg",
                f"PYTHON_IMAGE={PYTHON_BASE_IMAGE}",
                # The host's CA bundle for the build steps only (pip behind this machine's
                # egress proxy); the image keeps Debian's.
                "--volume",
                f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
                "--tag",
                OPERATOR_IMAGE,
                "--file",
                str(REPO_ROOT / "Dockerfile"),
                str(REPO_ROOT),
            ],
            check=True,
        )
        pushed = storage / "pushed.tar"
        subprocess.run(
            [
                *buildah,
                "push",
                "--quiet",
                OPERATOR_IMAGE,
                f"docker-archive:{pushed}:{OPERATOR_IMAGE}",
            ],
            check=True,
        )
        retag_docker_archive(pushed, out, operator_tags())
    finally:
        subprocess.run([*_buildah(storage), "rmi", "--all", "--force"], capture_output=True)
        shutil.rmtree(storage, ignore_errors=True)


def ensure_operator_image(log: Callable[[str], None] = print) -> Path:
    """The operator image's tarball (tags: OPERATOR_IMAGE and the chart's default), built from
    the Dockerfile when the Dockerfile, pyproject, README, src or the base changed."""
    ensure_host_packages(["buildah", "mmdebstrap"], log)
    base = ensure_python_base(log)
    return cached_tarball(
        "operator", operator_key(base), lambda out: build_operator_image(base, out, log), log
    )
