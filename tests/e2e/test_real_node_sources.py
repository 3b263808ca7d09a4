"""Test sources beyond a ConfigMap, on the real node: a git repository and archives served by
a git smart-HTTP / file server in a pod of the test's namespace (hack/images/cmd/git-server,
in the fetcher image), fetched by the operator's fetcher init container into every Locust
pod, with a requirements.txt installed from a wheel the suite ships (no package index: pip
has no internet in a pod). The runs succeed and record the commit or the digest; the
failures (wrong digest, missing ref, unreachable host, wrong token) give their reasons, and
the token never shows in the status or the events."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.resources.core_v1 import Event

from localcluster import LocalCluster
from localcluster.images.catalog import (
    GIT_SERVER_IMAGE,
    GIT_SERVER_PORT,
    LOCUST_IMAGE,
    TARGET_PORT,
)
from localcluster.images.fetcher import ensure_fetcher_image
from localcluster.workloads import service_url, target_count_path
from locust_operator.resources.fetcher import FETCHER_CONTAINER_NAME
from tests.e2e.conftest import (
    condition,
    create_test,
    locusttest,
    pods_of,
    unique,
    wait_for_condition,
    wait_for_phase,
)
from tests.helpers import KubectlFailed, eventually, kubectl
from tests.real_node import create_all, get_json, on_real_node, wait_available
from tests.sources import (
    GREETING,
    SUITE_DIR,
    WHEEL_FILE,
    WHEEL_NAME,
    bundle,
    make_repo,
    sha256,
    suite_files,
    tar_gz,
    wheel_bytes,
)

pytestmark = pytest.mark.cluster

TOKEN = "e2e-token-5f0c2a9d1b"
SERVER = "git-server"
EXPECTED_PATH = f"/shop/{GREETING}"


def _git_server(namespace: str) -> list[dict[str, Any]]:
    labels = {"app": SERVER}
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git-server-token"},
            "stringData": {"token": TOKEN},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": SERVER},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": SERVER,
                                "image": GIT_SERVER_IMAGE,
                                "imagePullPolicy": "IfNotPresent",
                                "command": ["/git-server"],
                                "env": [
                                    {
                                        "name": "GIT_SERVER_TOKEN",
                                        "valueFrom": {
                                            "secretKeyRef": {
                                                "name": "git-server-token",
                                                "key": "token",
                                            }
                                        },
                                    }
                                ],
                                "ports": [{"name": "http", "containerPort": GIT_SERVER_PORT}],
                                "readinessProbe": {
                                    "httpGet": {"path": "/healthz", "port": GIT_SERVER_PORT},
                                    "periodSeconds": 1,
                                },
                                "volumeMounts": [
                                    {"name": "seed", "mountPath": "/seed"},
                                    {"name": "files", "mountPath": "/srv/files"},
                                    {"name": "repos", "mountPath": "/srv/git"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "seed", "configMap": {"name": "git-seed"}},
                            {"name": "files", "configMap": {"name": "git-files"}},
                            {"name": "repos", "emptyDir": {}},
                        ],
                        "terminationGracePeriodSeconds": 1,
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVER},
            "spec": {
                "selector": labels,
                "ports": [{"name": "http", "port": GIT_SERVER_PORT, "targetPort": GIT_SERVER_PORT}],
            },
        },
    ]


def _binary_config_map(name: str, files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "binaryData": {key: base64.b64encode(data).decode() for key, data in files.items()},
    }


# The suite as an archive without its wheel: the spec names the server's file listing as
# pip's --find-links instead (the other way of installing with no package index).
ARCHIVE_FILES = {
    path: data
    for path, data in suite_files().items()
    if not path.endswith((".whl", "requirements.txt"))
}
ARCHIVE = tar_gz(ARCHIVE_FILES, prefix="suite-1.0/")


class Sources:
    def __init__(self, namespace: str, commits: dict[str, str]) -> None:
        self.namespace = namespace
        self.commits = commits
        self.base = service_url(namespace, SERVER, GIT_SERVER_PORT)


@pytest.fixture(scope="module")
async def sources(
    cluster: LocalCluster,
    kube: AsyncClient,
    real_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Sources]:
    cluster.import_images([ensure_fetcher_image(print)])
    work: Path = tmp_path_factory.mktemp("sources")
    commits = make_repo(work / "suite")
    seed = bundle(work / "suite", work / "suite.bundle").read_bytes()
    namespace = real_namespace
    await create_all(
        kube,
        namespace,
        [
            _binary_config_map("git-seed", {"suite.bundle": seed}),
            _binary_config_map("git-files", {"suite.tar.gz": ARCHIVE, WHEEL_FILE: wheel_bytes()}),
            *_git_server(namespace),
        ],
    )
    await wait_available(kube, namespace, SERVER, within=180)
    yield Sources(namespace, commits)


def _source_test(name: str, namespace: str, **test_files: Any) -> dict[str, Any]:
    host = service_url(namespace, "target", TARGET_PORT)
    return locusttest(
        name,
        image=LOCUST_IMAGE,
        master={
            "command": (
                f"--locustfile /lotest/src/locustfile.py --host {host} "
                "--users 2 --spawn-rate 2 --run-time 6s"
            ),
            "autoquit": {"enabled": True, "timeout": 1},
        },
        worker={"command": "--locustfile /lotest/src/locustfile.py", "replicas": 1},
        testFiles=test_files,
    )


async def _no_secret_anywhere(kube: AsyncClient, namespace: str, status: dict[str, Any]) -> None:
    assert TOKEN not in str(status)
    async for event in kube.list(Event, namespace=namespace):
        assert TOKEN not in (event.message or "")


async def _succeeds(
    cluster: LocalCluster, kube: AsyncClient, namespace: str, name: str
) -> dict[str, Any]:
    status = await wait_for_phase(kube, namespace, name, "Succeeded", within=300)
    pods = await pods_of(kube, namespace, name, "master")
    pods += await pods_of(kube, namespace, name, "worker")
    assert on_real_node(pods)
    # The workers' requests went to the path the subpackage builds from the dependency.
    counts = get_json(cluster, target_count_path(namespace))["paths"]
    assert counts.get(EXPECTED_PATH, 0) > 0, counts
    return status


async def test_git_repository_with_subfolders_and_requirements(
    cluster: LocalCluster, kube: AsyncClient, sources: Sources
) -> None:
    namespace, name = sources.namespace, unique("git")
    await create_test(
        kube,
        namespace,
        _source_test(
            name,
            namespace,
            git={"url": f"{sources.base}/git/suite.git", "ref": "main", "subPath": SUITE_DIR},
        ),
    )

    status = await _succeeds(cluster, kube, namespace, name)

    assert status["source"] == {"commit": sources.commits["main"]}


async def test_a_source_service_created_after_the_test_is_waited_for(
    cluster: LocalCluster, kube: AsyncClient, sources: Sources
) -> None:
    """The fetcher finds no such host at first, retries, and fetches once the Service is there."""
    namespace, name, late = sources.namespace, unique("late"), unique("late-git")
    url = service_url(namespace, late, GIT_SERVER_PORT) + "/git/suite.git"
    await create_test(
        kube, namespace, _source_test(name, namespace, git={"url": url, "subPath": SUITE_DIR})
    )

    def fetcher_log() -> str:
        try:
            return kubectl(
                cluster, "logs", "-n", namespace, f"job/{name}-master", "-c", FETCHER_CONTAINER_NAME
            )
        except KubectlFailed:  # the pod or its init container is not there yet
            return ""

    async def retrying() -> bool:
        return "retrying in" in fetcher_log()

    await eventually(retrying, within=120, what="the fetcher retries the missing host")
    (service,) = (item for item in _git_server(namespace) if item["kind"] == "Service")
    service["metadata"]["name"] = late
    await create_all(kube, namespace, [service])

    status = await _succeeds(cluster, kube, namespace, name)

    assert status["source"] == {"commit": sources.commits["main"]}
    assert late in fetcher_log()


async def test_private_repository_with_a_token_from_a_secret(
    cluster: LocalCluster, kube: AsyncClient, sources: Sources
) -> None:
    namespace, name = sources.namespace, unique("private")
    await create_all(
        kube,
        namespace,
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{name}-creds"},
                "stringData": {"token": TOKEN},
            }
        ],
    )
    await create_test(
        kube,
        namespace,
        _source_test(
            name,
            namespace,
            git={
                "url": f"{sources.base}/private/suite.git",
                "ref": "v1",
                "subPath": SUITE_DIR,
                "credentials": {"secretName": f"{name}-creds"},
            },
        ),
    )

    status = await _succeeds(cluster, kube, namespace, name)

    assert status["source"]["commit"] == sources.commits["v1"]
    await _no_secret_anywhere(kube, namespace, status)


async def test_archive_with_its_digest_and_dependencies_from_find_links(
    cluster: LocalCluster, kube: AsyncClient, sources: Sources
) -> None:
    namespace, name = sources.namespace, unique("archive")
    await create_test(
        kube,
        namespace,
        _source_test(
            name,
            namespace,
            archive={
                "url": f"{sources.base}/files/suite.tar.gz",
                "sha256": sha256(ARCHIVE),
                "subPath": f"suite-1.0/{SUITE_DIR}",
            },
            dependencies={
                "packages": [f"{WHEEL_NAME}==1.0"],
                "findLinks": [f"{sources.base}/files/"],
                "noIndex": True,
            },
        ),
    )

    status = await _succeeds(cluster, kube, namespace, name)

    assert status["source"] == {"sha256": sha256(ARCHIVE)}


async def _fails_with(kube: AsyncClient, namespace: str, name: str, reason: str) -> dict[str, Any]:
    health = await wait_for_condition(
        kube, namespace, name, "PodsHealthy", "False", reason, within=180
    )
    status = await wait_for_phase(kube, namespace, name, "Failed", within=60)
    assert condition(status, "TestCompleted")["reason"] == "TestFailed"
    events = [
        event
        async for event in kube.list(Event, namespace=namespace)
        if event.involvedObject.name == name and event.reason == "PodFailure"
    ]
    assert any(reason in (event.message or "") for event in events), events
    return health


async def test_archive_with_a_wrong_digest_fails_clearly(
    kube: AsyncClient, sources: Sources
) -> None:
    namespace, name = sources.namespace, unique("bad-digest")
    wrong = "0" * 64
    await create_test(
        kube,
        namespace,
        _source_test(
            name,
            namespace,
            archive={"url": f"{sources.base}/files/suite.tar.gz", "sha256": wrong},
        ),
    )

    health = await _fails_with(kube, namespace, name, "SourceDigestMismatch")

    assert sha256(ARCHIVE) in health["message"] and wrong in health["message"], health


async def test_a_missing_ref_names_the_refs_there_are(kube: AsyncClient, sources: Sources) -> None:
    namespace, name = sources.namespace, unique("no-ref")
    await create_test(
        kube,
        namespace,
        _source_test(
            name, namespace, git={"url": f"{sources.base}/git/suite.git", "ref": "release-9"}
        ),
    )

    health = await _fails_with(kube, namespace, name, "SourceRefNotFound")

    assert "'release-9'" in health["message"] and "main" in health["message"], health


async def test_an_unreachable_host(kube: AsyncClient, sources: Sources) -> None:
    namespace, name = sources.namespace, unique("unreachable")
    url = service_url(namespace, "no-such-server", GIT_SERVER_PORT) + "/git/suite.git"
    await create_test(kube, namespace, _source_test(name, namespace, git={"url": url}))

    health = await _fails_with(kube, namespace, name, "SourceUnreachable")

    assert "no-such-server" in health["message"], health
    assert "tried" in health["message"], health  # retried before giving up


async def test_a_wrong_token_is_an_authentication_failure(
    kube: AsyncClient, sources: Sources
) -> None:
    namespace, name = sources.namespace, unique("bad-token")
    wrong_token = TOKEN + "-wrong"
    await create_all(
        kube,
        namespace,
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{name}-creds"},
                "stringData": {"token": wrong_token},
            }
        ],
    )
    await create_test(
        kube,
        namespace,
        _source_test(
            name,
            namespace,
            git={
                "url": f"{sources.base}/private/suite.git",
                "credentials": {"secretName": f"{name}-creds"},
            },
        ),
    )

    health = await _fails_with(kube, namespace, name, "SourceAuthFailed")

    assert wrong_token not in health["message"]
    await _no_secret_anywhere(kube, namespace, health)
