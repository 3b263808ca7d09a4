"""What load tests on the real node talk to: the HTTP target and the OTLP receiver, each a
Deployment with a Service, and the apiserver paths that read their counts.

The images are the locally built ones (localcluster.images.catalog); their tags are
pinned, so the default pull policy (IfNotPresent) finds them in the node's containerd.
Used by `make demo` and the real-node e2e tests.
"""

from __future__ import annotations

from typing import Any

from .images.catalog import (
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    OTLP_RECEIVER_IMAGE,
    TARGET_IMAGE,
    TARGET_PORT,
)

COUNT_PATH = "/__count"


def _deployment(name: str, image: str, ports: dict[str, int], probe_port: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [
                                {"name": port_name, "containerPort": port}
                                for port_name, port in ports.items()
                            ],
                            # Endpoints only once it answers: no request of a test is lost.
                            "readinessProbe": {
                                "httpGet": {"path": COUNT_PATH, "port": probe_port},
                                "periodSeconds": 1,
                            },
                        }
                    ],
                    "terminationGracePeriodSeconds": 1,
                },
            },
        },
    }


def _service(name: str, ports: dict[str, int]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": name},
            "ports": [
                {"name": port_name, "port": port, "targetPort": port}
                for port_name, port in ports.items()
            ],
        },
    }


def http_target(name: str = "target") -> list[dict[str, Any]]:
    """200 on any path, 500 on /fail, counts per path on GET /__count (port 8080)."""
    ports = {"http": TARGET_PORT}
    return [_deployment(name, TARGET_IMAGE, ports, TARGET_PORT), _service(name, ports)]


def otlp_receiver(name: str = "otlp") -> list[dict[str, Any]]:
    """OTLP gRPC (4317) and HTTP (4318); per signal and service.name counts on GET /__count."""
    ports = {"otlp-grpc": OTLP_GRPC_PORT, "otlp-http": OTLP_HTTP_PORT}
    return [
        _deployment(name, OTLP_RECEIVER_IMAGE, ports, OTLP_HTTP_PORT),
        _service(name, ports),
    ]


def service_url(namespace: str, name: str, port: int, scheme: str = "http") -> str:
    """How a pod reaches the Service by its cluster DNS name."""
    return f"{scheme}://{name}.{namespace}.svc.cluster.local:{port}"


def proxy_path(namespace: str, service: str, port_name: str, path: str) -> str:
    """The apiserver path that proxies a GET to a named port of the Service (kubectl get
    --raw PATH): the host reaches pods without a route of its own."""
    return f"/api/v1/namespaces/{namespace}/services/{service}:{port_name}/proxy{path}"


def target_count_path(namespace: str, name: str = "target") -> str:
    return proxy_path(namespace, name, "http", COUNT_PATH)


def otlp_count_path(namespace: str, name: str = "otlp") -> str:
    return proxy_path(namespace, name, "otlp-http", COUNT_PATH)
