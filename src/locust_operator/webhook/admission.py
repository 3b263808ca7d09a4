"""AdmissionReview (admission.k8s.io/v1) handling for the validating webhook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from locust_operator.api.validation import FieldError

Validator = Callable[[dict[str, Any]], list[FieldError]]
# A further, asynchronous check of an object the validator accepted: (object, namespace).
ChildrenCheck = Callable[[dict[str, Any], str | None], Awaitable[list[FieldError]]]


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
    for key in ("object", "oldObject"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise BadAdmissionReview(f"request.{key} must be an object")
    namespace = request.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise BadAdmissionReview("request.namespace must be a string")
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
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    name = name if isinstance(name, str) and name else "(unnamed)"
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


async def review_admission_with_children(
    review: object, validate: Validator, check_children: ChildrenCheck | None
) -> dict[str, Any]:
    """As :func:`review_admission`; an object the validator accepts is then judged by
    ``check_children`` (the apiserver's verdict on the resources it becomes)."""
    answer = review_admission(review, validate)
    response = answer["response"]
    request = _request_of(review)
    if check_children is None or not response["allowed"] or not _needs_validation(request):
        return answer
    obj = request["object"]
    errors = await check_children(obj, request.get("namespace"))
    # A new test named like another but for '.' and '-' (ChildrenCheck.collisions).
    collisions = getattr(check_children, "collisions", None)
    if not errors and request.get("operation") == "CREATE" and collisions is not None:
        errors = await collisions(obj, request.get("namespace"))
    if errors:
        answer["response"] = {
            "uid": request["uid"],
            "allowed": False,
            "status": _denial(obj, errors),
        }
    return answer
