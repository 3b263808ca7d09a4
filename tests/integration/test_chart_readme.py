"""The chart README's RBAC table says what the chart grants the operator, no more, no less:
compared with the rules `helm template` renders (webhooks on, leader election on)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.chart_helpers import CHART_DIR, render, tools_bin

VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}


def readme_table() -> dict[str, set[str]]:
    """resource (without its group) -> verbs, from the README's "## RBAC" table."""
    text = (CHART_DIR / "README.md").read_text()
    section = text.split("\n## RBAC\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for row in re.findall(r"^\|\s*`([^`]+)`[^|]*\|([^|]*)\|", section, re.M):
        resource = row[0].split(".", 1)[0] if "/" not in row[0] else row[0]
        table.setdefault(resource, set()).update(
            word for word in re.findall(r"[a-z]+", row[1]) if word in VERBS
        )
    return table


def granted(tmp_path: Path) -> dict[str, set[str]]:
    # Every optional grant on: webhooks, and results through the API server's proxy.
    values = {"webhook": {"enabled": True}, "controller": {"resultsMasterAccess": "proxy"}}
    docs = render(tools_bin(), tmp_path, values)
    rules: dict[str, set[str]] = {}
    for doc in docs:
        labels = doc["metadata"].get("labels") or {}
        if doc["kind"] not in ("Role", "ClusterRole") or any(
            key.startswith("rbac.authorization.k8s.io/aggregate-to-") for key in labels
        ):
            continue
        if doc["metadata"]["name"].endswith("-locusttests-view"):
            continue  # the role for people who may read tests, not the operator's
        for rule in doc.get("rules") or []:
            for resource in rule["resources"]:
                rules.setdefault(resource, set()).update(rule["verbs"])
    return rules


def test_the_rbac_table_lists_exactly_what_the_chart_grants(tmp_path: Path) -> None:
    table, rules = readme_table(), granted(tmp_path)
    assert table == rules, (
        "charts/locust-k8s-operator/README.md's RBAC table differs from templates/rbac.yaml:\n"
        + "\n".join(
            f"  {resource}: README {sorted(table.get(resource, ()))}, "
            f"chart {sorted(rules.get(resource, ()))}"
            for resource in sorted(set(table) | set(rules))
            if table.get(resource) != rules.get(resource)
        )
    )
