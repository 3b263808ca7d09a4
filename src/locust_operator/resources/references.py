"""Which objects of the test's namespace a LocustTest's spec names (its pods need them)."""

from __future__ import annotations

from locust_operator.api import v2


def config_map_names(spec: v2.LocustTestSpec) -> list[str]:
    """Every ConfigMap the pods use: test files, libraries, envFrom sources; each once."""
    names: list[str] = []
    files = spec.test_files
    if files is not None:
        names += [name for name in (files.config_map_ref, files.lib_config_map_ref) if name]
    if spec.env is not None:
        names += [ref.name for ref in spec.env.config_map_refs or [] if ref.name]
    return list(dict.fromkeys(names))
