"""Where built images live, and the keys that say when one must be rebuilt.

A tarball is named after its image and a hash of everything that goes into it, so a change
to any input (a source file, go.sum, a pinned version, the build code itself) builds a new
one and an unchanged checkout anywhere on the machine reuses the old one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_ENV = "LOCUST_OPERATOR_IMAGES_CACHE"


def cache_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        root = Path(override)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(xdg) / "locust-k8s-operator" / "images"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    # Build by-products of an editable install are not inputs (.dockerignore drops them too).
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix != ".pyc"
        and not any(part == "__pycache__" or part.endswith(".egg-info") for part in p.parts)
    )


def input_key(*inputs: str | Path) -> str:
    """A short hash of strings and of files' contents (directories: every file, by relative path).

    Paths enter the hash relative to the input they were found under, never absolutely:
    the same inputs in another checkout give the same key.
    """
    digest = hashlib.sha256()
    for item in inputs:
        if isinstance(item, Path):
            for file in _files_under(item):
                relative = file.relative_to(item).as_posix() if item.is_dir() else item.name
                digest.update(f"file {relative} {file.stat().st_size}\n".encode())
                digest.update(file.read_bytes())
        else:
            digest.update(f"text {len(item)}\n{item}".encode())
    return digest.hexdigest()[:16]


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """One builder per image at a time, across processes (concurrent test sessions)."""
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_tarball(
    name: str, key: str, build: Callable[[Path], None], log: Callable[[str], None]
) -> Path:
    """The tarball `name-key.tar`, built by `build(partial_path)` when missing.

    The build writes to a partial file renamed into place at the end, so an interrupted build
    never leaves a tarball that looks finished. Older tarballs of the same image are removed.
    """
    root = cache_root()
    tarball = root / f"{name}-{key}.tar"
    if tarball.exists():
        return tarball
    with exclusive(root / f"{name}.lock"):
        if tarball.exists():  # another process built it while we waited
            return tarball
        partial = root / f"{name}-{key}.partial"
        partial.unlink(missing_ok=True)
        log(f"[images] building {name} (cached afterwards in {root})")
        build(partial)
        os.replace(partial, tarball)
        for stale in root.glob(f"{name}-*.tar"):
            if stale != tarball and stale.name[len(name) + 1 : -4].isalnum():
                stale.unlink(missing_ok=True)
    return tarball
