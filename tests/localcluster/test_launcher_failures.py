"""The launcher fails loudly, with the component's log tail, when a component dies."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcluster import ComponentFailed, LocalCluster


def test_a_crashing_component_fails_start_with_its_log_tail(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_etcd = bin_dir / "etcd"
    fake_etcd.write_text("#!/bin/sh\necho 'etcd: cannot open data dir: disk on fire' >&2\nexit 3\n")
    fake_etcd.chmod(0o755)

    cluster = LocalCluster(tmp_path / "data", bin_dir=bin_dir, log=lambda _m: None)
    with pytest.raises(ComponentFailed) as failed:
        cluster.start(timeout=30)
    message = str(failed.value)
    assert "etcd exited unexpectedly with code 3" in message
    assert "disk on fire" in message


def test_a_missing_binary_names_the_build_script(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "data", bin_dir=tmp_path, log=lambda _m: None)
    with pytest.raises(ComponentFailed, match=r"etcd: binary not found .*hack/build-tools.sh"):
        cluster.start(timeout=5)
