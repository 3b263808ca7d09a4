"""/readyz says ready only while the registered CA is the one this process serves (issue
12, finding 11), on a control plane of its own: a second process registering its own
webhooks (its own CA) makes the first unready, so nothing routes the apiserver's calls to
a server it would refuse with 'x509: certificate signed by unknown authority'."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import codecs

from localcluster import LocalCluster
from tests.conftest import CRD_FILE
from tests.helpers import http_get
from tests.integration.test_recovery import client_of, until
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.cluster


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path / "cluster", nodes=1)
    local.start()
    try:
        kube = client_of(local)
        for obj in codecs.load_all_yaml(CRD_FILE.read_text()):
            kube.apply(obj, field_manager="tests")
        yield local
    finally:
        local.stop()


def test_a_replica_whose_ca_is_no_longer_registered_is_not_ready(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    first = OperatorProcess(own_cluster.kubeconfig, tmp_path / "first.log", webhooks=True)
    first.start()
    second = OperatorProcess(own_cluster.kubeconfig, tmp_path / "second.log", webhooks=True)
    try:
        first.wait_until_ready()
        assert http_get(first.probe_port, "/readyz")[0] == 200
        second.start()
        second.wait_until_ready()  # it registered its own URL and CA
        until(
            lambda: http_get(first.probe_port, "/readyz")[0] == 503,
            "the first process unready once its CA is not the registered one",
        )
        assert "registered with another CA" in first.log_path.read_text()
        assert http_get(second.probe_port, "/readyz")[0] == 200
        time.sleep(1)
        assert http_get(first.probe_port, "/readyz")[0] == 503  # and it stays so
    finally:
        if second.process is not None:
            second.stop()
        assert first.stop() == 0, first.log_tail()
