"""trusted_built: which spec a child may be rebuilt from (issue 12, finding 5)."""

from __future__ import annotations

import copy
import json

from locust_operator.config import OperatorConfig
from locust_operator.resources import (
    APPLIED_SPEC_ANNOTATION,
    build_children,
    spec_digest,
    trusted_built,
)
from locust_operator.resources.metadata import APPLIED_SPEC_MAX_BYTES
from tests.unit.resources.helpers import locust_test


def test_without_a_digest_the_test_is_taken_as_it_is() -> None:
    test = locust_test()
    assert trusted_built(test, [], None) == test


def test_a_spec_matching_the_digest_is_used_with_the_generation_the_children_recorded() -> None:
    test = locust_test()
    children = build_children(test, OperatorConfig())
    test["metadata"]["generation"] += 3  # edited and edited back
    built = trusted_built(test, [children.service], spec_digest(test["spec"]))
    assert built is not None
    assert built["spec"] == test["spec"]
    assert built["metadata"]["generation"] == test["metadata"]["generation"] - 3


def test_a_record_is_used_only_when_it_matches_the_digest() -> None:
    test = locust_test()
    original = copy.deepcopy(test["spec"])
    children = build_children(test, OperatorConfig())
    test["spec"]["worker"]["replicas"] = 7
    assert children.service.metadata is not None and children.service.metadata.annotations
    altered = {**original, "image": "evil:latest"}
    children.service.metadata.annotations[APPLIED_SPEC_ANNOTATION] = json.dumps(altered)
    digest = spec_digest(original)
    assert trusted_built(test, [children.service], digest) is None
    built = trusted_built(test, [children.service, children.worker_job], digest)
    assert built is not None and built["spec"] == original


def test_a_spec_over_the_limit_is_not_recorded() -> None:
    test = locust_test()
    test["spec"]["master"]["command"] = "a " * APPLIED_SPEC_MAX_BYTES
    built = build_children(test, OperatorConfig())
    for child in (built.service, built.master_job, built.worker_job):
        assert child.metadata is not None and child.metadata.annotations is not None
        assert APPLIED_SPEC_ANNOTATION not in child.metadata.annotations
