"""The kept report of a finished test: ConfigMap ``<name>-report``, pure.

It holds Locust's HTML report and its CSV statistics, gzipped, as ``binaryData``
(``report.html.gz``, ``requests.csv.gz``), is owned by the test (deleted with it) and
labelled like the test's other objects. A ConfigMap, as every object, must stay under
the API server's 1 MiB limit, and binaryData is base64 (4/3 of the gzipped size): what
does not fit within ``BINARY_DATA_BUDGET`` is left out, the CSV (small, the full
per-endpoint table) before the HTML report, and the status says what was left out.

Save the report: ``kubectl get cm NAME-report -o jsonpath='{.binaryData.report\\.html\\.gz}'
| base64 -d | gunzip > report.html``.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from locust_operator.api.names import KIND, V2_API_VERSION

from .labels import MANAGED_BY, MANAGED_BY_LABEL, TEST_NAME_LABEL

REPORT_SUFFIX = "-report"
HTML_KEY = "report.html.gz"
CSV_KEY = "requests.csv.gz"
# The object limit is 1 MiB (1,048,576 bytes) for the whole serialized object; keep
# ~48 KiB for metadata and encoding overhead.
BINARY_DATA_BUDGET = 1_000_000


def report_config_map_name(test_name: str) -> str:
    return (test_name + REPORT_SUFFIX).replace(".", "-")


def base64_size(size: int) -> int:
    return 4 * ((size + 2) // 3)


@dataclass(frozen=True)
class Report:
    config_map: dict[str, Any]  # the ConfigMap's JSON
    keys: tuple[str, ...]  # the binaryData keys kept
    message: str | None  # what was left out and why


def _compress(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def build_report(
    test: Mapping[str, Any],
    html: bytes | None,
    csv: bytes | None,
    unavailable: Mapping[str, str] | None = None,
    budget: int = BINARY_DATA_BUDGET,
) -> Report:
    """``html``/``csv``: what the master answered (None: not read; ``unavailable`` says
    why, by key). Returns the ConfigMap to create, possibly with neither."""
    import base64

    meta = test["metadata"]
    notes = [f"{key} not kept: {why}" for key, why in (unavailable or {}).items()]
    binary: dict[str, str] = {}
    used = 0
    for key, raw in ((CSV_KEY, csv), (HTML_KEY, html)):
        if raw is None:
            continue
        packed = _compress(raw)
        size = base64_size(len(packed))
        if used + size > budget:
            notes.append(
                f"{key} not kept: {len(packed)} bytes gzipped ({size} as base64) would take "
                f"the ConfigMap over the {budget}-byte budget under the 1 MiB object limit"
            )
            continue
        binary[key] = base64.b64encode(packed).decode()
        used += size
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": report_config_map_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, TEST_NAME_LABEL: meta["name"]},
            "ownerReferences": [
                {
                    "apiVersion": V2_API_VERSION,
                    "kind": KIND,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "binaryData": binary,
    }
    return Report(config_map, tuple(binary), "; ".join(notes) or None)


def report_status(report: Report) -> dict[str, Any]:
    """status.report for a created report ConfigMap."""
    status: dict[str, Any] = {
        "configMap": report.config_map["metadata"]["name"],
        "keys": list(report.keys),
    }
    if report.message:
        status["message"] = report.message
    return status
