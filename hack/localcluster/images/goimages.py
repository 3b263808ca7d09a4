"""Images made of one static Go binary (hack/images/cmd/<name>): pause, the HTTP target,
the OTLP receiver and the metrics exporter stand-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .archive import ImageConfig, go_arch, write_docker_archive, write_files_layer
from .cache import cached_tarball, input_key

GO_SOURCES = Path(__file__).resolve().parents[2] / "images"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class GoImage:
    command: str  # the directory under hack/images/cmd, also the binary's name in the image
    tags: tuple[str, ...]
    ports: tuple[int, ...] = ()
    # Runs as nobody unless the image must be root (pause: it reaps zombies as PID 1).
    user: str = "65534:65534"

    @property
    def binary_path(self) -> str:
        return f"/{self.command}"

    def config(self) -> ImageConfig:
        return ImageConfig(entrypoint=(self.binary_path,), user=self.user, exposed_ports=self.ports)


def go_version() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(
            "go is not on PATH: the local images are built from hack/images with Go "
            "(the same toolchain hack/build-tools.sh needs); install Go 1.23 or newer"
        )
    return subprocess.run(
        [go, "env", "GOVERSION"], check=True, capture_output=True, text=True
    ).stdout.strip()


def build_binary(command: str, out: Path) -> None:
    """`go build` one command statically (no cgo), without paths or build ids of this machine."""
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOOS": "linux",
        "GOARCH": go_arch(),
        "GOFLAGS": "-mod=readonly -buildvcs=false",
    }
    flags = ["-trimpath", "-ldflags=-s -w -buildid=", "-o", str(out)]
    subprocess.run(
        ["go", "build", *flags, f"./cmd/{command}"],
        cwd=GO_SOURCES,
        env=env,
        check=True,
    )


def image_key(image: GoImage) -> str:
    return input_key(
        GO_SOURCES / "go.mod",
        GO_SOURCES / "go.sum",
        GO_SOURCES / "cmd" / image.command,
        GO_SOURCES / "internal",
        HERE / "goimages.py",
        HERE / "archive.py",
        repr(image),
        go_version(),
        go_arch(),
    )


def ensure_go_image(image: GoImage, log: Callable[[str], None]) -> Path:
    def build(out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix=f"image-{image.command}-") as work:
            binary = Path(work) / image.command
            build_binary(image.command, binary)
            layer = Path(work) / "layer.tar"
            write_files_layer(layer, {image.binary_path: (binary, 0o755)})
            write_docker_archive(out, [layer], image.tags, image.config())

    return cached_tarball(image.command, image_key(image), build, log)
