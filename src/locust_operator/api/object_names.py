"""Every name a spec carries of an object in the test's namespace is the Kubernetes name it
stands for (issue 12, finding 4): ConfigMap and Secret names are DNS-1123 subdomains, volume
names DNS-1123 labels. The schema declares the same patterns (:mod:`.v2`); the webhook says
which field and the fix. A name is never a path: ``../../kube-system/configmaps/x`` is
refused here, and the operator's clients refuse it again before any request
(kube/paths.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .dns_names import (
    MAX_LABEL_LENGTH,
    MAX_SUBDOMAIN_LENGTH,
    is_dns1123_label,
    is_dns1123_subdomain,
)

SUBDOMAIN_RULE = (
    f"a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with "
    f"a letter or digit, at most {MAX_SUBDOMAIN_LENGTH} characters"
)
LABEL_RULE = (
    "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter "
    f"or digit, at most {MAX_LABEL_LENGTH} characters"
)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _named(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(field, value, what it names) of every object name the spec holds."""
    files = _dict(spec.get("testFiles"))
    for ref in ("configMapRef", "libConfigMapRef"):
        if files.get(ref) not in (None, ""):  # '' means unset, as v1 manifests write it
            yield f"spec.testFiles.{ref}", files[ref], "ConfigMap"
    env = _dict(spec.get("env"))
    for key, what in (("configMapRefs", "ConfigMap"), ("secretRefs", "Secret")):
        for i, item in enumerate(_list(env.get(key))):
            yield f"spec.env.{key}[{i}].name", _dict(item).get("name"), what
    for i, item in enumerate(_list(env.get("secretMounts"))):
        yield f"spec.env.secretMounts[{i}].name", _dict(item).get("name"), "Secret"
    for i, item in enumerate(_list(spec.get("imagePullSecrets"))):
        yield f"spec.imagePullSecrets[{i}].name", _dict(item).get("name"), "Secret"


def object_name_errors(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, message) for each name that is not the Kubernetes name it stands for."""
    for field, value, what in _named(spec):
        if isinstance(value, str) and is_dns1123_subdomain(value):
            continue
        yield (
            field,
            f"{value!r} is not a valid {what} name: it must be {SUBDOMAIN_RULE}; name a "
            f"{what} in the test's namespace, e.g. 'locust-scripts'",
        )
    for i, volume in enumerate(_list(spec.get("volumes"))):
        name = _dict(volume).get("name")
        if isinstance(name, str) and is_dns1123_label(name):
            continue
        yield (
            f"spec.volumes[{i}].name",
            f"{name!r} is not a valid volume name: it must be {LABEL_RULE}, e.g. 'data'",
        )
