"""The reference manifests in ``../shared/compat`` (read at test time, never copied)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "compat" / "reference-manifests"

# ConfigMaps the LocustTests refer to, not LocustTests themselves.
NOT_LOCUSTTESTS = {"env-configmap.yaml", "test-config.yaml"}


def reference_names() -> list[str]:
    """File names of the LocustTest manifests (empty if the corpus is absent)."""
    if not REFERENCE_DIR.is_dir():
        return []
    return sorted(p.name for p in REFERENCE_DIR.glob("*.yaml") if p.name not in NOT_LOCUSTTESTS)


def load(name: str) -> dict[str, Any]:
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.skip(f"reference manifests not available ({REFERENCE_DIR})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def require_corpus() -> None:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference manifests not available ({REFERENCE_DIR})")


def params(names: list[str]) -> list[Any]:
    """pytest parameters; a single skipping one when the corpus is absent."""
    if not names:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no ../shared/compat"))]
    return names
