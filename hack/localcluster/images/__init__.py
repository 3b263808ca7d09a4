"""Container images for the local cluster's real node, built here (no registry is reachable).

    ensure_images(log) -> [tarball, ...]   what pods on the node run, for `ctr images import`
    ensure_operator_image(log) -> tarball  the operator, from the repository's Dockerfile

Each image is built once from pinned inputs and cached outside the tree (see cache.py);
the tarballs are docker-archives carrying their tags.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .catalog import (
    EXPORTER_IMAGE,
    FETCHER_IMAGE,
    GIT_SERVER_IMAGE,
    GO_IMAGES,
    LOCUST_IMAGE,
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    OTLP_RECEIVER_IMAGE,
    PAUSE_IMAGE,
    TARGET_IMAGE,
    TARGET_PORT,
)
from .fetcher import ensure_fetcher_image
from .goimages import ensure_go_image
from .locust import LOCUST_TAGS, ensure_locust_image
from .operator import OPERATOR_IMAGE, ensure_operator_image, operator_tags

__all__ = [
    "EXPORTER_IMAGE",
    "FETCHER_IMAGE",
    "GIT_SERVER_IMAGE",
    "LOCUST_IMAGE",
    "LOCUST_TAGS",
    "OPERATOR_IMAGE",
    "OTLP_GRPC_PORT",
    "OTLP_HTTP_PORT",
    "OTLP_RECEIVER_IMAGE",
    "PAUSE_IMAGE",
    "TARGET_IMAGE",
    "TARGET_PORT",
    "ensure_images",
    "ensure_operator_image",
    "operator_tags",
]


def ensure_images(log: Callable[[str], None] = print) -> list[Path]:
    """Builds the images that are missing from the cache; returns every image's tarball."""
    tarballs = [ensure_go_image(image, log) for image in GO_IMAGES]
    tarballs.append(ensure_fetcher_image(log))
    tarballs.append(ensure_locust_image(log))  # last: tests take ensure_images()[-1]
    return tarballs
