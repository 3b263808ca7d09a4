"""The piecewise conversion of large reviews answers byte for byte as json.loads and
convert_review do, for well-formed and malformed reviews alike."""

from __future__ import annotations

import json
import string
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from locust_operator.webhook import large_conversion
from locust_operator.webhook.large_conversion import (
    Irregular,
    answer,
    fast_answer,
    reference_answer,
    uid_in,
)
from tests.unit.api.strategies import v1_objects, v2_objects

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

REVIEW = ("apiextensions.k8s.io/v1", "ConversionReview")
# Windows of a few bytes put every token on a window's edge somewhere.
WINDOWS = st.sampled_from([1, 2, 5, 16, 64, 1024 * 1024])

_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.text(alphabet="é€\U0001f600\\\"'/\n\t", max_size=4),
)
json_values = st.recursive(
    _json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def unconvertible(draw: st.DrawFn) -> Any:
    obj = dict(draw(st.one_of(v1_objects(), v2_objects())))
    key, value = draw(
        st.sampled_from(
            [
                ("kind", "Pod"),
                ("apiVersion", "locust.io/v9"),
                ("spec", "nope"),
                ("metadata", [1]),
                ("metadata", {"annotations": 3}),
            ]
        )
    )
    obj[key] = value
    return obj


convertible = st.one_of(
    v1_objects(),
    v2_objects(),
    st.fixed_dictionaries({"apiVersion": st.just("locust.io/v2"), "kind": st.just("LocustTest")}),
)
Member = tuple[str, Any]


class Raw:
    """A JSON object whose members are written as they are, in order (keys may repeat)."""

    def __init__(self, items: list[Member]) -> None:
        self.items = items


def write(value: Any, space: str, ascii_only: bool) -> str:
    if isinstance(value, Raw):
        inner = f",{space}".join(
            f"{json.dumps(k, ensure_ascii=ascii_only)}{space}:{space}{write(v, space, ascii_only)}"
            for k, v in value.items
        )
        return "{" + space + inner + space + "}"
    return json.dumps(value, ensure_ascii=ascii_only, separators=(f",{space}", f":{space}"))


@st.composite
def arranged(draw: st.DrawFn, wanted: list[Member], odd: bool) -> Raw:
    """An object with these members in some order, with others the reviewer ignores, and
    perhaps a key written twice (json.loads takes the last). Odd: a member may be missing,
    or repeated with another value."""
    chosen = list(wanted)
    keys = [k for k, _ in wanted]
    for key in draw(st.lists(st.sampled_from(["response", "x", "status"]), max_size=2)):
        chosen.append((key, draw(json_values)))
    if draw(st.booleans()):  # an earlier value for a key, overridden by the one that follows
        key = draw(st.sampled_from(keys))
        chosen.insert(keys.index(key), (key, draw(json_values)))
    if odd and draw(st.booleans()):
        del chosen[draw(st.integers(0, len(chosen) - 1))]
    if odd and draw(st.booleans()):
        chosen.append((draw(st.sampled_from(keys)), draw(json_values)))
    return Raw(draw(st.permutations(chosen)) if draw(st.booleans()) else chosen)


@st.composite
def reviews(draw: st.DrawFn, odd: bool = False) -> bytes:
    """Review bodies: well-formed (as the apiserver's, in any order, spacing and encoding),
    or odd ones, with wrong values here and there."""
    api_version, kind = REVIEW
    desired = draw(st.sampled_from(["locust.io/v1", "locust.io/v2"]))
    uid = draw(st.sampled_from(["705ab4f5-6393-11e8", "ü-ñ"]))
    items: Any = draw(st.lists(convertible, max_size=5))
    request: Any = [("uid", uid), ("desiredAPIVersion", desired), ("objects", items)]
    top: list[Member] = [("kind", kind), ("apiVersion", api_version)]
    wrong = draw(st.sampled_from(ODD)) if odd else ""
    if wrong == "kind":
        top[draw(st.integers(0, 1))] = (
            draw(st.sampled_from(["kind", "apiVersion"])),
            draw(st.sampled_from(["AdmissionReview", "v1beta1", None, 3, [1]])),
        )
    elif wrong == "uid":
        request[0] = ("uid", draw(st.sampled_from(["", None, 7])))
    elif wrong == "desired":
        request[1] = ("desiredAPIVersion", draw(st.sampled_from(["locust.io/v3", "", None])))
    elif wrong == "objects":
        request[2] = ("objects", draw(json_values))
    elif wrong == "items":
        items = draw(st.lists(st.one_of(convertible, unconvertible(), json_values), max_size=5))
        request[2] = ("objects", items)
    request = draw(arranged(request, wrong == "members"))
    if wrong == "request":
        request = draw(json_values)
    review = draw(arranged([*top, ("request", request)], wrong == "members"))
    space = draw(st.sampled_from(["", " ", "\n", " \t\r\n "]))
    text = write(review, space, ascii_only=draw(st.booleans()))
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from([" ", "\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32-le"]))
    return text.encode(encoding, "surrogatepass")


# (Hypothesis draws the first ones more often.)
ODD = ["items", "members", "desired", "items", "uid", "objects", "request", "kind"]
any_reviews = st.one_of(reviews(), reviews(odd=True))


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A review body cut short, or with bytes removed, changed or added."""
    body = bytearray(draw(any_reviews))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(body)))
        how = draw(st.sampled_from(["cut", "delete", "insert", "replace"]))
        if how == "cut":
            del body[at:]
            continue
        if how == "delete":
            del body[at : at + draw(st.integers(1, 3))]
            continue
        new = draw(
            st.sampled_from(
                [
                    *(b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b" ", b"0", b"-", b"e"),
                    *(b"x", b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80", "é".encode(), b",]", b",}"),
                ]
            )
        )
        body[at : at + (how == "replace")] = new
    return bytes(body)


def same_answers(raw: bytes, window: int) -> None:
    expected = reference_answer(raw)
    with mock.patch.object(large_conversion, "WINDOW_BYTES", window):
        got = answer(raw)
    assert (got.status, got.body, got.reason) == (expected.status, expected.body, expected.reason)


@PROPERTY_SETTINGS
@given(any_reviews, WINDOWS)
def test_reviews_get_the_reference_answer(raw: bytes, window: int) -> None:
    same_answers(raw, window)


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.one_of(convertible, unconvertible(), st.dictionaries(st.text(max_size=3), json_values)),
        min_size=2,
        max_size=6,
    ),
    st.sampled_from(["locust.io/v1", "locust.io/v2"]),
    WINDOWS,
)
def test_the_first_object_that_fails_fails_the_review(
    items: list[Any], desired: str, window: int
) -> None:
    review = {
        "kind": "ConversionReview",
        "apiVersion": "apiextensions.k8s.io/v1",
        "request": {"uid": "u", "desiredAPIVersion": desired, "objects": items},
    }
    same_answers(json.dumps(review).encode(), window)


@PROPERTY_SETTINGS
@given(damaged(), WINDOWS)
def test_damaged_reviews_get_the_reference_answer(raw: bytes, window: int) -> None:
    same_answers(raw, window)


@PROPERTY_SETTINGS
@given(any_reviews, WINDOWS)
def test_json_objects_are_answered_piecewise(raw: bytes, window: int) -> None:
    """Not by falling back to the reference: whatever the order, repeats or encoding."""
    assume(isinstance(json.loads(raw), dict))
    with mock.patch.object(large_conversion, "WINDOW_BYTES", window):
        fast_answer(raw)


@PROPERTY_SETTINGS
@given(st.lists(v2_objects(), min_size=1, max_size=4), st.integers(0, 3))
def test_a_conversion_answer_is_json_dumps_of_convert_review(
    items: list[dict[str, Any]], extra_spaces: int
) -> None:
    raw = json.dumps(
        {
            "kind": "ConversionReview",
            "apiVersion": "apiextensions.k8s.io/v1",
            "request": {"uid": "u", "desiredAPIVersion": "locust.io/v1", "objects": items},
        },
        indent=extra_spaces or None,
    ).encode()
    got = fast_answer(raw)
    assert got.status == 200
    assert got.body == reference_answer(raw).body
    assert json.loads(got.body)["response"]["result"] == {"status": "Success"}


DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECTS = (
    b'{"kind": "ConversionReview", "apiVersion": "apiextensions.k8s.io/v1", "request": '
    b'{"uid": "u", "desiredAPIVersion": "locust.io/v1", "objects": [' + DEEP + b"]}}"
)
LONG_INTEGER = b'{"kind": "ConversionReview", "request": {"uid": ' + b"9" * 5000 + b"}}"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"not json",
        b"[]",
        b"{}",
        b"{} {}",
        b'{"a": 1,}',
        b'{"request": {"objects": [1,]}}',
        b'{"request": {"objects": [1 2]}}',
        b"\xff\xfe",
        b"\xef\xbb\xbf{}",
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
        '{"kind": "é"}'.encode("utf-16"),
        b'{"kind": "ConversionReview", "request": 3}',
        DEEP,
        DEEP_OBJECTS,
        LONG_INTEGER,
        b'{"request": {"objects": [1e5, 1.5, -0, 1E+2, Infinity, -Infinity, NaN]}}',
    ],
)
@pytest.mark.parametrize("window", [1, 3, 1024 * 1024])
def test_odd_bodies_get_the_reference_answer(raw: bytes, window: int) -> None:
    same_answers(raw, window)


def test_the_uid_is_found_at_the_start_of_a_body() -> None:
    apiserver = (
        b'{"kind":"ConversionReview","apiVersion":"apiextensions.k8s.io/v1","request":'
        b'{"uid":"0a1b","desiredAPIVersion":"locust.io/v1","objects":[{"apiVersion":"locu'
    )
    assert uid_in(apiserver) == "0a1b"
    assert uid_in(b'{"request": {"objects": [], "uid": "late"') == "late"
    assert uid_in(b'{"kind": "ConversionReview", "request": {"uid": ""}}') is None
    assert uid_in(b'{"request": {"uid": "cut') is None
    assert uid_in(b"\xff[") is None
    assert uid_in(string.printable.encode()) is None
    with pytest.raises(Irregular):
        fast_answer(b"[1, 2]")  # not an object: the reference says what it is
