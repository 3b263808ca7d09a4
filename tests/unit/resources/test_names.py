from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from locust_operator.resources import master_job_name, master_service_name, worker_job_name
from locust_operator.resources.names import child_name, secret_volume_name

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SEGMENT = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
SECRET_NAMES = (
    st.lists(_SEGMENT, min_size=1, max_size=12).map(".".join).filter(lambda name: len(name) <= 253)
)


def test_child_names() -> None:
    assert master_service_name("demo") == "demo-master"
    assert master_job_name("demo") == "demo-master"
    assert worker_job_name("demo") == "demo-worker"


def test_dots_in_test_names_become_dashes() -> None:
    # Service names are DNS-1035 labels: no dots (the reference replaces them too).
    assert master_service_name("team-a.load-test") == "team-a-load-test-master"
    assert child_name("a.b", "worker") == "a-b-worker"


def test_simple_secret_names_keep_the_reference_volume_name() -> None:
    assert secret_volume_name("tls-certs") == "secret-tls-certs"
    assert secret_volume_name("x" * 56) == "secret-" + "x" * 56


def test_dotted_or_long_secret_names_get_a_valid_hashed_name() -> None:
    dotted = secret_volume_name("api.example.com")
    assert dotted.startswith("secret-api-example-com-")
    assert DNS1123_LABEL.fullmatch(dotted)
    long = secret_volume_name("y" * 200)
    assert len(long) <= 63
    assert DNS1123_LABEL.fullmatch(long)
    # Same after sanitising, still distinct volumes.
    assert secret_volume_name("a.b") != secret_volume_name("a-b")


@given(SECRET_NAMES)
def test_any_secret_name_yields_a_valid_deterministic_volume_name(name: str) -> None:
    volume = secret_volume_name(name)
    assert len(volume) <= 63
    assert DNS1123_LABEL.fullmatch(volume)
    assert volume.startswith("secret-")
    assert secret_volume_name(name) == volume


@given(SECRET_NAMES, SECRET_NAMES)
def test_distinct_secret_names_yield_distinct_volume_names(a: str, b: str) -> None:
    assert (secret_volume_name(a) == secret_volume_name(b)) == (a == b)
