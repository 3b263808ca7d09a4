"""Names never steer an API path elsewhere (issue 12, finding 4): every request of the
operator's clients checks and quotes the name and namespace it puts in the path."""

from __future__ import annotations

import httpx2 as httpx
import pytest
from lightkube import AsyncClient, Client, KubeConfig
from lightkube.resources.core_v1 import ConfigMap, Pod

from locust_operator.kube.client import async_client
from locust_operator.kube.paths import UnsafeName, guard_paths, path_segment

CONFIG = KubeConfig.from_dict(
    {
        "clusters": [{"name": "c", "cluster": {"server": "https://apiserver.invalid:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
)


@pytest.mark.parametrize(
    "name", ["../../kube-system/configmaps/x", "..", ".", "", "a/b", "a%2Fb", "a?watch=1", "x#y"]
)
def test_what_is_not_a_name_is_refused_naming_it(name: str) -> None:
    with pytest.raises(UnsafeName, match="not a Kubernetes object name"):
        path_segment(name, "ConfigMap")


def test_a_name_stays_as_it_is() -> None:
    assert path_segment("scripts.v1-a", "ConfigMap") == "scripts.v1-a"


async def test_the_operator_client_refuses_a_traversing_name_before_sending() -> None:
    sent: list[str] = []
    client = async_client(CONFIG)

    async def record(request: httpx.Request) -> None:
        sent.append(str(request.url))

    client._client._client.event_hooks["request"].append(record)  # type: ignore[attr-defined]
    with pytest.raises(UnsafeName):
        await client.get(ConfigMap, "../../kube-system/configmaps/x", namespace="load")
    with pytest.raises(UnsafeName):
        await client.get(ConfigMap, "x", namespace="../kube-system")
    assert sent == []
    await client.close()


@pytest.mark.parametrize("make", [Client, AsyncClient])
def test_a_guarded_client_builds_paths_from_plain_names(make: type) -> None:
    client = make(config=CONFIG)
    guard_paths(client)
    request = client._client.prepare_request("get", ConfigMap, name="scripts", namespace="load")
    assert request.url == "api/v1/namespaces/load/configmaps/scripts"
    # Lists across namespaces keep lightkube's marker.
    listed = client._client.prepare_request("list", Pod, namespace="*")
    assert listed.url == "api/v1/pods"
