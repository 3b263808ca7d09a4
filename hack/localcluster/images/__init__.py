"""Container images for the local cluster's real node, built here (no registry is reachable).

    ensure_images(log) -> [tarball, ...]   what pods on the node run, for `ctr images import`
    ensure_operator_image(log) -> tarball  the operator, from the repository's Dockerfile

Each image is built once from pinned inputs and cached outside the tree (see cache.py);
the tarballs are docker-archives carrying their tags.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .catalog import GO_IMAGES, PAUSE_IMAGE
from .goimages import ensure_go_image

__all__ = ["PAUSE_IMAGE", "ensure_images"]


def ensure_images(log: Callable[[str], None] = print) -> list[Path]:
    """Builds the images that are missing from the cache; returns every image's tarball."""
    return [ensure_go_image(image, log) for image in GO_IMAGES]
