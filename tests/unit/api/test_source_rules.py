"""The CRD's rules for spec.testFiles' git and archive sources: what the webhook checks
(api.sources.source_errors), in the generated schema, for a cluster without the webhook.

The string rules are evaluated here (translated to Python: CEL's matches() is RE2's partial
match, like re.search, for these patterns) and must agree with the webhook on every example;
the object rules are run by the real apiserver in tests/integration/test_api_schema.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from locust_operator.api.crd import generate_crd
from locust_operator.api.sources import source_errors

from .structural import schema_errors, walk

_LITERAL = r"'((?:[^'\\]|\\.)*)'"


def _test_files_schema() -> dict[str, Any]:
    (v2,) = [v for v in generate_crd()["spec"]["versions"] if v["name"] == "v2"]
    schema: dict[str, Any] = v2["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema["properties"]["testFiles"]


def _node(path: str) -> dict[str, Any]:
    return dict(walk(_test_files_schema()))[path]


def _decode(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal)


def _holds(rule: str, value: str) -> bool:
    """A string rule of this CRD (matches, startsWith, size, !, &&, ||) on ``value``."""
    unknown = re.sub(
        r"matches|startsWith|size|self|\d+|[!&|().<>=\s]", "", re.sub(_LITERAL, "", rule)
    )
    assert not unknown, f"untranslated CEL {unknown!r} in {rule}"
    python = re.sub(
        rf"self\.matches\({_LITERAL}\)",
        lambda m: f"_search({_decode(m.group(1))!r}, self)",
        rule,
    )
    python = python.replace("self.startsWith(", "self.startswith(").replace("size(", "len(")
    python = python.replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"!(?!=)", " not ", python)
    result = eval(python, {"_search": lambda p, s: re.search(p, s) is not None}, {"self": value})
    assert isinstance(result, bool)
    return result


def _crd_accepts(path: str, value: str) -> bool:
    node = _node(path)
    return not schema_errors(value, node) and all(
        _holds(r["rule"], value) for r in node["x-kubernetes-validations"]
    )


def _webhook_accepts(kind: str, field: str, value: str) -> bool:
    source: dict[str, Any] = {"url": "https://git.example.com/t.git"}
    if kind == "dependencies":
        files: dict[str, Any] = {"git": source, "dependencies": {field: value}}
    else:
        files = {kind: {**source, field: value}}
    problems = {f for f, _ in source_errors({"testFiles": files})}
    return f"spec.testFiles.{kind}.{field}" not in problems


EXAMPLES = {
    ("git", "url"): [
        "https://git.example.com/team/load-tests.git",
        "http://git:3000/t.git",
        "ssh://git@git.example.com/team/t.git",
        "git://git.example.com/t.git",
        "git@github.com:team/load-tests.git",
        "https://oauth2@git.example.com/t.git",
        "https://user:s3cret@git.example.com/t.git",
        "ssh://git:pw@host/t.git",
        "https://:token@host/t.git",
        "ftp://host/t.git",
        "https://host/with space.git",
        "/srv/git/t.git",
        "",
    ],
    ("archive", "url"): [
        "https://files.example.com/suite.tar.gz",
        "http://files/suite.zip?sig=a:b",
        "https://user:pw@files/suite.tar.gz",
        "ssh://files/suite.tar.gz",
        "git@host:suite.tar.gz",
        "",
    ],
    ("archive", "sha256"): [
        "a" * 64,
        "0123456789abcdefABCDEF" + "0" * 42,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "",
    ],
    ("git", "subPath"): [
        "tests/load", "a/b/c/", ".", "..x/y", "x/..y", "../x", "x/../y", "x/..", "/abs", "",
    ],
    ("archive", "subPath"): ["suite", "../suite", "/suite"],
    ("dependencies", "requirementsFile"): ["requirements.txt", "../r.txt", "/r.txt", "a/../r.txt"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [(k, f, v) for (k, f), values in EXAMPLES.items() for v in values],
)
def test_the_crd_accepts_a_source_field_exactly_when_the_webhook_does(
    kind: str, field: str, value: str
) -> None:
    assert _crd_accepts(f".{kind}.{field}", value) == _webhook_accepts(kind, field, value)


def test_the_rules_reject_what_they_are_for() -> None:
    assert not _crd_accepts(".git.url", "https://user:s3cret@git.example.com/t.git")
    assert not _crd_accepts(".archive.url", "https://user:pw@files/suite.tar.gz")
    assert not _crd_accepts(".git.subPath", "tests/../../etc")
    assert not _crd_accepts(".archive.sha256", "abc")
    assert _crd_accepts(".archive.sha256", "ab" * 32)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (".git.url", ["testFiles.git.url", "password", "testFiles.git.credentials.secretName"]),
        (".archive.url", ["testFiles.archive.url", "password", "serve the archive without"]),
        (".git.subPath", ["testFiles.git.subPath", "relative, without '..'", "tests/load"]),
        (".archive.subPath", ["testFiles.archive.subPath", "relative, without '..'"]),
        (".archive.sha256", ["testFiles.archive.sha256", "64 hexadecimal digits"]),
        (".dependencies.requirementsFile", ["requirementsFile", "e.g. requirements.txt"]),
        ("", ["testFiles takes one source", "keep one of configMapRef, git or archive"]),
        ("", ["testFiles.dependencies needs a git or archive source", "bake"]),
    ],
)
def test_each_rule_names_its_field_and_the_fix(path: str, words: list[str]) -> None:
    messages = [r["message"] for r in _node(path)["x-kubernetes-validations"]]
    assert any(all(w in m for w in words) for m in messages), messages


def test_the_one_source_rule_counts_configmap_git_and_archive() -> None:
    rules = [r["rule"] for r in _node("")["x-kubernetes-validations"]]
    (one,) = [r for r in rules if "<= 1" in r]
    # An empty configMapRef is no source (the webhook's test is truthiness too).
    assert "size(self.configMapRef) > 0" in one
    assert "has(self.git)" in one and "has(self.archive)" in one
    (deps,) = [r for r in rules if "dependencies" in r]
    assert deps == "!has(self.dependencies) || has(self.git) || has(self.archive)"


def test_every_matched_string_is_bounded() -> None:
    # The apiserver refuses a CRD whose rules' estimated cost is unbounded.
    for path, node in walk(_test_files_schema()):
        if node.get("type") == "string" and "x-kubernetes-validations" in node:
            assert node.get("maxLength"), path
    assert _node(".archive.sha256")["maxLength"] == 64
