"""A lost apiserver is one warning and one recovery line, however many callers fail."""

from __future__ import annotations

import logging

import httpx2
import pytest

from locust_operator.kube.reachability import ApiReachability, is_connection_error, reachability


def test_connection_failures_are_told_apart_from_answers() -> None:
    assert is_connection_error(httpx2.ConnectError("All connection attempts failed"))
    assert is_connection_error(httpx2.RemoteProtocolError("peer closed connection"))
    assert is_connection_error(ConnectionRefusedError())
    assert not is_connection_error(ValueError("a bug"))


def test_an_outage_is_one_warning_then_one_line_when_it_answers_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = ApiReachability("https://127.0.0.1:6443")
    caplog.set_level(logging.INFO, logger="locust_operator.kube.reachability")
    for what in ("Pod", "Job", "Service", "LocustTest", "reconcile") * 5:
        assert tracker.failed(httpx2.ConnectError("All connection attempts failed"), what)
    assert not tracker.reachable
    tracker.answered()
    tracker.answered()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0][0] == "WARNING"
    assert "apiserver https://127.0.0.1:6443 unreachable" in lines[0][1]
    assert "ConnectError: All connection attempts failed" in lines[0][1]
    assert "retrying quietly until it answers" in lines[0][1]
    assert lines[1][0] == "INFO"
    assert "https://127.0.0.1:6443 answers again" in lines[1][1]
    assert tracker.reachable and tracker.outages == 1


def test_other_errors_are_left_to_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    tracker = ApiReachability("https://127.0.0.1:6443")
    assert not tracker.failed(KeyError("status"), "reconcile")
    assert tracker.reachable
    assert caplog.records == []


def test_everything_using_one_client_shares_one_tracker() -> None:
    class Client:
        pass

    client = Client()
    assert reachability(client) is reachability(client)
    assert reachability(client) is not reachability(Client())
