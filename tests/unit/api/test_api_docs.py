"""docs/api-reference.md is generated from the API types and must not drift from them."""

from __future__ import annotations

import re
from typing import get_args

from locust_operator.api import conditions, conversion, status, v1, v2
from locust_operator.api.docs import DOC_FILE, documented_types, render_api_reference, slug
from locust_operator.api.schema import Embedded, ListOf, Node, ObjectType, object_type

from .manifests import REPO_ROOT


def _sections(text: str) -> dict[str, str]:
    """Heading (### level) -> the text up to the next heading."""
    parts = re.split(r"^### (.+)$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_committed_api_reference_is_up_to_date() -> None:
    committed = (REPO_ROOT / DOC_FILE).read_text(encoding="utf-8")
    assert committed == render_api_reference(), (
        f"{DOC_FILE} is stale; regenerate it with: python hack/gen-docs.py"
    )


def test_rendering_is_deterministic() -> None:
    assert render_api_reference() == render_api_reference()


def _reachable(node: Node, found: set[type]) -> None:
    if isinstance(node, ListOf):
        _reachable(node.item, found)
    elif isinstance(node, Embedded) and node.extra is not None:
        _reachable(node.extra, found)
    elif isinstance(node, ObjectType) and node.cls not in found:
        found.add(node.cls)
        for field in node.fields:
            _reachable(field.node, found)


def test_every_api_type_and_field_is_documented() -> None:
    sections = _sections(render_api_reference())
    reachable: set[type] = set()
    for root in (v2.LocustTest, v1.LocustTest):
        _reachable(object_type(root), reachable)
    documented = [t for group in documented_types() for t in group]
    assert {t.cls for t in documented} == reachable
    for obj in documented:
        heading = f"v1 {obj.cls.__name__}" if obj.cls.__module__ == v1.__name__ else None
        body = sections[heading or obj.cls.__name__]
        for field in obj.fields:
            if obj.cls in (v2.LocustTest, v1.LocustTest) and field.json_name in (
                "apiVersion",
                "kind",
                "metadata",
            ):
                continue
            assert f"| `{field.json_name}` |" in body, (obj.cls.__name__, field.json_name)


def test_defaults_and_constraints_are_shown() -> None:
    sections = _sections(render_api_reference())
    replicas = next(r for r in sections["WorkerSpec"].splitlines() if "`replicas`" in r)
    assert "| yes |" in replicas and "1 to 500" in replicas
    timeout = next(r for r in sections["Autoquit"].splitlines() if "`timeout`" in r)
    assert "`60`" in timeout and "at least 0" in timeout
    pull = next(r for r in sections["LocustTestSpec"].splitlines() if "`imagePullPolicy`" in r)
    assert '`"IfNotPresent"`' in pull and "one of `Always`, `IfNotPresent`, `Never`" in pull


def _reason_constants() -> set[str]:
    values = set()
    for name, value in vars(conditions).items():
        public = name.isupper() and not name.startswith("_")
        if public and isinstance(value, str) and re.fullmatch(r"[A-Z][A-Za-z]+", value):
            values.add(value)
    return values


def test_every_phase_condition_type_and_reason_is_documented() -> None:
    text = render_api_reference()
    constants = _reason_constants()
    assert {"Pending", "Ready", "SpecChangeIgnored", "CrashLoopBackOff"} <= constants
    for value in constants:
        assert f"`{value}`" in text, value


def test_the_schemas_phase_enum_lists_the_status_phases() -> None:
    assert get_args(status.Phase) == conditions.PHASES


def test_condition_types_are_documented_once_each_with_unique_reasons() -> None:
    types = [kind.word for kind in conditions.CONDITION_TYPES]
    assert len(types) == len(set(types))
    for kind in conditions.CONDITION_TYPES:
        reasons = [reason.word for reason in kind.reasons]
        assert reasons and len(reasons) == len(set(reasons)), kind.word


def test_every_v1_field_mapping_is_documented() -> None:
    text = render_api_reference()
    mapping = text.split("## v1 to v2 mapping", 1)[1]
    for aspect in conversion.ASPECTS:
        assert f"| `spec.{aspect.v1_key}` |" in mapping
    assert conversion.V2_SPEC_ANNOTATION in mapping and conversion.V1_SPEC_ANNOTATION in mapping


def test_internal_links_point_at_headings() -> None:
    text = render_api_reference()
    anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and links <= anchors, links - anchors


def test_slugs_follow_github() -> None:
    assert slug("locust.io/v1 (deprecated)") == "locustiov1-deprecated"
    assert slug("v1 LocustTestSpec") == "v1-locusttestspec"
