"""LocustTest objects for tests: resources, manifests, and one bad object per rule."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lightkube.generic_resource import create_namespaced_resource

from tests.conftest import COMPAT_DIR

LocustTestV2 = create_namespaced_resource("locust.io", "v2", "LocustTest", "locusttests")
LocustTestV1 = create_namespaced_resource("locust.io", "v1", "LocustTest", "locusttests")

FAQ = COMPAT_DIR.parent / "seed" / "faq.md"


def load_manifest(path: Path) -> dict[str, Any]:
    """One manifest, without its namespace: each test creates it in a namespace of its own."""
    (document,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
    document.get("metadata", {}).pop("namespace", None)
    return dict(document)


def faq_locusttests() -> list[dict[str, Any]]:
    """LocustTest examples in the FAQ. They are fragments (no name, no image), so the
    test completes exactly those two fields and nothing else."""
    if not FAQ.is_file():
        return []
    found = []
    for block in re.findall(r"```yaml\n(.*?)```", FAQ.read_text(), flags=re.S):
        document = yaml.safe_load(block)
        if isinstance(document, dict) and document.get("kind") == "LocustTest":
            document.setdefault("metadata", {}).setdefault("name", f"faq-{len(found)}")
            document["spec"].setdefault("image", "locustio/locust:2.43.1")
            found.append(document)
    return found


def minimal_v2(name: str = "rules") -> dict[str, Any]:
    return {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name},
        "spec": {
            "image": "locustio/locust:2.43.1",
            "master": {"command": "--locustfile /lotest/src/test.py"},
            "worker": {"command": "--locustfile /lotest/src/test.py", "replicas": 2},
            "testFiles": {"configMapRef": "scripts", "libConfigMapRef": "lib"},
        },
    }


@dataclass(frozen=True)
class BadCase:
    id: str
    change: Callable[[dict[str, Any]], None]
    field: str  # the field the rejection must name
    in_schema: bool = True  # the CRD alone rejects it (webhook off)

    def object(self, name: str = "rules") -> dict[str, Any]:
        obj = copy.deepcopy(minimal_v2(name))
        self.change(obj)
        return obj


def _spec(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        for path, value in fields.items():
            target = obj["spec"]
            *parents, leaf = path.split("__")
            for key in parents:
                target = target.setdefault(key, {})
            target[leaf] = value

    return change


def _rename(name: str) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        obj["metadata"]["name"] = name

    return change


EMPTY = {"emptyDir": {}}

BAD_CASES = [
    BadCase("name-too-long-for-children", _rename("n" * 57), "metadata.name"),
    BadCase("name-starts-with-digit", _rename("1st-run"), "metadata.name"),
    BadCase("replicas-zero", _spec(worker__replicas=0), "replicas"),
    BadCase("replicas-over-500", _spec(worker__replicas=501), "replicas"),
    BadCase(
        "runtime-class-not-dns1123",
        _spec(scheduling__runtimeClassName="gVisor_Sandbox"),
        "runtimeClassName",
    ),
    BadCase(
        "secret-mount-inside-test-files",
        _spec(env__secretMounts=[{"name": "creds", "mountPath": "/lotest/src/creds"}]),
        "secretMounts",
    ),
    BadCase(
        "secret-mount-containing-lib-path",
        _spec(env__secretMounts=[{"name": "creds", "mountPath": "/opt"}]),
        "secretMounts",
    ),
    BadCase(
        "volume-mount-equal-to-test-files",
        _spec(
            volumes=[{"name": "data", **EMPTY}],
            volumeMounts=[{"name": "data", "mountPath": "/lotest/src"}],
        ),
        "volumeMounts",
    ),
    BadCase("volume-name-secret-prefix", _spec(volumes=[{"name": "secret-x", **EMPTY}]), "volumes"),
    BadCase("volume-name-locust-lib", _spec(volumes=[{"name": "locust-lib", **EMPTY}]), "volumes"),
    BadCase(
        "volume-name-master-child", _spec(volumes=[{"name": "rules-master", **EMPTY}]), "volumes"
    ),
    BadCase(
        "volume-name-worker-child", _spec(volumes=[{"name": "rules-worker", **EMPTY}]), "volumes"
    ),
    BadCase(
        "volume-mount-without-volume",
        _spec(volumeMounts=[{"name": "nowhere", "mountPath": "/data"}]),
        "volumeMounts",
    ),
    BadCase(
        "otel-enabled-without-endpoint",
        _spec(observability={"openTelemetry": {"enabled": True}}),
        "openTelemetry",
    ),
    BadCase(
        "master-extra-arg-reserved", _spec(master__extraArgs=["--master-port=5558"]), "extraArgs"
    ),
    BadCase(
        "master-extra-arg-bind-port",
        _spec(master__extraArgs=["--master-bind-port", "1"]),
        "extraArgs",
    ),
    BadCase(
        "worker-extra-arg-reserved", _spec(worker__extraArgs=["--expect-workers", "3"]), "extraArgs"
    ),
    BadCase("worker-extra-arg-autostart", _spec(worker__extraArgs=["--autostart"]), "extraArgs"),
    # Only the webhook normalises paths: '/lotest//src/x' is inside '/lotest/src'.
    BadCase(
        "secret-mount-unnormalised-path",
        _spec(env__secretMounts=[{"name": "creds", "mountPath": "/lotest//src/x"}]),
        "secretMounts",
        in_schema=False,
    ),
]
