"""The images the local cluster's node holds, and the tags pods ask for."""

from __future__ import annotations

from .goimages import GoImage

# The sandbox image containerd's CRI plugin starts first in every pod (its `sandbox_image`).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"

PAUSE = GoImage("pause", (PAUSE_IMAGE,), user="0:0")

GO_IMAGES: tuple[GoImage, ...] = (PAUSE,)
