"""The images the local cluster's node holds, and the tags pods ask for."""

from __future__ import annotations

from .goimages import GoImage
from .locust import LOCUST_TAGS

# The sandbox image containerd's CRI plugin starts first in every pod (its `sandbox_image`).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
# The operator's default metrics sidecar, served by a local stand-in with the same metrics.
EXPORTER_IMAGE = "containersol/locust_exporter:v0.5.0"
# What load tests on the local cluster hit: 200 anywhere, 500 on /fail, counts on /__count.
TARGET_IMAGE = "localhost/http-target:v1"
TARGET_PORT = 8080
# A minimal OTLP endpoint (gRPC 4317, HTTP 4318) counting what arrives, on /__count.
OTLP_RECEIVER_IMAGE = "localhost/otlp-receiver:v1"
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
LOCUST_IMAGE = LOCUST_TAGS[0]
# The operator's default test-source fetcher (git, pip) and, under a second tag, the git
# smart-HTTP and file server the source tests run (fetcher.py builds both from one image).
FETCHER_IMAGE = "localhost/locust-source-fetcher:v1"
GIT_SERVER_IMAGE = "localhost/git-server:v1"
GIT_SERVER_PORT = 8080

GO_IMAGES: tuple[GoImage, ...] = (
    GoImage("pause", (PAUSE_IMAGE,), user="0:0"),
    GoImage("locust-exporter", (EXPORTER_IMAGE,), ports=(9646,)),
    GoImage("target", (TARGET_IMAGE,), ports=(TARGET_PORT,)),
    GoImage("otlp-receiver", (OTLP_RECEIVER_IMAGE,), ports=(OTLP_GRPC_PORT, OTLP_HTTP_PORT)),
)
