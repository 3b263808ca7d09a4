"""How the operator reaches a master (the choice and the URLs), and the kept report's
ConfigMap (size budget, graceful degradation)."""

from __future__ import annotations

import base64
import gzip
import os
from pathlib import Path

import pytest

from locust_operator.kube.master_client import choose_access, direct_url, proxy_path
from locust_operator.resources.report import (
    CSV_KEY,
    HTML_KEY,
    build_report,
    report_config_map_name,
    report_status,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "locust"
IN_POD = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
TEST = {"metadata": {"name": "my.test", "namespace": "team-a", "uid": "u-1"}}


@pytest.mark.parametrize(
    ("setting", "env", "token", "expected"),
    [
        ("auto", IN_POD, True, "direct"),  # in a pod
        ("auto", {}, False, "proxy"),  # a laptop, CI, our tests
        ("auto", IN_POD, False, "proxy"),  # the variable alone is no pod
        ("auto", {}, True, "proxy"),
        ("direct", {}, False, "direct"),  # overrides
        ("proxy", IN_POD, True, "proxy"),
        ("off", IN_POD, True, None),
    ],
)
def test_access_choice(
    setting: str, env: dict[str, str], token: bool, expected: str | None
) -> None:
    assert choose_access(setting, env, token) == expected


def test_proxy_path_quotes_its_parts() -> None:
    assert proxy_path("team-a", "t-master", "stats/requests") == (
        "/api/v1/namespaces/team-a/services/t-master:8089/proxy/stats/requests"
    )
    assert proxy_path("a/b", "x y", "/stop") == (
        "/api/v1/namespaces/a%2Fb/services/x%20y:8089/proxy/stop"
    )


def test_direct_url_uses_the_service_dns_name() -> None:
    assert direct_url("team-a", "t-master", "stats/requests") == (
        "http://t-master.team-a.svc:8089/stats/requests"
    )


def test_report_holds_gzipped_html_and_csv_owned_by_the_test() -> None:
    html = gzip.decompress((FIXTURES / "report.html.gz").read_bytes())
    csv = (FIXTURES / "requests.csv").read_bytes()
    report = build_report(TEST, html, csv)
    cm = report.config_map
    assert cm["metadata"]["name"] == report_config_map_name("my.test") == "my-test-report"
    (owner,) = cm["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("LocustTest", "u-1", True)
    assert gzip.decompress(base64.b64decode(cm["binaryData"][HTML_KEY])) == html
    assert gzip.decompress(base64.b64decode(cm["binaryData"][CSV_KEY])) == csv
    assert report_status(report) == {"configMap": "my-test-report", "keys": [CSV_KEY, HTML_KEY]}


def test_a_report_over_the_budget_keeps_the_csv_and_says_why() -> None:
    html = os.urandom(900_000)  # incompressible: ~1.2 MB as base64
    csv = b"Type,Name\n" + b"GET,/x\n" * 1000
    report = build_report(TEST, html, csv)
    assert report.keys == (CSV_KEY,)
    assert report.message and "report.html.gz not kept" in report.message
    assert "1 MiB object limit" in report.message
    assert sum(len(v) for v in report.config_map["binaryData"].values()) < 1_000_000


def test_many_endpoints_report_stays_under_the_object_limit() -> None:
    # A report for 2000 endpoints: the real report with the stats table grown.
    html = gzip.decompress((FIXTURES / "report.html.gz").read_bytes())
    rows = b"".join(b'{"name": "/item/%d", "num_requests": %d},' % (i, i) for i in range(2000))
    report = build_report(TEST, html + rows, rows)
    total = sum(len(v) for v in report.config_map["binaryData"].values())
    assert total < 1_000_000 and report.keys == (CSV_KEY, HTML_KEY)


def test_unreadable_parts_are_named() -> None:
    report = build_report(TEST, None, b"a,b\n", {HTML_KEY: "HTTP 404"})
    assert report.keys == (CSV_KEY,) and report.message == "report.html.gz not kept: HTTP 404"
