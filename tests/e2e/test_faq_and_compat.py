"""Every `kubectl` command of the FAQ returns what the FAQ says, and every valid manifest
the reference operator's users wrote reconciles into a Service and two Jobs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import AsyncClient, codecs
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap

from localcluster import LocalCluster
from tests.conftest import COMPAT_DIR, compat_manifests, require_compat
from tests.e2e.conftest import (
    create_scripts,
    create_test,
    locusttest,
    unique,
    wait_for_condition,
    wait_for_phase,
)
from tests.helpers import eventually, kubectl
from tests.locusttests import LocustTestV1, LocustTestV2, load_manifest

pytestmark = pytest.mark.cluster

FAQ = COMPAT_DIR.parent / "seed" / "faq.md"


def faq_jsonpath_commands() -> list[str]:
    """The FAQ's `kubectl get locusttest my-test -o jsonpath=...` commands, verbatim."""
    if not FAQ.is_file():
        return []
    found = re.findall(r"(kubectl get locusttest [^`\n]*?-o jsonpath='[^']*')", FAQ.read_text())
    return list(dict.fromkeys(found))


def run_faq_command(cluster: LocalCluster, command: str, namespace: str, name: str) -> str:
    """Runs one FAQ command as written, for our test's name and namespace."""
    command = command.replace("<test-name>", name).replace("my-test", name)
    jsonpath = re.search(r"-o jsonpath='([^']*)'", command)
    assert jsonpath, command
    words = command[: jsonpath.start()].split()[1:]  # drop "kubectl"
    return kubectl(cluster, *words, f"-ojsonpath={jsonpath.group(1)}", "-n", namespace)


async def test_faq_commands_return_what_the_faq_says(
    kube: AsyncClient, namespace: str, cluster: LocalCluster
) -> None:
    commands = faq_jsonpath_commands()
    if not commands:
        pytest.skip("../shared/seed/faq.md is not present")
    name = unique("faq")
    await create_scripts(kube, namespace)
    await create_test(kube, namespace, locusttest(name))
    await wait_for_phase(kube, namespace, name, "Running")
    await wait_for_condition(
        kube, namespace, name, "WorkersConnected", "True", "AllWorkersConnected"
    )
    await wait_for_condition(kube, namespace, name, "PodsHealthy", "True", "PodsHealthy")

    answers = {c: run_faq_command(cluster, c, namespace, name) for c in commands}
    by_fragment = {
        '{.status.conditions[?(@.type=="Ready")].status}': "True",
        "{.status.phase}": "Running",
        "{.status.connectedWorkers}/{.status.expectedWorkers}": "2/2",
    }
    for fragment, expected in by_fragment.items():
        (command,) = [c for c in commands if fragment in c]
        assert answers[command] == expected, (command, answers[command])
    (pods_healthy,) = [c for c in commands if "PodsHealthy" in c]
    assert '"reason":"PodsHealthy"' in answers[pods_healthy]
    (drift,) = [c for c in commands if "SpecDrifted" in c]
    assert answers[drift] == ""  # no drift yet

    kubectl(cluster, "-n", namespace, "patch", "locusttest", name, "--type=merge",
            "-p", '{"spec":{"worker":{"replicas":3}}}')  # fmt: skip
    await wait_for_condition(kube, namespace, name, "SpecDrifted", "True", "SpecChangeIgnored")
    assert '"reason":"SpecChangeIgnored"' in run_faq_command(cluster, drift, namespace, name)

    # The debugging section's selectors and names.
    pods = kubectl(cluster, "-n", namespace, "get", "pods", "-l", f"performance-test-name={name}",
                   "-o", "name")  # fmt: skip
    assert len(pods.split()) == 3
    workers = kubectl(cluster, "-n", namespace, "get", "pods", "-l", "locust-role=worker",
                      "-o", "name")  # fmt: skip
    assert len(workers.split()) == 2
    service = kubectl(cluster, "-n", namespace, "get", "svc", f"{name}-master", "-o",
                      "jsonpath={.spec.ports[*].port}")  # fmt: skip
    assert {"5557", "8089"} <= set(service.split())
    described = kubectl(cluster, "-n", namespace, "describe", "locusttest", name)
    assert "TestStarted" in described  # the Events section


def valid_compat_manifests() -> list[Path]:
    return [
        p
        for p in compat_manifests()
        if "invalid" not in p.name and yaml.safe_load(p.read_text()).get("kind") == "LocustTest"
    ]


@pytest.mark.parametrize("path", valid_compat_manifests(), ids=lambda p: p.name)
async def test_compat_manifest_reconciles(kube: AsyncClient, namespace: str, path: Path) -> None:
    require_compat()
    folder = COMPAT_DIR / "reference-manifests"
    for config in ("env-configmap.yaml", "test-config.yaml"):
        for obj in codecs.load_all_yaml((folder / config).read_text()):
            assert isinstance(obj, ConfigMap) and obj.metadata
            obj.metadata.namespace = namespace
            await kube.apply(obj, field_manager="tests")
    body: dict[str, Any] = load_manifest(path)
    resource = LocustTestV1 if body["apiVersion"] == "locust.io/v1" else LocustTestV2
    await kube.create(resource(body), namespace=namespace)
    name = body["metadata"]["name"]
    await wait_for_condition(kube, namespace, name, "Ready", "True", "ResourcesCreated")

    async def children() -> bool:
        jobs = [
            j
            async for j in kube.list(
                Job, namespace=namespace, labels={"performance-test-name": name}
            )
        ]
        return len(jobs) == 2

    await eventually(children, what=f"{name}: master and worker Jobs")
