"""The fetcher init container of a test whose files come from git or an archive, its volumes,
and what the Locust container mounts of them (api/sources.py; the fetcher itself is
``sourcefetch.py``, run from the fetcher image).

The fetcher writes into the emptyDir ``locust-source``: ``src/`` (mounted read-only at
``testFiles.srcMountPath``) and ``deps/`` (mounted read-only at ``/opt/locust/deps``, on
PYTHONPATH). Credentials reach it only through a secretKeyRef (token) or a Secret volume
(SSH key and known hosts): the pod spec names the Secret, never its values.
"""

from __future__ import annotations

import json
from typing import Any

from locust_operator.api import v2
from locust_operator.api.sources import (
    DEPS_MOUNT_PATH,
    SOURCE_CREDENTIALS_VOLUME_NAME,
    SOURCE_VOLUME_NAME,
    ArchiveSource,
    GitSource,
)
from locust_operator.config import OperatorConfig

FETCHER_CONTAINER_NAME = "fetch-test-files"
WORK_DIR = "/locust-source"
SSH_DIR = "/etc/locust-source/ssh"
TOKEN_KEY = "token"
USERNAME_KEY = "username"

Container = dict[str, Any]


def fetched_source(spec: v2.LocustTestSpec) -> GitSource | ArchiveSource | None:
    files = spec.test_files
    if files is None:
        return None
    return files.git or files.archive


def uses_ssh(url: str) -> bool:
    return url.startswith("ssh://") or ("://" not in url and "@" in url)


def source_request(spec: v2.LocustTestSpec, max_bytes: int) -> dict[str, Any]:
    """What the fetcher is asked to fetch (its LOCUST_SOURCE): no credentials in it."""
    files = spec.test_files
    source = fetched_source(spec)
    assert files is not None and source is not None
    request: dict[str, Any] = {"url": source.url, "maxBytes": max_bytes}
    if isinstance(source, GitSource):
        request["type"] = "git"
        if source.ref:
            request["ref"] = source.ref
    else:
        request["type"] = "archive"
        if source.sha256:
            request["sha256"] = source.sha256.lower()
    if source.sub_path:
        request["subPath"] = source.sub_path
    deps = files.dependencies
    dependencies: dict[str, Any] = {}
    if deps is not None:
        for key, value in (
            ("requirementsFile", deps.requirements_file),
            ("packages", deps.packages),
            ("findLinks", deps.find_links),
            ("indexUrl", deps.index_url),
        ):
            if value:
                dependencies[key] = value
        if deps.no_index:
            dependencies["noIndex"] = True
    request["dependencies"] = dependencies
    return request


def _credential_env(source: GitSource | ArchiveSource) -> list[dict[str, Any]]:
    if isinstance(source, ArchiveSource) or source.credentials is None:
        return []
    secret = source.credentials.secret_name
    if isinstance(source, GitSource) and uses_ssh(source.url):
        return [{"name": "LOCUST_SOURCE_SSH_DIR", "value": SSH_DIR}]
    return [
        {
            "name": "LOCUST_SOURCE_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": TOKEN_KEY}},
        },
        {
            "name": "LOCUST_SOURCE_USERNAME",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": USERNAME_KEY, "optional": True}},
        },
    ]


def _ssh_secret(spec: v2.LocustTestSpec) -> str | None:
    source = fetched_source(spec)
    if isinstance(source, GitSource) and source.credentials and uses_ssh(source.url):
        return source.credentials.secret_name
    return None


def fetcher_init_container(
    spec: v2.LocustTestSpec,
    config: OperatorConfig,
    resources: dict[str, Any] | None,
) -> Container | None:
    """The init container, or None when the test files come from a ConfigMap. It runs with
    the Locust container's security context and resources."""
    source = fetched_source(spec)
    if source is None:
        return None
    fetcher = config.source_fetcher
    request = source_request(spec, fetcher.max_bytes)
    mounts: list[dict[str, Any]] = [{"name": SOURCE_VOLUME_NAME, "mountPath": WORK_DIR}]
    if _ssh_secret(spec):
        mounts.append(
            {"name": SOURCE_CREDENTIALS_VOLUME_NAME, "mountPath": SSH_DIR, "readOnly": True}
        )
    container: Container = {
        "name": FETCHER_CONTAINER_NAME,
        "image": fetcher.image,
        "imagePullPolicy": fetcher.pull_policy,
        "env": [
            {"name": "LOCUST_SOURCE", "value": json.dumps(request, sort_keys=True)},
            {"name": "LOCUST_SOURCE_DIR", "value": WORK_DIR},
            *_credential_env(source),
        ],
        "volumeMounts": mounts,
        # The result (commit or digest) or the failure reason, read by the operator.
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if resources:
        container["resources"] = resources
    security = spec.security.container_security_context if spec.security else None
    if security:
        container["securityContext"] = security
    return container


def source_fetcher(
    spec: v2.LocustTestSpec, config: OperatorConfig, resources: dict[str, Any] | None
) -> list[Container]:
    """The pod's first init containers: the fetcher when there is one (before the exporter
    sidecar, which has nothing to read until Locust runs)."""
    container = fetcher_init_container(spec, config, resources)
    return [container] if container else []


def source_volumes(spec: v2.LocustTestSpec) -> list[dict[str, Any]]:
    if fetched_source(spec) is None:
        return []
    result: list[dict[str, Any]] = [{"name": SOURCE_VOLUME_NAME, "emptyDir": {}}]
    secret = _ssh_secret(spec)
    if secret:
        # Readable by the fetcher's user; it copies the key to a private file for ssh.
        result.append(
            {
                "name": SOURCE_CREDENTIALS_VOLUME_NAME,
                "secret": {"secretName": secret, "defaultMode": 0o444},
            }
        )
    return result


def source_mounts(spec: v2.LocustTestSpec) -> list[dict[str, Any]]:
    """The Locust container's mounts of what the fetcher wrote."""
    files = spec.test_files
    if files is None or fetched_source(spec) is None:
        return []
    return [
        {
            "name": SOURCE_VOLUME_NAME,
            "mountPath": files.src_mount_path,
            "subPath": "src",
            "readOnly": True,
        },
        {
            "name": SOURCE_VOLUME_NAME,
            "mountPath": DEPS_MOUNT_PATH,
            "subPath": "deps",
            "readOnly": True,
        },
    ]


def source_python_path(spec: v2.LocustTestSpec) -> list[str]:
    """Directories of a fetched source to put on PYTHONPATH: the dependencies."""
    return [DEPS_MOUNT_PATH] if fetched_source(spec) is not None else []
