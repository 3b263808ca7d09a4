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

from .schema import Rule, prop

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
SHA256_LENGTH = 64
SHA256_PATTERN = rf"^[0-9a-fA-F]{{{SHA256_LENGTH}}}$"
# A password in the URL (scheme://user:password@host) would end up in the spec, the pods and
# the logs: credentials belong in a Secret.
_URL_PASSWORD = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@"


_URL_PASSWORD_RE = re.compile(_URL_PASSWORD)
_GIT_SCHEMES = "https://, http://, ssh://, git:// or user@host:path"
_HTTP_SCHEMES = "http:// or https://"
_PASSWORD_FIXES = {
    "git": "put the token in a Secret and name it in testFiles.git.credentials.secretName",
    "archive": "serve the archive without one (or fetch the files from git with "
    "testFiles.git.credentials)",
}

# --- CEL rules: what the webhook checks (source_errors), for a cluster without it ------------
# Every string a rule matches has a maxLength: the apiserver refuses a CRD whose rules'
# estimated cost is unbounded.


def _cel_string(text: str) -> str:
    """``text`` as a single-quoted CEL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# A relative path without a '..' component (what _relative checks).
_RELATIVE = "size(self) > 0 && !self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')"


def _url_rules(kind: str, pattern: str, schemes: str) -> tuple[Rule, ...]:
    return (
        Rule(
            rule=f"self.matches({_cel_string(pattern)})",
            message=f"testFiles.{kind}.url must be a {schemes} URL",
            reason="FieldValueInvalid",
        ),
        Rule(
            rule=f"!self.matches({_cel_string(_URL_PASSWORD)})",
            message=(
                f"testFiles.{kind}.url carries a password (scheme://user:password@host), which "
                f"would show in the spec, the pods and the logs: {_PASSWORD_FIXES[kind]}"
            ),
            reason="FieldValueForbidden",
        ),
    )


def _sub_path_rules(kind: str) -> tuple[Rule, ...]:
    return (
        Rule(
            rule=_RELATIVE,
            message=(
                f"testFiles.{kind}.subPath must be a directory inside the source: relative, "
                "without '..' (e.g. tests/load)"
            ),
            reason="FieldValueInvalid",
        ),
    )


_SHA256_RULES = (
    Rule(
        rule=f"self.matches({_cel_string(SHA256_PATTERN)})",
        message=(
            "testFiles.archive.sha256 must be 64 hexadecimal digits (sha256sum's output); "
            "fix the digest or remove sha256"
        ),
        reason="FieldValueInvalid",
    ),
)
_REQUIREMENTS_RULES = (
    Rule(
        rule=_RELATIVE,
        message=(
            "testFiles.dependencies.requirementsFile must be a path inside the source: "
            "relative, without '..' (e.g. requirements.txt)"
        ),
        reason="FieldValueInvalid",
    ),
)

_CONFIG_MAP_SET = "has(self.configMapRef) && size(self.configMapRef) > 0"
TEST_FILES_RULES = (
    Rule(
        rule=(
            f"({_CONFIG_MAP_SET} ? 1 : 0) + (has(self.git) ? 1 : 0) "
            "+ (has(self.archive) ? 1 : 0) <= 1"
        ),
        message=(
            "testFiles takes one source of test files: keep one of configMapRef, git or "
            "archive and remove the others"
        ),
        reason="FieldValueForbidden",
    ),
    Rule(
        rule="!has(self.dependencies) || has(self.git) || has(self.archive)",
        message=(
            "testFiles.dependencies needs a git or archive source to install into; with a "
            "ConfigMap, bake the dependencies into the image instead"
        ),
        field_path=".dependencies",
        reason="FieldValueForbidden",
    ),
)
"""CEL rules of the testFiles object (v2.TestFiles)."""


@dataclass(kw_only=True)
class SourceCredentials:
    """Credentials."""

    secret_name: str = prop("Secret name.", required=True)


@dataclass(kw_only=True)
class GitSource:
    """Git repository."""

    url: str = prop(
        "URL.",
        required=True,
        max_length=MAX_URL_LENGTH,
        rules=_url_rules("git", GIT_URL_PATTERN, _GIT_SCHEMES),
    )
    ref: str | None = prop("Branch, tag or commit.")
    sub_path: str | None = prop(
        "Directory.", max_length=MAX_SUB_PATH_LENGTH, rules=_sub_path_rules("git")
    )
    credentials: SourceCredentials | None = prop("Token or SSH key.")


@dataclass(kw_only=True)
class ArchiveSource:
    """tar.gz or zip archive."""

    url: str = prop(
        "URL.",
        required=True,
        max_length=MAX_URL_LENGTH,
        rules=_url_rules("archive", HTTP_URL_PATTERN, _HTTP_SCHEMES),
    )
    sha256: str | None = prop("SHA-256.", max_length=SHA256_LENGTH, rules=_SHA256_RULES)
    sub_path: str | None = prop(
        "Directory.", max_length=MAX_SUB_PATH_LENGTH, rules=_sub_path_rules("archive")
    )


@dataclass(kw_only=True)
class Dependencies:
    """pip install --target."""

    requirements_file: str | None = prop(
        "Requirements file.", max_length=MAX_SUB_PATH_LENGTH, rules=_REQUIREMENTS_RULES
    )
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


# The CRD's rules (TEST_FILES_RULES and the fields' rules above) reject what a cluster
# without the webhook must not take; the webhook (source_errors) checks the same with the
# offending value in its message, and the reserved paths and volume names besides. The
# operator builds from git, else archive.


# --- helpers shared by the builders and the webhook -----------------------------------------


def fetched(test_files: Mapping[str, Any] | None) -> bool:
    """Whether a (camelCase) testFiles uses a source the fetcher fetches."""
    return bool(test_files) and bool(
        (test_files or {}).get("git") or (test_files or {}).get("archive")
    )


def source_errors(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, message) of the webhook: the CRD's rules, with the offending value, and
    what they cannot say (reserved paths and volume names)."""
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
            schemes = _GIT_SCHEMES if kind == "git" else _HTTP_SCHEMES
            yield (f"spec.testFiles.{kind}.url", f"url {url!r} must be a {schemes} URL")
        sha = source.get("sha256") if kind == "archive" else None
        if isinstance(sha, str) and not re.match(SHA256_PATTERN, sha):
            yield (
                "spec.testFiles.archive.sha256",
                "sha256 must be 64 hexadecimal digits (sha256sum's output)",
            )
        if isinstance(url, str) and _URL_PASSWORD_RE.match(url):
            yield (
                f"spec.testFiles.{kind}.url",
                "the URL carries a password (scheme://user:password@host), which would show "
                f"in the spec, the pods and the logs: {_PASSWORD_FIXES[kind]}",
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
