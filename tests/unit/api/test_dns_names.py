from __future__ import annotations

import pytest

from locust_operator.api.dns_names import is_dns1123_label, is_dns1123_subdomain


@pytest.mark.parametrize("name", ["a", "demo", "my-test-1", "0x", "a" * 63])
def test_valid_labels(name: str) -> None:
    assert is_dns1123_label(name)
    assert is_dns1123_subdomain(name)


@pytest.mark.parametrize("name", ["", "-a", "a-", "Demo", "a.b", "a_b", "a" * 64])
def test_invalid_labels(name: str) -> None:
    assert not is_dns1123_label(name)


@pytest.mark.parametrize("name", ["a.b", "locust.io", "x-1.y-2.z", ("a" * 63 + ".") * 3 + "a" * 61])
def test_valid_subdomains(name: str) -> None:
    assert is_dns1123_subdomain(name)


@pytest.mark.parametrize("name", ["", ".a", "a.", "a..b", "A.b", "a_b.c", "a" * 254])
def test_invalid_subdomains(name: str) -> None:
    assert not is_dns1123_subdomain(name)
