"""Which cluster to talk to: --kubeconfig, else $KUBECONFIG or ~/.kube/config, else the
in-cluster service account."""

from __future__ import annotations

import os
from pathlib import Path

from lightkube import AsyncClient, KubeConfig

FIELD_MANAGER = "locust-k8s-operator"


class NoClusterConfig(RuntimeError):
    pass


def load_kube_config(kubeconfig: str | None = None) -> KubeConfig:
    if kubeconfig:
        return KubeConfig.from_file(kubeconfig)
    env_paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    for candidate in [*env_paths, str(Path.home() / ".kube" / "config")]:
        if Path(candidate).is_file():
            return KubeConfig.from_file(candidate)
    try:
        return KubeConfig.from_service_account()
    except Exception as error:
        raise NoClusterConfig(
            "no cluster configuration: pass --kubeconfig PATH, set KUBECONFIG, "
            "create ~/.kube/config, or run inside a cluster"
        ) from error


def async_client(config: KubeConfig) -> AsyncClient:
    return AsyncClient(config=config, field_manager=FIELD_MANAGER)
