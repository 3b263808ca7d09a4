"""Property-based tests of validation over generated LocustTest objects."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from locust_operator.api.conversion import convert
from locust_operator.api.names import V1_API_VERSION, V2_API_VERSION
from locust_operator.api.reserved import OPERATOR_MANAGED_FLAGS
from locust_operator.api.validation import validate
from tests.unit.api.strategies import v1_objects, v2_objects

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


@PROPERTY_SETTINGS
@given(st.one_of(v1_objects(), v2_objects()))
def test_validation_never_crashes_and_always_names_a_field(obj: dict[str, Any]) -> None:
    for error in validate(obj):
        assert error.field.startswith(("spec.", "metadata.")), error
        assert error.message.strip(), error


@PROPERTY_SETTINGS
@given(v2_objects())
def test_validation_is_invariant_under_a_v1_round_trip(obj: dict[str, Any]) -> None:
    round_tripped = convert(convert(obj, V1_API_VERSION), V2_API_VERSION)
    assert validate(round_tripped) == validate(obj)


@PROPERTY_SETTINGS
@given(
    v2_objects(),
    st.sampled_from(sorted(OPERATOR_MANAGED_FLAGS)),
    st.sampled_from(["master", "worker"]),
    st.booleans(),
)
def test_a_reserved_flag_in_extra_args_is_always_rejected(
    obj: dict[str, Any], flag: str, role: str, with_value: bool
) -> None:
    bad = copy.deepcopy(obj)
    argument = f"{flag}=1" if with_value else flag
    bad["spec"][role].setdefault("extraArgs", []).append(argument)
    fields = [e.field for e in validate(bad)]
    assert any(f.startswith(f"spec.{role}.extraArgs") for f in fields), fields
