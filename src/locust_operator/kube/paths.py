"""Every API path the operator sends names objects in it: each part is checked and quoted.

lightkube joins a name and a namespace into the URL as they are, and the HTTP client then
normalises the path: a ConfigMap "name" like ``../../kube-system/configmaps/x`` would be
read in another namespace with the operator's cluster-wide permission. The spec's names
are validated at admission and by the schema; this is the last line, in one place, for
every request of every client the operator makes (:func:`guard_paths`).
"""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import quote

ALL_NAMESPACES = "*"  # lightkube's marker for a list or watch across namespaces
# What Kubernetes itself refuses as an object name in a path (IsValidPathSegmentName),
# plus what would end or restart a path (?, #) or is no name at all.
_FORBIDDEN = ("/", "%", "?", "#", "\\")


class UnsafeName(ValueError):
    """A name that cannot be an object's name in an API path."""


def path_segment(value: str, what: str) -> str:
    """``value`` quoted for a URL path, or UnsafeName naming ``what`` it was meant to be."""
    if (
        not isinstance(value, str)
        or value in ("", ".", "..")
        or any(c in value for c in _FORBIDDEN)
    ):
        raise UnsafeName(
            f"refusing {what} {value!r}: not a Kubernetes object name (a name may not be "
            "empty, '.' or '..', nor contain '/', '%', '?' or '#'); use the plain name of an "
            "object in the test's namespace"
        )
    return quote(value, safe="")


def guard_paths(client: Any) -> None:
    """Makes every request of a lightkube Client or AsyncClient check and quote the name
    and namespace it puts in the path."""
    generic: Any = getattr(client, "_client", None)
    prepare = getattr(generic, "prepare_request", None)
    if prepare is None:  # pragma: no cover - lightkube's layout changed
        raise RuntimeError("lightkube client without prepare_request: cannot guard paths")

    signature = inspect.signature(prepare)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        name, namespace = bound.arguments.get("name"), bound.arguments.get("namespace")
        if name is not None:
            bound.arguments["name"] = path_segment(name, "object name")
        if namespace is not None and namespace != ALL_NAMESPACES:
            bound.arguments["namespace"] = path_segment(namespace, "namespace")
        return prepare(*bound.args, **bound.kwargs)

    generic.prepare_request = guarded
