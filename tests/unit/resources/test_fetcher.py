"""The fetcher init container, its volumes and the Locust container's mounts for a git or
archive test source; ConfigMap tests unchanged; credentials only by reference."""

from __future__ import annotations

import json
from typing import Any

from locust_operator.api.conversion import convert
from locust_operator.api.sources import DEPS_MOUNT_PATH
from locust_operator.api.validation import validate
from locust_operator.config import OperatorConfig, SourceFetcherConfig
from locust_operator.resources.fetcher import FETCHER_CONTAINER_NAME
from tests.unit.resources.helpers import NAME, jobs, locust_test, pod

GIT = {"url": "https://git.example.com/team/load.git", "ref": "v2", "subPath": "tests/load"}


def _test(**test_files: Any) -> dict[str, Any]:
    return locust_test(testFiles=test_files)


def _locust(pod_spec: dict[str, Any], role: str) -> dict[str, Any]:
    (container,) = [c for c in pod_spec["containers"] if c["name"] == f"{NAME}-{role}"]
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_git_source_adds_the_fetcher_first_in_both_roles() -> None:
    config = OperatorConfig(source_fetcher=SourceFetcherConfig(image="fetch:1", max_bytes=4096))
    for role, job in jobs(_test(git=GIT), config).items():
        spec = pod(job)
        fetcher = spec["initContainers"][0]
        assert fetcher["name"] == FETCHER_CONTAINER_NAME and fetcher["image"] == "fetch:1"
        request = json.loads(_env(fetcher)["LOCUST_SOURCE"])
        assert request == {
            "type": "git",
            "url": GIT["url"],
            "ref": "v2",
            "subPath": "tests/load",
            "maxBytes": 4096,
            "dependencies": {},
        }
        assert {"name": "locust-source", "emptyDir": {}} in spec["volumes"]
        mounts = _locust(spec, role)["volumeMounts"]
        assert {
            "name": "locust-source",
            "mountPath": "/lotest/src",
            "subPath": "src",
            "readOnly": True,
        } in mounts
        assert any(m["mountPath"] == DEPS_MOUNT_PATH and m["subPath"] == "deps" for m in mounts)
        assert _env(_locust(spec, role))["PYTHONPATH"] == DEPS_MOUNT_PATH
        # The fetcher runs with the Locust container's resources.
        assert fetcher["resources"] == _locust(spec, role)["resources"]
    master = pod(jobs(_test(git=GIT), config)["master"])
    assert [c["name"] for c in master["initContainers"]] == [
        FETCHER_CONTAINER_NAME,
        "locust-metrics-exporter",
    ]


def test_token_comes_from_the_secret_by_reference_only() -> None:
    git = {**GIT, "credentials": {"secretName": "repo-token"}}
    fetcher = pod(jobs(_test(git=git))["worker"])["initContainers"][0]
    env = _env(fetcher)
    assert env["LOCUST_SOURCE_TOKEN"] == {"secretKeyRef": {"name": "repo-token", "key": "token"}}
    assert env["LOCUST_SOURCE_USERNAME"]["secretKeyRef"]["optional"] is True
    assert "repo-token" not in env["LOCUST_SOURCE"]


def test_ssh_key_is_a_secret_volume_of_the_fetcher_only() -> None:
    git = {"url": "git@git.example.com:team/load.git", "credentials": {"secretName": "deploy"}}
    spec = pod(jobs(_test(git=git))["master"])
    fetcher = spec["initContainers"][0]
    assert _env(fetcher)["LOCUST_SOURCE_SSH_DIR"] == "/etc/locust-source/ssh"
    assert "LOCUST_SOURCE_TOKEN" not in _env(fetcher)
    volume = next(v for v in spec["volumes"] if v["name"] == "locust-source-credentials")
    assert volume["secret"]["secretName"] == "deploy"
    assert all(
        m["name"] != "locust-source-credentials" for m in _locust(spec, "master")["volumeMounts"]
    )


def test_archive_with_dependencies_and_lib_config_map() -> None:
    test = _test(
        archive={"url": "https://files.example.com/suite.tgz", "sha256": "AB" * 32},
        dependencies={"packages": ["faker==30.8.2"], "findLinks": ["https://w/"], "noIndex": True},
        libConfigMapRef="lib",
    )
    spec = pod(jobs(test)["worker"])
    request = json.loads(_env(spec["initContainers"][0])["LOCUST_SOURCE"])
    assert request["type"] == "archive" and request["sha256"] == "ab" * 32
    assert request["dependencies"] == {
        "packages": ["faker==30.8.2"],
        "findLinks": ["https://w/"],
        "noIndex": True,
    }
    assert _env(_locust(spec, "worker"))["PYTHONPATH"] == f"/opt/locust/lib:{DEPS_MOUNT_PATH}"


def test_security_context_is_the_locust_containers() -> None:
    security = {"runAsNonRoot": True, "readOnlyRootFilesystem": True}
    test = locust_test(testFiles={"git": GIT}, security={"containerSecurityContext": security})
    spec = pod(jobs(test)["master"])
    assert spec["initContainers"][0]["securityContext"] == security


def test_config_map_tests_have_no_fetcher() -> None:
    spec = pod(jobs(locust_test())["worker"])
    assert "initContainers" not in spec
    assert all(v["name"] != "locust-source" for v in spec["volumes"])


def test_webhook_names_the_field_and_the_fix() -> None:
    def errors(**test_files: Any) -> dict[str, str]:
        found = validate(_test(**test_files))
        return {e.field: e.message for e in found if "testFiles" in e.field}

    both = errors(configMapRef="scripts", git=GIT)
    assert "configMapRef and git" in both["spec.testFiles"]
    password = errors(git={"url": "https://me:hunter2@git.example.com/x.git"})
    assert "credentials.secretName" in password["spec.testFiles.git.url"]
    escape = errors(archive={"url": "https://f/x.tgz", "subPath": "../etc"})
    assert "relative" in escape["spec.testFiles.archive.subPath"]
    digest = errors(archive={"url": "https://f/x.tgz", "sha256": "abc"})
    assert "64 hexadecimal" in digest["spec.testFiles.archive.sha256"]
    scheme = errors(archive={"url": "ftp://f/x.tgz"})
    assert "http:// or https://" in scheme["spec.testFiles.archive.url"]
    deps = errors(configMapRef="scripts", dependencies={"packages": ["x"]})
    assert "git or archive" in deps["spec.testFiles.dependencies"]
    assert errors(git=GIT, dependencies={"packages": ["x"]}) == {}


def test_mounts_may_not_cover_the_source_or_its_dependencies() -> None:
    test = locust_test(
        testFiles={"git": GIT},
        volumes=[{"name": "data", "emptyDir": {}}],
        volumeMounts=[{"name": "data", "mountPath": "/opt/locust"}],
    )
    fields = {e.field for e in validate(test)}
    assert "spec.volumeMounts[0].mountPath" in fields
    test["spec"]["volumeMounts"][0]["mountPath"] = "/lotest/src/data"
    assert "spec.volumeMounts[0].mountPath" in {e.field for e in validate(test)}


def test_v1_round_trip_keeps_the_source() -> None:
    test = _test(git={**GIT, "credentials": {"secretName": "t"}}, dependencies={"noIndex": True})
    test["metadata"] = {"name": NAME, "namespace": "load"}
    back = convert(convert(test, "locust.io/v1"), "locust.io/v2")
    assert back["spec"]["testFiles"] == test["spec"]["testFiles"]


def test_a_fetched_source_takes_src_mount_path_over_a_config_map() -> None:
    # The webhook refuses both; without it the pods must still be valid (one mount per path).
    spec = pod(jobs(_test(configMapRef="scripts", git=GIT))["worker"])
    paths = [m["mountPath"] for m in _locust(spec, "worker")["volumeMounts"]]
    assert paths.count("/lotest/src") == 1
    assert all("configMap" not in v for v in spec["volumes"])
