"""Reaching a Locust master's web API (port 8089 of Service ``<name>-master``).

Two ways, chosen once at startup (``RESULTS_MASTER_ACCESS``: auto, direct, proxy, off):

* **direct**: ``http://<name>-master.<namespace>.svc:8089`` through the cluster's DNS and
  network, when the operator runs in a pod (auto picks it when the pod's service account
  is mounted and KUBERNETES_SERVICE_HOST is set). Needs no RBAC; a NetworkPolicy must let
  the operator in.
* **proxy**: the API server's service proxy,
  ``/api/v1/namespaces/<ns>/services/<name>-master:8089/proxy/<path>``, with the
  operator's own credentials, when it runs outside the cluster (development, our tests).
  Needs ``get`` (reads) and ``create`` (the /stop POST) on ``services/proxy``.

Every answer is untrusted: bounded in size and time. Errors are MasterError with a
message fit for a condition, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote

from locust_operator.resources.ports import WEB_UI_PORT

Access = Literal["direct", "proxy"]
ACCESS_SETTINGS = ("auto", "direct", "proxy", "off")
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
TIMEOUT_SECONDS = 5.0
# /stats/requests: 500 endpoint rows (Locust's cap) of ~600 bytes each, plus 500 errors.
STATS_LIMIT = 2 * 1024 * 1024
CSV_LIMIT = 2 * 1024 * 1024
# Locust's HTML report is ~1 MB for a small test and grows with endpoints and history.
REPORT_LIMIT = 16 * 1024 * 1024


class MasterError(Exception):
    """The master's web API did not answer as expected; the message says how."""


def choose_access(setting: str, env: Mapping[str, str], token_exists: bool) -> Access | None:
    """The access to use (None: results off). ``auto``: direct in a pod, else proxy."""
    if setting == "off":
        return None
    if setting in ("direct", "proxy"):
        return setting  # type: ignore[return-value]
    in_pod = bool(env.get("KUBERNETES_SERVICE_HOST")) and token_exists
    return "direct" if in_pod else "proxy"


def detect_access(setting: str) -> Access | None:
    return choose_access(setting, os.environ, SERVICE_ACCOUNT_TOKEN.is_file())


def proxy_path(namespace: str, service: str, path: str, port: int = WEB_UI_PORT) -> str:
    """The API server's service proxy path of ``path`` on the service's port."""
    target = quote(f"{service}:{port}", safe=":")
    return (
        f"/api/v1/namespaces/{quote(namespace, safe='')}/services/{target}/proxy/{path.lstrip('/')}"
    )


def direct_url(namespace: str, service: str, path: str, port: int = WEB_UI_PORT) -> str:
    """The master through the cluster's DNS (names are DNS labels: nothing to quote)."""
    return f"http://{service}.{namespace}.svc:{port}/{path.lstrip('/')}"


class MasterClient(Protocol):
    access: Access

    async def get(self, namespace: str, service: str, path: str, limit: int) -> bytes: ...

    async def post(self, namespace: str, service: str, path: str) -> None: ...

    async def close(self) -> None: ...


def _bounded(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise MasterError(f"{what}: answer larger than {limit} bytes")


class ProxyMasterClient:
    """Through the API server, with the lightkube client's connection and credentials."""

    access: Access = "proxy"

    def __init__(self, client: Any) -> None:
        self._client = client

    @property
    def _http(self) -> Any:
        # lightkube (pinned <2) keeps its httpx client at _client._client.
        return self._client._client._client

    async def _send(
        self, method: str, namespace: str, service: str, path: str, limit: int
    ) -> bytes:
        url = proxy_path(namespace, service, path)
        what = f"{method} {path} via the API server's service proxy"
        try:
            request = self._http.build_request(method, url, timeout=TIMEOUT_SECONDS)
            response = await self._http.send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    _bounded(len(body), limit, what)
                status = response.status_code
            finally:
                await response.aclose()
        except MasterError:
            raise
        except Exception as error:  # any transport error of the HTTP library
            raise MasterError(f"{what}: {type(error).__name__}: {error}") from None
        if status != 200:
            detail = bytes(body[:300]).decode(errors="replace").strip()
            raise MasterError(f"{what}: HTTP {status}: {detail}")
        return bytes(body)

    async def get(self, namespace: str, service: str, path: str, limit: int) -> bytes:
        return await self._send("GET", namespace, service, path, limit)

    async def post(self, namespace: str, service: str, path: str) -> None:
        await self._send("POST", namespace, service, path, 64 * 1024)

    async def close(self) -> None:
        return None  # the API client is closed by its owner


class DirectMasterClient:
    """Through the cluster network (aiohttp, imported only when used)."""

    access: Access = "direct"

    def __init__(self, url: Callable[[str, str, str], str] = direct_url) -> None:
        self._session: Any = None
        self._url = url  # (namespace, service, path) -> URL; tests point it at loopback

    async def _send(
        self, method: str, namespace: str, service: str, path: str, limit: int
    ) -> bytes:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            )
        url = self._url(namespace, service, path)
        what = f"{method} {url}"
        try:
            async with self._session.request(method, url, allow_redirects=False) as response:
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    _bounded(len(body), limit, what)
                status = response.status
        except MasterError:
            raise
        except Exception as error:
            raise MasterError(f"{what}: {type(error).__name__}: {error}") from None
        if status != 200:
            detail = bytes(body[:300]).decode(errors="replace").strip()
            raise MasterError(f"{what}: HTTP {status}: {detail}")
        return bytes(body)

    async def get(self, namespace: str, service: str, path: str, limit: int) -> bytes:
        return await self._send("GET", namespace, service, path, limit)

    async def post(self, namespace: str, service: str, path: str) -> None:
        await self._send("POST", namespace, service, path, 64 * 1024)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def master_client(access: Access, kube_client: Any) -> MasterClient:
    return ProxyMasterClient(kube_client) if access == "proxy" else DirectMasterClient()
