"""JUnit XML of a run: one test case for the run itself, one per threshold, in the shape
CI systems read natively. It satisfies both the strict Ant schema (every suite attribute,
properties, system-out and system-err) and Jenkins' lenient one. Pure."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from .thresholds import Outcome
from .verdict import Verdict


def junit_xml(
    test_name: str,
    verdict: Verdict,
    outcomes: list[Outcome],
    duration: float,
    now: datetime | None = None,
    output: str = "",
) -> str:
    """``output``: the run's final summary, kept as the suite's system-out."""
    cases: list[tuple[str, bool, str]] = [("run", verdict.run_passed, verdict.run_message)]
    cases += [(f"threshold {o.threshold.describe()}", o.passed, o.message) for o in outcomes]
    failures = sum(1 for _, passed, _ in cases if not passed)
    timestamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0"}
    suites = ET.Element(
        "testsuites", {"name": "locust-operator", "time": f"{duration:.3f}", **counts}
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": test_name,
            "package": "locusttest",
            "id": "0",
            "hostname": socket.gethostname() or "localhost",
            "timestamp": timestamp,
            "time": f"{duration:.3f}",
            **counts,
        },
    )
    ET.SubElement(suite, "properties")
    for index, (name, passed, message) in enumerate(cases):
        case = ET.SubElement(
            suite,
            "testcase",
            name=name,
            classname=f"locusttest.{test_name}",
            time=f"{duration:.3f}" if index == 0 else "0.000",
        )
        if not passed:
            failure = ET.SubElement(case, "failure", message=message, type="failure")
            failure.text = message
    ET.SubElement(suite, "system-out").text = output
    ET.SubElement(suite, "system-err").text = ""
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
