"""status.results from recorded real Locust 2.47 payloads (tests/fixtures/locust, recorded
by hack/record-locust-stats.py), and what the results do to the status."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from locust_operator.api.results import MAX_ENDPOINT_ROWS
from locust_operator.controller.results import (
    ENDED_BY_OPERATOR,
    NotStats,
    apply_results,
    final_results,
    live_results,
    parse_stats,
    same_results,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "locust"
STAMP = "2025-01-01T00:00:00Z"


def payload(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_running_payload_gives_live_aggregate() -> None:
    snapshot = parse_stats(payload("stats-running.json"))
    live = live_results(snapshot)
    assert snapshot.state == "running"
    assert live == {
        "state": "running",
        "users": 4,
        "workers": 1,
        "requests": 435,
        "failures": 70,
        "failRatio": 0.1609,
        "totalRps": 62.0,
        "avgResponseTime": 12.3,
        "p50ResponseTime": 5.0,
        "p95ResponseTime": 27.0,
        "p99ResponseTime": 50.0,
        "maxResponseTime": 121.0,
        "currentRps": 52.2,
    }


def test_stopped_payload_gives_final_results_with_endpoints() -> None:
    final = final_results(parse_stats(payload("stats-stopped.json")))
    assert final["final"] is True and final["state"] == "stopped"
    assert "currentRps" not in final  # stale once stopped
    assert (final["requests"], final["failures"]) == (502, 83)
    # The busiest endpoint first; they add up to the aggregate.
    assert [(e["method"], e["name"], e["requests"]) for e in final["endpoints"]] == [
        ("GET", "/", 245),
        ("GET", "/slow", 174),
        ("GET", "/fail", 83),
    ]
    assert sum(e["failures"] for e in final["endpoints"]) == final["failures"]
    fail = next(e for e in final["endpoints"] if e["name"] == "/fail")
    assert fail["failRatio"] == 1.0
    assert "endpointsOmitted" not in final


def test_csv_fixture_agrees_with_the_json() -> None:
    rows = (FIXTURES / "requests.csv").read_text().splitlines()
    aggregated = next(r for r in rows if r.startswith(",Aggregated,"))
    assert aggregated.split(",")[2:4] == ["502", "83"]


def test_ready_payload_before_a_run() -> None:
    snapshot = parse_stats(payload("stats-ready.json"))
    assert snapshot.state == "ready"
    assert snapshot.results["requests"] == 0 and snapshot.results["workers"] == 1
    assert snapshot.results["endpoints"] == []


def test_endpoint_rows_are_capped() -> None:
    data = payload("stats-stopped.json")
    row = data["stats"][0]
    data["stats"] = [
        {**row, "name": f"/item/{i}", "num_requests": i + 1} for i in range(MAX_ENDPOINT_ROWS + 7)
    ] + [data["stats"][-1]]
    final = final_results(parse_stats(data))
    assert len(final["endpoints"]) == MAX_ENDPOINT_ROWS
    assert final["endpointsOmitted"] == 7
    assert final["endpoints"][0]["name"] == f"/item/{MAX_ENDPOINT_ROWS + 6}"


@pytest.mark.parametrize(
    "bad",
    [None, [], "text", {"state": "running"}, {"stats": []}, {"state": 3, "stats": []}],
)
def test_not_stats_is_rejected_cleanly(bad: Any) -> None:
    with pytest.raises(NotStats):
        parse_stats(bad)


def test_hostile_values_are_dropped_not_raised() -> None:
    data = payload("stats-running.json")
    data["user_count"] = "many"
    data["worker_count"] = -3
    data["fail_ratio"] = 1e308 * 10  # inf
    data["stats"][-1]["num_requests"] = True
    data["stats"][-1]["avg_response_time"] = float("nan")
    data["stats"].insert(0, "junk")
    data["state"] = "x" * 10_000
    results = parse_stats(data).results
    assert "users" not in results and "workers" not in results
    assert "requests" not in results and "avgResponseTime" not in results
    assert len(results["state"]) == 32


def test_same_results_ignores_only_the_read_time() -> None:
    a = {"requests": 1, "lastUpdateTime": STAMP}
    assert same_results(a, {"requests": 1})
    assert not same_results(a, {"requests": 2})


# --- folding results into the reconciler's status ---------------------------------------------


def running_status() -> dict[str, Any]:
    return {"phase": "Running", "observedGeneration": 1, "conditions": []}


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_results_are_carried_and_available_condition_set() -> None:
    results = live_results(parse_stats(payload("stats-running.json")))
    previous = {**running_status(), "results": results}
    out = apply_results(previous, running_status(), [], 1, STAMP)
    assert out["results"] == results
    assert conditions(out)["ResultsAvailable"]["status"] == "True"


def test_unreachable_master_is_a_condition_not_a_failure() -> None:
    previous = {**running_status(), "results": {"error": "connection refused"}}
    out = apply_results(previous, running_status(), [{"metric": "failures", "max": 0}], 1, STAMP)
    assert out["phase"] == "Running"
    ra = conditions(out)["ResultsAvailable"]
    assert (ra["status"], ra["reason"], ra["message"]) == (
        "False",
        "MasterUnreachable",
        "connection refused",
    )
    assert conditions(out)["ThresholdsMet"]["status"] == "Unknown"


def test_threshold_breach_fails_a_finished_test_naming_metric_limit_value() -> None:
    final = final_results(parse_stats(payload("stats-stopped.json")))
    previous = {**running_status(), "results": final}
    finished = {**running_status(), "phase": "Succeeded"}
    thresholds = [
        {"metric": "p95ResponseTime", "max": 10},
        {"metric": "failRatio", "max": 0.5},
        {"metric": "p95ResponseTime", "max": 20, "endpoint": "/slow"},
    ]
    out = apply_results(previous, finished, thresholds, 1, STAMP)
    assert out["phase"] == "Failed"
    met = conditions(out)["ThresholdsMet"]
    assert (met["status"], met["reason"]) == ("False", "ThresholdsFailed")
    assert "p95ResponseTime was 27 ms, above the max of 10 ms" in met["message"]
    assert "p95ResponseTime of /slow was 31 ms, above the max of 20 ms" in met["message"]
    assert "failRatio" not in met["message"]
    assert [t["met"] for t in out["thresholds"]] == [False, True, False]
    assert conditions(out)["TestCompleted"]["reason"] == "TestFailed"


def test_thresholds_met_keep_the_job_verdict() -> None:
    final = final_results(parse_stats(payload("stats-stopped.json")))
    previous = {**running_status(), "results": final}
    finished = {**running_status(), "phase": "Succeeded"}
    out = apply_results(previous, finished, [{"metric": "requests", "min": 100}], 1, STAMP)
    assert out["phase"] == "Succeeded"
    assert conditions(out)["ThresholdsMet"]["reason"] == "ThresholdsPassed"


def test_finished_without_final_results_leaves_thresholds_unknown() -> None:
    previous = {**running_status(), "results": {"requests": 3}}
    finished = {**running_status(), "phase": "Succeeded"}
    out = apply_results(previous, finished, [{"metric": "failures", "max": 0}], 1, STAMP)
    assert out["phase"] == "Succeeded"
    assert conditions(out)["ThresholdsMet"]["reason"] == "ThresholdsNotEvaluated"


def test_a_run_the_operator_ended_gets_lockusts_verdict() -> None:
    final = final_results(parse_stats(payload("stats-stopped.json")), ENDED_BY_OPERATOR)
    out = apply_results({**running_status(), "results": final}, running_status(), [], 1, STAMP)
    assert out["phase"] == "Failed"  # 83 requests failed: Locust would exit 1
    assert out["completionTime"] == STAMP
    clean = {**final, "failures": 0}
    out = apply_results({**running_status(), "results": clean}, running_status(), [], 1, STAMP)
    assert out["phase"] == "Succeeded"
    assert conditions(out)["TestCompleted"]["status"] == "True"


def test_terminal_status_is_left_frozen() -> None:
    previous = {"phase": "Succeeded", "results": {"final": True}, "report": {"configMap": "x"}}
    status = {"phase": "Succeeded", "conditions": []}
    out = apply_results(previous, status, [{"metric": "failures", "max": 0}], 1, STAMP)
    assert out == {**status, "results": previous["results"], "report": previous["report"]}


def test_report_fixture_is_a_real_html_report() -> None:
    html = gzip.decompress((FIXTURES / "report.html.gz").read_bytes()).decode()
    assert html.startswith("<!DOCTYPE html>") and "<title>Locust</title>" in html
    assert "window.templateArgs" in html and '<div id="root">' in html


def test_finished_results_become_bounded_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from locust_operator.controller import results_metrics

    final = final_results(parse_stats(payload("stats-stopped.json")))
    tests = [
        {
            "metadata": {"namespace": "team-a", "name": f"t{i}"},
            "status": {
                "phase": "Failed",
                "completionTime": f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                "results": final,
                "thresholds": [{"metric": "failures", "met": False}],
            },
        }
        for i in range(results_metrics.MAX_TESTS + 5)
    ] + [{"metadata": {"namespace": "team-a", "name": "live"}, "status": {"results": {}}}]
    collector = results_metrics.TestResults()
    collector.source = lambda: tests
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    newest = results_metrics.MAX_TESTS + 4
    assert f'locust_operator_test_requests{{namespace="team-a",test="t{newest}"}} 502.0' in text
    assert 'locust_operator_test_failures{namespace="team-a",test="t0"}' not in text  # oldest
    assert 'test="live"' not in text  # not finished
    assert text.count("locust_operator_test_requests{") == results_metrics.MAX_TESTS
    assert (
        f'locust_operator_test_response_time_milliseconds{{namespace="team-a",stat="p95",'
        f'test="t{newest}"}} 27.0'
    ) in text
    assert f'locust_operator_test_thresholds_met{{namespace="team-a",test="t{newest}"}} 0.0' in text


def test_workers_connected_is_locusts_count_once_the_master_answers() -> None:
    live = live_results(parse_stats(payload("stats-running.json")))  # worker_count 1
    computed = {
        **running_status(),
        "expectedWorkers": 2,
        "connectedWorkers": 2,  # the worker Job's active pods
        "conditions": [{"type": "WorkersConnected", "status": "True", "reason": "x"}],
    }
    out = apply_results({**running_status(), "results": live}, computed, [], 1, STAMP)
    assert out["connectedWorkers"] == 1
    wc = conditions(out)["WorkersConnected"]
    assert (wc["status"], wc["reason"]) == ("False", "WorkersMissing")
    assert wc["message"].startswith("1/2 workers connected")
    # Unreachable: the pods' count stands.
    broken = {**live, "error": "refused"}
    out = apply_results({**running_status(), "results": broken}, computed, [], 1, STAMP)
    assert out["connectedWorkers"] == 2


def test_a_threshold_breach_is_an_event_naming_it() -> None:
    from locust_operator.controller.transitions import transition_events

    final = final_results(parse_stats(payload("stats-stopped.json")))
    previous = {**running_status(), "results": final}
    finished = {**running_status(), "phase": "Succeeded"}
    out = apply_results(previous, finished, [{"metric": "failures", "max": 0}], 1, STAMP)
    events = [(e.type, e.reason, e.message) for e in transition_events(previous, out)]
    assert (
        "Warning",
        "ThresholdsFailed",
        "Thresholds not met: failures was 83, above the max of 0",
    ) in events
    assert ("Warning", "TestFailed", "Load test execution failed") in events
    assert transition_events(out, out) == []  # once
