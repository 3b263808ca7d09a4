"""Image tarballs in the docker-archive format (`docker save`), which `ctr images import`,
`docker load`, `skopeo` and `podman load` all read.

Written by hand rather than by a daemon: layer contents, timestamps and owners are fixed, so
the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Every timestamp in the images: the epoch, as reproducible-builds.org recommends.
EPOCH = 0
CREATED = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image's config (the OCI/docker `config` object)."""

    entrypoint: Sequence[str]
    cmd: Sequence[str] = ()
    env: Sequence[str] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    working_dir: str = ""
    user: str = ""
    exposed_ports: Sequence[int] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        config: dict[str, object] = {"Entrypoint": list(self.entrypoint), "Env": list(self.env)}
        if self.cmd:
            config["Cmd"] = list(self.cmd)
        if self.working_dir:
            config["WorkingDir"] = self.working_dir
        if self.user:
            config["User"] = self.user
        if self.exposed_ports:
            config["ExposedPorts"] = {f"{port}/tcp": {} for port in self.exposed_ports}
        if self.labels:
            config["Labels"] = dict(self.labels)
        return config


def go_arch() -> str:
    import platform

    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, EPOCH
    archive.addfile(info, io.BytesIO(data))


def write_files_layer(out: Path, files: Mapping[str, tuple[Path, int]]) -> None:
    """A layer holding the given files (`path in image` -> (source, mode)), owned by root,
    with their parent directories, sorted, every timestamp at the epoch."""
    directories: set[str] = set()
    for name in files:
        parts = name.strip("/").split("/")[:-1]
        directories.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as layer:
        for directory in sorted(directories):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            layer.addfile(info)
        for name in sorted(files):
            source, mode = files[name]
            info = tarfile.TarInfo(name.strip("/"))
            info.size, info.mode, info.mtime = source.stat().st_size, mode, EPOCH
            with source.open("rb") as handle:
                layer.addfile(info, handle)


def write_docker_archive(
    out: Path, layers: Sequence[Path], tags: Sequence[str], config: ImageConfig
) -> None:
    """`out`: a docker-archive holding one image made of the uncompressed layer tarballs
    `layers` (bottom first), tagged with every entry of `tags`."""
    if not tags:
        raise ValueError("an image needs at least one tag, or containerd imports it unnamed")
    diff_ids = [_sha256_file(layer) for layer in layers]
    image_config = {
        "architecture": go_arch(),
        "os": "linux",
        "created": CREATED,
        "config": config.as_json(),
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        "history": [{"created": CREATED, "created_by": "hack/localcluster/images"} for _ in layers],
    }
    config_bytes = json.dumps(image_config, sort_keys=True, separators=(",", ":")).encode()
    config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
    layer_names = [f"{d}/layer.tar" for d in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": list(tags), "Layers": layer_names}]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as archive:
        for layer, name in zip(layers, layer_names, strict=True):
            directory = tarfile.TarInfo(name.split("/")[0])
            directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            archive.addfile(directory)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = layer.stat().st_size, 0o644, EPOCH
            with layer.open("rb") as handle:
                archive.addfile(info, handle)
        _add_bytes(archive, config_name, config_bytes)
        _add_bytes(archive, "manifest.json", json.dumps(manifest).encode())


def read_manifest(tarball: Path) -> list[dict[str, object]]:
    """The docker-archive's manifest.json (what tests and the importer check)."""
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("manifest.json")
        if member is None:
            raise ValueError(f"{tarball}: no manifest.json, not a docker-archive")
        manifest: list[dict[str, object]] = json.loads(member.read())
        return manifest


def retag_docker_archive(source: Path, out: Path, tags: Sequence[str]) -> None:
    """A copy of a one-image docker-archive whose manifest names `tags` (a `buildah push`
    writes one tag; containerd imports every RepoTag)."""
    with (
        tarfile.open(source) as original,
        tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as copy,
    ):
        for member in original:
            if member.name == "manifest.json":
                handle = original.extractfile(member)
                assert handle is not None
                manifest = json.loads(handle.read())
                if len(manifest) != 1:
                    raise ValueError(f"{source}: {len(manifest)} images, expected one")
                manifest[0]["RepoTags"] = list(tags)
                _add_bytes(copy, "manifest.json", json.dumps(manifest).encode())
            elif member.isfile():
                copy.addfile(member, original.extractfile(member))
            else:
                copy.addfile(member)
