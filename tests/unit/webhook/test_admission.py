"""AdmissionReview handling: what is judged, how denials read, and malformed bodies."""

from __future__ import annotations

from typing import Any

import pytest

from locust_operator.api.validation import FieldError
from locust_operator.webhook.admission import BadAdmissionReview, review_admission


def _review(operation: str, obj: Any, old: Any = None) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "u-1", "operation": operation, "object": obj, "oldObject": old},
    }


def _reject_everything(_obj: dict[str, Any]) -> list[FieldError]:
    return [FieldError("spec.worker.replicas", "must be at least 1; set worker.replicas to 1..500")]


TEST = {"metadata": {"name": "t"}, "spec": {"image": "x"}}


def test_create_is_judged_and_the_denial_names_field_and_fix() -> None:
    answer = review_admission(_review("CREATE", TEST), _reject_everything)
    response = answer["response"]
    assert answer["kind"] == "AdmissionReview" and response["uid"] == "u-1"
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    assert response["status"]["message"] == (
        'LocustTest "t" is invalid: spec.worker.replicas: must be at least 1; '
        "set worker.replicas to 1..500"
    )
    assert response["status"]["details"]["causes"][0]["field"] == "spec.worker.replicas"


def test_a_valid_object_is_allowed() -> None:
    answer = review_admission(_review("CREATE", TEST), lambda _o: [])
    assert answer["response"] == {"uid": "u-1", "allowed": True}


def test_metadata_only_updates_are_never_blocked() -> None:
    # e.g. removing the finalizer of a test created before a rule existed
    old = {**TEST, "metadata": {"name": "t", "finalizers": ["locust.io/cleanup"]}}
    answer = review_admission(_review("UPDATE", TEST, old), _reject_everything)
    assert answer["response"]["allowed"] is True


def test_spec_updates_are_judged() -> None:
    new = {**TEST, "spec": {"image": "y"}}
    answer = review_admission(_review("UPDATE", new, TEST), _reject_everything)
    assert answer["response"]["allowed"] is False


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "JSON object"),
        ({"kind": "ConversionReview"}, "kind must be AdmissionReview"),
        ({"kind": "AdmissionReview"}, "request is missing"),
        ({"kind": "AdmissionReview", "request": {"operation": "CREATE"}}, "request.uid"),
        (
            {"kind": "AdmissionReview", "request": {"uid": "u", "operation": "CREATE"}},
            "request.object",
        ),
    ],
)
def test_malformed_reviews_raise_with_a_reason(body: Any, reason: str) -> None:
    with pytest.raises(BadAdmissionReview, match=reason):
        review_admission(body, _reject_everything)
