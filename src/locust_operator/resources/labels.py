"""Labels and annotations the operator puts on its children and their pods."""

from __future__ import annotations

from collections.abc import Mapping

from locust_operator.config import Role

from .names import child_name

TEST_NAME_LABEL = "performance-test-name"
POD_NAME_LABEL = "performance-test-pod-name"
ROLE_LABEL = "locust-role"
MANAGED_BY_LABEL = "managed-by"
MANAGED_BY = "locust-k8s-operator"
APP_LABEL = "app"

# Informers watch only the Jobs and Pods carrying this.
OPERATOR_SELECTOR: dict[str, str] = {MANAGED_BY_LABEL: MANAGED_BY}

# metadata.generation of the LocustTest a child was built from.
SPEC_GENERATION_ANNOTATION = "locust.io/spec-generation"
# The spec a child was built from, as JSON: a healed child is rebuilt from it.
APPLIED_SPEC_ANNOTATION = "locust.io/applied-spec"

PROMETHEUS_SCRAPE_ANNOTATION = "prometheus.io/scrape"
PROMETHEUS_PATH_ANNOTATION = "prometheus.io/path"
PROMETHEUS_PORT_ANNOTATION = "prometheus.io/port"
METRICS_PATH = "/metrics"


def operator_labels(test_name: str, role: Role) -> dict[str, str]:
    """The labels of a role's Job, pods (and, for the master, the Service)."""
    return {
        TEST_NAME_LABEL: test_name,
        POD_NAME_LABEL: child_name(test_name, role),
        ROLE_LABEL: role,
        MANAGED_BY_LABEL: MANAGED_BY,
        APP_LABEL: test_name,
        "app.kubernetes.io/name": "locust",
        "app.kubernetes.io/instance": test_name,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/part-of": test_name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def selector_labels(test_name: str, role: Role) -> dict[str, str]:
    """The labels that identify a role's pods (the master Service selects on these)."""
    labels = operator_labels(test_name, role)
    return {key: labels[key] for key in (TEST_NAME_LABEL, POD_NAME_LABEL, ROLE_LABEL)} | dict(
        OPERATOR_SELECTOR
    )


def pod_labels(test_name: str, role: Role, user_labels: Mapping[str, str] | None) -> dict[str, str]:
    """The operator's labels plus the user's. The labels something selects on (the operator's
    informers and lookups, the master Service, the FAQ's `kubectl -l`) always keep the
    operator's value; the descriptive ones (app, app.kubernetes.io/*) yield to the user, as
    in the reference (manifests set e.g. `app: locust-master` for their own selectors)."""
    protected = selector_labels(test_name, role) | {"app.kubernetes.io/managed-by": MANAGED_BY}
    return {**operator_labels(test_name, role), **(user_labels or {}), **protected}


def pod_annotations(
    operator: Mapping[str, str], user_annotations: Mapping[str, str] | None
) -> dict[str, str]:
    """The operator's pod annotations plus the user's, which win on a clash (as in the
    reference: users may point Prometheus elsewhere)."""
    return {**operator, **(user_annotations or {})}


def prometheus_annotations(port: int) -> dict[str, str]:
    return {
        PROMETHEUS_SCRAPE_ANNOTATION: "true",
        PROMETHEUS_PATH_ANNOTATION: METRICS_PATH,
        PROMETHEUS_PORT_ANNOTATION: str(port),
    }
