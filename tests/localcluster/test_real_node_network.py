"""What a pod on the real node needs from the cluster, checked from inside a pod: cluster
DNS (full and short Service names), a ClusterIP routing to another pod, the `kubernetes`
Service reaching the apiserver with the pod's service-account token; and from the host,
`kubectl logs`, `kubectl exec` and `kubectl port-forward` against the node's pods."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from lightkube import AsyncClient
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod

from localcluster import LocalCluster
from localcluster.images.catalog import LOCUST_IMAGE, TARGET_PORT
from localcluster.network import NODE_NAME
from localcluster.workloads import http_target
from tests.helpers import eventually, http_get, kubectl, new_namespace
from tests.real_node import create_all, port_forward, wait_available

pytestmark = pytest.mark.cluster

# Run inside the client pod: prints what the pod saw, as JSON.
PROBE = """
import json, socket, ssl, time, urllib.error, urllib.request
namespace = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
token = open("/var/run/secrets/kubernetes.io/serviceaccount/token").read()


def retried(step):
    # A new Service reaches DNS and kube-proxy's rules a little after it is created.
    deadline = time.monotonic() + 60
    while True:
        try:
            return step()
        except urllib.error.HTTPError:
            raise
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def get(path):
    with urllib.request.urlopen(f"http://target:8080{path}", timeout=10) as answer:
        return answer.status, answer.read()


seen = {
    "full": retried(lambda: socket.gethostbyname(f"target.{namespace}.svc.cluster.local")),
    "short": retried(lambda: socket.gethostbyname("target")),
}
seen["target_status"] = retried(lambda: get("/from-a-pod"))[0]
seen["target_count"] = json.loads(retried(lambda: get("/__count"))[1])
api = urllib.request.Request(
    f"https://kubernetes.default.svc/api/v1/namespaces/{namespace}/pods",
    headers={"Authorization": f"Bearer {token}"},
)
context = ssl.create_default_context(
    cafile="/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)
try:
    retried(lambda: urllib.request.urlopen(api, context=context, timeout=10))
    seen["api_status"] = 200
except urllib.error.HTTPError as error:  # 403: authenticated, not authorized; still the apiserver
    seen["api_status"] = error.code
    seen["api_reason"] = json.load(error).get("reason")
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
async def real_namespace(kube: AsyncClient) -> AsyncIterator[str]:
    async with new_namespace(kube, "node-net", on_kwok=False) as name:
        await create_all(kube, name, http_target())
        client = Pod(
            metadata=ObjectMeta(name="client"),
            spec=PodSpec(
                containers=[
                    Container(
                        name="client",
                        image=LOCUST_IMAGE,
                        command=["sleep", "infinity"],
                        imagePullPolicy="IfNotPresent",
                    )
                ],
                terminationGracePeriodSeconds=1,
            ),
        )
        await kube.create(client, namespace=name)
        await wait_available(kube, name, "target")

        async def client_running() -> bool:
            pod = await kube.get(Pod, "client", namespace=name)
            return bool(pod.status and pod.status.phase == "Running")

        await eventually(client_running, within=120, what="the client pod runs")
        yield name


async def test_a_pod_resolves_services_reaches_pods_and_the_apiserver(
    cluster: LocalCluster, kube: AsyncClient, real_namespace: str
) -> None:
    namespace = real_namespace
    output = kubectl(cluster, "exec", "-n", namespace, "client", "--", "python3", "-c", PROBE)
    seen = json.loads(output.strip().splitlines()[-1])

    target_ip = kubectl(
        cluster, "get", "svc", "target", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"
    )
    assert seen["full"] == target_ip
    assert seen["short"] == target_ip  # the pod's search domains
    # Through the ClusterIP to the target pod, which counted the request.
    assert seen["target_status"] == 200
    assert seen["target_count"]["paths"]["/from-a-pod"] >= 1  # a timed-out try may count too
    # The `kubernetes` Service leads to our apiserver: TLS verified against the cluster CA,
    # the token authenticated (the default service account may not list pods: 403).
    assert seen["api_status"] == 403
    assert seen["api_reason"] == "Forbidden"

    pod = await kube.get(Pod, "client", namespace=namespace)
    assert pod.spec is not None and pod.spec.nodeName == NODE_NAME


async def test_kubectl_logs_and_port_forward_reach_the_node(
    cluster: LocalCluster, real_namespace: str
) -> None:
    namespace = real_namespace
    logs = kubectl(cluster, "logs", "-n", namespace, "deployment/target")
    assert f"target listening on :{TARGET_PORT}" in logs

    with port_forward(cluster, namespace, "svc/target", TARGET_PORT) as port:
        status, _ = http_get(port, "/through-port-forward")
        assert status == 200
        status, body = http_get(port, "/__count")
    assert status == 200
    assert json.loads(body)["paths"]["/through-port-forward"] == 1
