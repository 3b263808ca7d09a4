"""The LocustTest CRD on the real apiserver with no webhook: the schema and its CEL rules
alone accept every user manifest and reject most bad input with a clear message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration

from locust_operator.webhook.registration import VALIDATING_CONFIGURATION_NAME
from tests.conftest import compat_manifests, require_compat
from tests.helpers import new_namespace
from tests.locusttests import (
    BAD_CASES,
    BadCase,
    LocustTestV2,
    faq_locusttests,
    load_manifest,
    minimal_v2,
)

pytestmark = pytest.mark.cluster


@pytest.fixture
async def namespace(kube: AsyncClient, crd: str) -> AsyncIterator[str]:
    try:  # webhooks off: no registration left over from another module
        await kube.delete(ValidatingWebhookConfiguration, VALIDATING_CONFIGURATION_NAME)
    except ApiError as error:
        assert error.status.code == 404
    async with new_namespace(kube, "schema") as name:
        yield name


async def create_v2(kube: AsyncClient, namespace: str, obj: dict[str, Any]) -> Any:
    return await kube.create(LocustTestV2.from_dict(obj), namespace=namespace)


def _v2_manifests() -> list[Path]:
    return [
        p
        for p in compat_manifests()
        if "invalid" not in p.name and load_manifest(p).get("apiVersion") == "locust.io/v2"
    ]


async def test_every_valid_v2_manifest_is_accepted(kube: AsyncClient, namespace: str) -> None:
    require_compat()
    manifests = _v2_manifests()
    assert len(manifests) >= 10
    for path in manifests:
        created = await create_v2(kube, namespace, load_manifest(path))
        assert created.metadata.uid, path.name


async def test_faq_examples_are_accepted(kube: AsyncClient, namespace: str) -> None:
    examples = faq_locusttests()
    if not examples:
        pytest.skip("../shared/seed/faq.md is not present")
    for example in examples:
        created = await create_v2(kube, namespace, example)
        assert created.spec["master"]["extraArgs"] == ["--loglevel", "DEBUG"]


@pytest.mark.parametrize(
    "manifest", ["v2-locusttest-invalid.yaml", "v2-locusttest-invalid-runtimeclass.yaml"]
)
async def test_invalid_reference_manifests_are_rejected(
    kube: AsyncClient, namespace: str, manifest: str
) -> None:
    require_compat()
    obj = load_manifest(next(p for p in compat_manifests() if p.name == manifest))
    with pytest.raises(ApiError) as rejected:
        await create_v2(kube, namespace, obj)
    field = (
        "spec.worker.replicas" if manifest == "v2-locusttest-invalid.yaml" else "runtimeClassName"
    )
    assert rejected.value.status.code == 422
    assert field in (rejected.value.status.message or "")


async def test_defaults_are_applied_by_the_schema(kube: AsyncClient, namespace: str) -> None:
    created = await create_v2(kube, namespace, minimal_v2("defaults"))
    spec = created.spec
    assert spec["imagePullPolicy"] == "IfNotPresent"
    assert spec["master"]["autostart"] is True
    assert spec["master"]["autoquit"] == {"enabled": True, "timeout": 60}
    assert spec["testFiles"]["srcMountPath"] == "/lotest/src"
    assert spec["testFiles"]["libMountPath"] == "/opt/locust/lib"


@pytest.mark.parametrize("case", [c for c in BAD_CASES if c.in_schema], ids=lambda c: c.id)
async def test_schema_rejects_without_the_webhook(
    kube: AsyncClient, namespace: str, case: BadCase
) -> None:
    with pytest.raises(ApiError) as rejected:
        await create_v2(kube, namespace, case.object())
    assert rejected.value.status.code == 422, rejected.value.status.message
    assert case.field in (rejected.value.status.message or "")


_GIT = {"url": "https://git.example.com/team/load-tests.git"}
_ARCHIVE = {"url": "https://files.example.com/suite.tar.gz"}
SOURCE_CASES = [
    (
        {"configMapRef": "scripts", "git": _GIT},
        "spec.testFiles",
        "testFiles takes one source of test files: keep one of configMapRef, git or archive",
    ),
    (
        {"git": _GIT, "archive": _ARCHIVE},
        "spec.testFiles",
        "testFiles takes one source of test files: keep one of configMapRef, git or archive",
    ),
    (
        {"git": {"url": "https://bot:s3cret@git.example.com/t.git"}},
        "spec.testFiles.git.url",
        "carries a password (scheme://user:password@host), which would show in the spec, the "
        "pods and the logs: put the token in a Secret and name it in "
        "testFiles.git.credentials.secretName",
    ),
    (
        {"archive": {"url": "https://bot:s3cret@files.example.com/suite.tar.gz"}},
        "spec.testFiles.archive.url",
        "carries a password (scheme://user:password@host)",
    ),
    (
        {"git": {**_GIT, "subPath": "tests/../../etc"}},
        "spec.testFiles.git.subPath",
        "must be a directory inside the source: relative, without '..' (e.g. tests/load)",
    ),
    (
        {"archive": {**_ARCHIVE, "subPath": "/suite"}},
        "spec.testFiles.archive.subPath",
        "must be a directory inside the source: relative, without '..'",
    ),
    (
        {"archive": {**_ARCHIVE, "sha256": "0123abc"}},
        "spec.testFiles.archive.sha256",
        "must be 64 hexadecimal digits (sha256sum's output); fix the digest or remove sha256",
    ),
    (
        {"archive": {"url": "ftp://files.example.com/suite.tar.gz"}},
        "spec.testFiles.archive.url",
        "must be a http:// or https:// URL",
    ),
    (
        {"configMapRef": "scripts", "dependencies": {"packages": ["requests"]}},
        "spec.testFiles.dependencies",
        "needs a git or archive source to install into",
    ),
    (
        {"git": _GIT, "dependencies": {"requirementsFile": "../requirements.txt"}},
        "spec.testFiles.dependencies.requirementsFile",
        "must be a path inside the source: relative, without '..'",
    ),
]


async def test_test_source_rules_reject_without_the_webhook(
    kube: AsyncClient, namespace: str
) -> None:
    # What the webhook checks of a git or archive source, the CRD alone rejects too, each
    # with the field and the fix; valid sources are accepted.
    for i, (test_files, field, words) in enumerate(SOURCE_CASES):
        obj = minimal_v2(f"source-{i}")
        obj["spec"]["testFiles"] = test_files
        with pytest.raises(ApiError) as rejected:
            await create_v2(kube, namespace, obj)
        message = rejected.value.status.message or ""
        assert rejected.value.status.code == 422, message
        assert f"{field}:" in message and words in message, (field, message)
    for i, test_files in enumerate(
        [
            {"git": {**_GIT, "subPath": "tests/load"}, "dependencies": {"noIndex": True}},
            {"archive": {**_ARCHIVE, "sha256": "ab" * 32, "subPath": "suite"}},
            {"git": {"url": "git@git.example.com:team/t.git"}, "libConfigMapRef": "lib"},
        ]
    ):
        obj = minimal_v2(f"source-ok-{i}")
        obj["spec"]["testFiles"] = test_files
        created = await create_v2(kube, namespace, obj)
        assert created.metadata.uid
