"""AdmissionReview (admission.k8s.io/v1) handling for the validating webhook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from locust_operator.api.validation import FieldError

Validator = Callable[[dict[str, Any]], list[FieldError]]


class BadAdmissionReview(ValueError):
    """The request body is not an AdmissionReview we can answer (HTTP 400)."""


def _request_of(review: object) -> dict[str, Any]:
    if not isinstance(review, dict):
        raise BadAdmissionReview("body must be a JSON object (an AdmissionReview)")
    if review.get("kind") != "AdmissionReview":
        raise BadAdmissionReview(f"kind must be AdmissionReview, not {review.get('kind')!r}")
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadAdmissionReview("request is missing or not an object")
    if not isinstance(request.get("uid"), str) or not request["uid"]:
        raise BadAdmissionReview("request.uid is missing")
    return request


def _needs_validation(request: dict[str, Any]) -> bool:
    operation = request.get("operation")
    if operation == "CREATE":
        return True
    if operation != "UPDATE":
        return False
    new, old = request.get("object") or {}, request.get("oldObject") or {}
    # Metadata-only updates (labels, finalizer removal during deletion) must never be
    # blocked by a rule the object was created before; only spec changes are judged.
    return bool(new.get("spec") != old.get("spec"))


def _denial(obj: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    name = (obj.get("metadata") or {}).get("name") or "(unnamed)"
    details = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return {
        "code": 422,
        "reason": "Invalid",
        "message": f'LocustTest "{name}" is invalid: {details}',
        "details": {
            "name": name,
            "group": "locust.io",
            "kind": "LocustTest",
            "causes": [
                {"reason": "FieldValueInvalid", "field": e.field, "message": e.message}
                for e in errors
            ],
        },
    }


def review_admission(review: object, validate: Validator) -> dict[str, Any]:
    """Answers one AdmissionReview; raises BadAdmissionReview for malformed bodies."""
    request = _request_of(review)
    response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
    if _needs_validation(request):
        obj = request.get("object")
        if not isinstance(obj, dict):
            raise BadAdmissionReview("request.object is missing or not an object")
        errors = validate(obj)
        if errors:
            response = {"uid": request["uid"], "allowed": False, "status": _denial(obj, errors)}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    }
