"""Test sources beyond a ConfigMap: a git repository or an archive over HTTP(S), with the
Python dependencies to install next to them (``spec.testFiles.git``, ``.archive``,
``.dependencies``), and what the status records of the source a test actually ran.

An init container (the fetcher, ``resources/fetcher.py``) fetches the source once per pod
into a volume the Locust container mounts at ``testFiles.srcMountPath``; dependencies are
installed into :data:`DEPS_MOUNT_PATH`, which is put on ``PYTHONPATH``.
"""

# prop() returns dataclasses.field(...), which ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .schema import prop

DEPS_MOUNT_PATH = "/opt/locust/deps"
SOURCE_VOLUME_NAME = "locust-source"
SOURCE_CREDENTIALS_VOLUME_NAME = "locust-source-credentials"

MAX_URL_LENGTH = 2048
MAX_REF_LENGTH = 255
MAX_SUB_PATH_LENGTH = 1024
MAX_PACKAGES = 64
MAX_PACKAGE_LENGTH = 512
MAX_FIND_LINKS = 16

# https://, ssh://, git:// or scp-like user@host:path; no spaces.
GIT_URL_PATTERN = r"^((https?|ssh|git)://[^\s]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+)$"
HTTP_URL_PATTERN = r"^https?://[^\s]+$"
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
# A password in the URL (scheme://user:password@host) would end up in the spec, the pods and
# the logs: credentials belong in a Secret.
_URL_PASSWORD = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@"


_URL_PASSWORD_RE = re.compile(_URL_PASSWORD)


@dataclass(kw_only=True)
class SourceCredentials:
    """Credentials."""

    secret_name: str = prop("Secret name.", required=True)


@dataclass(kw_only=True)
class GitSource:
    """Git repository."""

    url: str = prop("URL.", required=True)
    ref: str | None = prop("Branch, tag or commit.")
    sub_path: str | None = prop("Directory.")
    credentials: SourceCredentials | None = prop("Token or SSH key.")


@dataclass(kw_only=True)
class ArchiveSource:
    """tar.gz or zip archive."""

    url: str = prop("URL.", required=True)
    sha256: str | None = prop("SHA-256.")
    sub_path: str | None = prop("Directory.")


@dataclass(kw_only=True)
class Dependencies:
    """pip install --target."""

    requirements_file: str | None = prop("Requirements file.")
    packages: list[str] | None = prop("Packages.")
    find_links: list[str] | None = prop("--find-links.")
    index_url: str | None = prop("--index-url.")
    no_index: bool = prop("--no-index.", default=False)


@dataclass(kw_only=True)
class SourceStatus:
    """Fetched source."""

    commit: str | None = prop("Commit (git).")
    sha256: str | None = prop("Digest (archive).")


# --- fields of TestFiles ------------------------------------------------------------------


def git_prop() -> Any:
    return prop("Test files from git (docs/test-sources.md).")


def archive_prop() -> Any:
    return prop("Test files from an archive.")


def dependencies_prop() -> Any:
    return prop("Python dependencies.")


def source_status_prop() -> Any:
    return prop("Source fetched.")


# The CRD holds no rule for these: it is at the size client-side apply allows (256 KiB).
# The webhook checks them (source_errors); the operator builds from git, else archive.


# --- helpers shared by the builders and the webhook -----------------------------------------


def fetched(test_files: Mapping[str, Any] | None) -> bool:
    """Whether a (camelCase) testFiles uses a source the fetcher fetches."""
    return bool(test_files) and bool(
        (test_files or {}).get("git") or (test_files or {}).get("archive")
    )


def source_errors(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, message) for what the CEL rules cannot say as precisely (the webhook)."""
    files = spec.get("testFiles")
    if not isinstance(files, Mapping):
        return
    sources = [key for key in ("configMapRef", "git", "archive") if files.get(key)]
    if len(sources) > 1:
        yield (
            "spec.testFiles",
            f"testFiles sets {' and '.join(sources)}: it takes one source of test files; "
            "keep one of configMapRef, git or archive",
        )
    if files.get("dependencies") and not fetched(files):
        yield (
            "spec.testFiles.dependencies",
            "testFiles.dependencies needs a git or archive source to install into; with a "
            "ConfigMap, bake the dependencies into the image instead",
        )
    if not fetched(files):
        return
    for kind in ("git", "archive"):
        source = files.get(kind)
        if not isinstance(source, Mapping):
            continue
        url = source.get("url")
        pattern = GIT_URL_PATTERN if kind == "git" else HTTP_URL_PATTERN
        if isinstance(url, str) and not re.match(pattern, url):
            schemes = (
                "https://, http://, ssh://, git:// or user@host:path"
                if kind == "git"
                else ("http:// or https://")
            )
            yield (f"spec.testFiles.{kind}.url", f"url {url!r} must be a {schemes} URL")
        sha = source.get("sha256") if kind == "archive" else None
        if isinstance(sha, str) and not re.match(SHA256_PATTERN, sha):
            yield (
                "spec.testFiles.archive.sha256",
                "sha256 must be 64 hexadecimal digits (sha256sum's output)",
            )
        if isinstance(url, str) and _URL_PASSWORD_RE.match(url):
            fix = (
                "put the token in a Secret and name it in testFiles.git.credentials.secretName"
                if kind == "git"
                else "serve the archive without one (or fetch the files from git with "
                "testFiles.git.credentials)"
            )
            yield (
                f"spec.testFiles.{kind}.url",
                "the URL carries a password (scheme://user:password@host), which would show "
                f"in the spec, the pods and the logs: {fix}",
            )
        sub_path = source.get("subPath")
        if isinstance(sub_path, str) and not _relative(sub_path):
            yield (
                f"spec.testFiles.{kind}.subPath",
                f"subPath {sub_path!r} must be a directory inside the source: relative, "
                "without '..' (e.g. tests/load)",
            )
    deps = files.get("dependencies")
    requirements = deps.get("requirementsFile") if isinstance(deps, Mapping) else None
    if isinstance(requirements, str) and not _relative(requirements):
        yield (
            "spec.testFiles.dependencies.requirementsFile",
            f"requirementsFile {requirements!r} must be a path inside the source: relative, "
            "without '..' (e.g. requirements.txt)",
        )
    names = {SOURCE_VOLUME_NAME, SOURCE_CREDENTIALS_VOLUME_NAME}
    for i, volume in enumerate(spec.get("volumes") or []):
        if isinstance(volume, Mapping) and volume.get("name") in names:
            yield (
                f"spec.volumes[{i}].name",
                f"the volume name {volume.get('name')!r} is reserved for the operator's "
                "test-source volumes; rename the volume",
            )
    for i, mount in enumerate(spec.get("volumeMounts") or []):
        path = mount.get("mountPath") if isinstance(mount, Mapping) else None
        if isinstance(path, str) and _overlaps(path, DEPS_MOUNT_PATH):
            yield (
                f"spec.volumeMounts[{i}].mountPath",
                f"mountPath {path!r} overlaps {DEPS_MOUNT_PATH}, where the operator mounts "
                "the dependencies of the git or archive source; choose another path",
            )


def _relative(path: str) -> bool:
    return bool(path) and not path.startswith("/") and ".." not in path.split("/")


def _overlaps(a: str, b: str) -> bool:
    a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
    return a.startswith(b) or b.startswith(a)
