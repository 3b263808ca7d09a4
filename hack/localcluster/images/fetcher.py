"""The test-source fetcher image (also the in-cluster git server of the source tests).

A bookworm minbase with git, openssh-client, python3 (the Locust image's: the same 3.11, so
what pip installs for the fetcher imports in Locust) and a venv holding pip, plus:

- ``/opt/locust-fetcher/sourcefetch.py`` (src/locust_operator/sourcefetch.py), the
  entrypoint: the init container the operator adds for a git or archive test source;
- ``/git-server`` (hack/images/cmd/git-server), a git smart-HTTP and file server the e2e
  tests run in a pod (``command: [/git-server]``): it needs git, so it lives here.

One image, two tags; it runs as the Locust image's user (1000).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from .archive import ImageConfig, write_docker_archive, write_files_layer
from .cache import cached_tarball, input_key
from .catalog import FETCHER_IMAGE, GIT_SERVER_IMAGE, GIT_SERVER_PORT
from .debian import CLEANUP_HOOK, LEAN_DPKG_OPTIONS, SOURCES, mmdebstrap_rootfs
from .goimages import GO_SOURCES, build_binary, go_arch, go_version

HERE = Path(__file__).resolve().parent
FETCHER_SCRIPT = HERE.parents[2] / "src" / "locust_operator" / "sourcefetch.py"

FETCHER_TAGS = (FETCHER_IMAGE, GIT_SERVER_IMAGE)

USER_ID = 1000
PIP_VENV = "/opt/pip"
SCRIPT_PATH = "/opt/locust-fetcher/sourcefetch.py"
GIT_SERVER_PATH = "/git-server"

_CHROOT = 'chroot "$1" env -i PATH=/usr/bin:/bin HOME=/root PIP_NO_CACHE_DIR=1'
_HOOKS = (
    # ensurepip installs the pip wheel Debian ships: no package index needed.
    f"{_CHROOT} python3 -m venv {PIP_VENV}",
    f"{_CHROOT} {PIP_VENV}/bin/python -m pip --version",
    f"{_CHROOT} git --version",
    f'echo "locust:x:{USER_ID}:{USER_ID}::/tmp:/bin/sh" >> "$1/etc/passwd"',
    f'echo "locust:x:{USER_ID}:" >> "$1/etc/group"',
)
_PACKAGES = ("git", "openssh-client", "ca-certificates", "python3", "python3-venv")

FETCHER_CONFIG = ImageConfig(
    entrypoint=("/usr/bin/python3", SCRIPT_PATH),
    env=(
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f"LOCUST_SOURCE_PIP={PIP_VENV}/bin/python",
        "PYTHONDONTWRITEBYTECODE=1",
    ),
    working_dir="/tmp",
    user=f"{USER_ID}:{USER_ID}",
    exposed_ports=(GIT_SERVER_PORT,),
)


def base_key() -> str:
    """The Debian root filesystem alone: edits of the script or the server reuse it."""
    return input_key(
        HERE / "debian.py",
        repr((SOURCES, LEAN_DPKG_OPTIONS, CLEANUP_HOOK, _HOOKS, _PACKAGES)),
    )


def fetcher_key() -> str:
    return input_key(
        FETCHER_SCRIPT,
        GO_SOURCES / "go.mod",
        GO_SOURCES / "go.sum",
        GO_SOURCES / "cmd" / "git-server",
        HERE / "fetcher.py",
        HERE / "archive.py",
        repr((FETCHER_TAGS, FETCHER_CONFIG)),
        base_key(),
        go_version(),
        go_arch(),
    )


def ensure_fetcher_image(log: Callable[[str], None]) -> Path:
    def build_base(out: Path) -> None:
        mmdebstrap_rootfs(out, list(_PACKAGES), _HOOKS, log)

    rootfs = cached_tarball("source-fetcher-rootfs", base_key(), build_base, log)

    def build(out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="image-fetcher-") as work:
            binary = Path(work) / "git-server"
            build_binary("git-server", binary)
            layer = Path(work) / "layer.tar"
            write_files_layer(
                layer, {SCRIPT_PATH: (FETCHER_SCRIPT, 0o644), GIT_SERVER_PATH: (binary, 0o755)}
            )
            write_docker_archive(out, [rootfs, layer], FETCHER_TAGS, FETCHER_CONFIG)

    return cached_tarball("source-fetcher", fetcher_key(), build, log)
