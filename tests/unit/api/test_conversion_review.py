from __future__ import annotations

import json
from typing import Any

import pytest

from locust_operator.api.conversion import BadReview, convert_review

V1_OBJ = {
    "apiVersion": "locust.io/v1",
    "kind": "LocustTest",
    "metadata": {"name": "t", "namespace": "default", "uid": "abc"},
    "spec": {"image": "locustio/locust", "masterCommandSeed": "m", "workerCommandSeed": "w"},
}


def review(desired: str, *objects: Any, uid: str = "705ab4f5-6393-11e8-b7cc-42010a800002") -> Any:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": uid, "desiredAPIVersion": desired, "objects": list(objects)},
    }


def test_converts_every_object_and_echoes_uid() -> None:
    v2_obj = {**V1_OBJ, "apiVersion": "locust.io/v2"}
    result = convert_review(review("locust.io/v2", V1_OBJ, v2_obj, uid="u-1"))
    assert result["apiVersion"] == "apiextensions.k8s.io/v1"
    assert result["kind"] == "ConversionReview"
    response = result["response"]
    assert response["uid"] == "u-1"
    assert response["result"] == {"status": "Success"}
    converted = response["convertedObjects"]
    assert [o["apiVersion"] for o in converted] == ["locust.io/v2", "locust.io/v2"]
    assert converted[0]["spec"]["master"]["command"] == "m"
    assert converted[1] == v2_obj  # already in the desired version: unchanged
    json.dumps(result)  # the HTTP layer can serialise it


def test_round_trip_through_reviews() -> None:
    to_v2 = convert_review(review("locust.io/v2", V1_OBJ))["response"]["convertedObjects"]
    back = convert_review(review("locust.io/v1", *to_v2))["response"]["convertedObjects"]
    assert back == [V1_OBJ]


def test_empty_object_list_is_a_success() -> None:
    response = convert_review(review("locust.io/v1"))["response"]
    assert response["result"] == {"status": "Success"}
    assert response["convertedObjects"] == []


@pytest.mark.parametrize(
    ("desired", "obj", "message"),
    [
        ("locust.io/v3", V1_OBJ, "locust.io/v3"),
        ("locust.io/v2", {**V1_OBJ, "kind": "Pod"}, "Pod"),
        ("locust.io/v2", {**V1_OBJ, "spec": "nope"}, "spec"),
    ],
)
def test_unconvertible_objects_fail_the_review(desired: str, obj: Any, message: str) -> None:
    response = convert_review(review(desired, obj))["response"]
    assert response["result"]["status"] == "Failure"
    assert message in response["result"]["message"]
    assert "convertedObjects" not in response


def _with(**request: Any) -> dict[str, Any]:
    body = review("locust.io/v2", V1_OBJ)
    body["request"].update(request)
    return body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "JSON object"),
        ([], "JSON object"),
        ("text", "JSON object"),
        ({}, "ConversionReview"),
        ({**review("locust.io/v2"), "apiVersion": "apiextensions.k8s.io/v1beta1"}, "v1beta1"),
        ({**review("locust.io/v2"), "kind": "AdmissionReview"}, "AdmissionReview"),
        ({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview"}, "request"),
        ({**review("locust.io/v2"), "request": []}, "request"),
        (_with(uid=None), "uid"),
        (_with(uid=""), "uid"),
        (_with(uid=7), "uid"),
        (_with(desiredAPIVersion=None), "desiredAPIVersion"),
        (_with(objects=None), "objects"),
        (_with(objects={"a": 1}), "objects"),
        (_with(objects=["x"]), "objects[0]"),
    ],
)
def test_malformed_reviews_raise_bad_review(body: Any, reason: str) -> None:
    with pytest.raises(BadReview) as info:
        convert_review(body)
    assert reason in info.value.reason
    assert isinstance(info.value, ValueError)


def test_request_without_objects_key_is_bad() -> None:
    body = review("locust.io/v2")
    del body["request"]["objects"]
    with pytest.raises(BadReview, match="objects"):
        convert_review(body)
