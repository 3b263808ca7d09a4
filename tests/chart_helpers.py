"""Helpers for the Helm chart's tests: running helm, rendering the chart, and acting as the
chart's ServiceAccount.

The chart's copy of the CRD is written by `make crd` with config/crd's; a unit test fails
when either drifts.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from lightkube import AsyncClient, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.authorization_v1 import ResourceAttributes, SubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.authorization_v1 import SubjectAccessReview
from lightkube.resources.core_v1 import ServiceAccount

REPO_ROOT = Path(__file__).resolve().parent.parent
CHART_DIR = REPO_ROOT / "charts" / "locust-k8s-operator"
CONFIG_CRD = REPO_ROOT / "config" / "crd" / "locust.io_locusttests.yaml"
CHART_CRD = CHART_DIR / "files" / CONFIG_CRD.name
# `helm template` without a cluster assumes an old Kubernetes; the chart needs 1.29+.
KUBE_VERSION = "1.34.0"


def tools_bin() -> Path:
    """The directory with helm and kubectl (built by hack/build-tools.sh, cached)."""
    from localcluster.cluster import build_tools

    return build_tools()


def helm(
    bin_dir: Path, *args: str, kubeconfig: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [str(bin_dir / "helm"), *args]
    if kubeconfig is not None:
        command.append(f"--kubeconfig={kubeconfig}")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}{result.stdout}"
        )
    return result


def values_args(tmp_dir: Path, values: Mapping[str, Any] | None, name: str = "values") -> list[str]:
    """`--values FILE` for a dict of values (written as YAML under tmp_dir)."""
    if not values:
        return []
    path = tmp_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(dict(values)))
    return ["--values", str(path)]


def render(
    bin_dir: Path,
    tmp_dir: Path,
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "lko",
    namespace: str = "locust-operator-system",
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The manifests `helm template` renders, parsed (NOTES.txt excluded)."""
    out = helm(
        bin_dir,
        "template",
        release,
        str(CHART_DIR),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
        *values_args(tmp_dir, values),
        *extra,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(
    docs: Sequence[dict[str, Any]], kind: str, name: str | None = None
) -> list[dict[str, Any]]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: Sequence[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def operator_container(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    deployment = one(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def plain_env(container: Mapping[str, Any]) -> dict[str, str]:
    """The container's literal environment variables (valueFrom ones left out)."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


# --- acting as the chart's ServiceAccount --------------------------------------------------


async def service_account_token(
    kube: AsyncClient, name: str, namespace: str, seconds: int = 3600
) -> str:
    """A token for the ServiceAccount, from the TokenRequest API (as a kubelet gets one)."""
    request = ServiceAccount.Token(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=TokenRequestSpec(audiences=[], expirationSeconds=seconds),
    )
    issued = await kube.create(request, name, namespace=namespace)
    assert issued.status is not None
    return str(issued.status.token)


def write_token_kubeconfig(admin_kubeconfig: Path, token: str, path: Path) -> Path:
    """A kubeconfig for the admin's cluster (server and CA) that authenticates with token."""
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    cluster = admin["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "service-account", "user": {"token": token}}],
        "contexts": [
            {
                "name": "service-account",
                "context": {"cluster": cluster["name"], "user": "service-account"},
            }
        ],
        "current-context": "service-account",
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


def token_client(kubeconfig: Path) -> AsyncClient:
    return AsyncClient(config=KubeConfig.from_file(str(kubeconfig)), field_manager="tests")


async def status_code(call: Any) -> int:
    """The HTTP status of an awaited lightkube call: 200 when it succeeds."""
    try:
        await call
    except ApiError as error:
        return int(error.status.code or 0)
    except Exception as error:  # a watch fails with the HTTP client's status error
        response = getattr(error, "response", None)
        if response is None:
            raise
        return int(response.status_code)
    return 200


async def can_i(
    kube: AsyncClient,
    user: str,
    verb: str,
    resource: str,
    *,
    group: str = "",
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> bool:
    """Whether RBAC lets ``user`` do it (a SubjectAccessReview, asked as the admin)."""
    review = SubjectAccessReview(
        spec=SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", "system:authenticated"],
            resourceAttributes=ResourceAttributes(
                verb=verb,
                group=group,
                resource=resource,
                namespace=namespace,
                name=name,
                subresource=subresource,
            ),
        )
    )
    answer = await kube.create(review)
    assert answer.status is not None
    return bool(answer.status.allowed)


def service_account_user(name: str, namespace: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"
