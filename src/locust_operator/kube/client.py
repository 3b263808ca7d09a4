"""Which cluster to talk to: --kubeconfig, else $KUBECONFIG or ~/.kube/config, else the
in-cluster service account."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, KubeConfig

from locust_operator.kube.paths import guard_paths
from locust_operator.kube.request_counter import REQUESTS

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
    client = AsyncClient(config=config, field_manager=FIELD_MANAGER)
    guard_paths(client)  # names from specs never steer a path elsewhere
    _count_requests(client)
    return client


def _count_requests(client: AsyncClient) -> None:
    """Counts every request (kube/request_counter.py) and times the writes (metrics.py,
    loaded by the first write: the LISTs and WATCHes before ready are not timed)."""

    async def sent(request: Any) -> None:
        REQUESTS.labels(request.method).inc()
        request.extensions["locust_operator_sent"] = time.monotonic()

    async def answered(response: Any) -> None:
        request = response.request
        started = request.extensions.get("locust_operator_sent")
        if started is not None and request.method != "GET":  # GETs include long watches
            from locust_operator.metrics import KUBE_REQUEST_SECONDS

            KUBE_REQUEST_SECONDS.labels(request.method).observe(time.monotonic() - started)

    # lightkube (pinned <2) keeps its httpx client at _client._client; its hooks are the
    # one place that sees every call, watches included.
    http = getattr(getattr(client, "_client", None), "_client", None)
    if http is not None:
        http.event_hooks["request"].append(sent)
        http.event_hooks["response"].append(answered)
