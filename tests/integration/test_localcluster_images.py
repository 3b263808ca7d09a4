"""The local images for real: the Go binaries taken out of their tarballs run on loopback and
do their job, and every tarball imports into a throwaway containerd under its tags, where the
Locust and operator images run their commands."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from localcluster.cluster import free_port
from localcluster.images import (
    EXPORTER_IMAGE,
    LOCUST_TAGS,
    OTLP_RECEIVER_IMAGE,
    PAUSE_IMAGE,
    TARGET_IMAGE,
    ensure_images,
)
from localcluster.images.archive import read_manifest
from localcluster.images.catalog import GO_IMAGES
from localcluster.images.goimages import GoImage, ensure_go_image
from localcluster.images.operator import ensure_operator_image, operator_tags
from tests.helpers import http_get

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go builds the images")


def _go_image(command: str) -> GoImage:
    return next(image for image in GO_IMAGES if image.command == command)


def _binary_from_tarball(command: str, directory: Path) -> Path:
    """The image's binary, read back from its docker-archive's only layer."""
    image = _go_image(command)
    tarball = ensure_go_image(image, print)
    [manifest] = read_manifest(tarball)
    layers = manifest["Layers"]
    assert isinstance(layers, list) and len(layers) == 1
    with tarfile.open(tarball) as archive:
        layer_file = archive.extractfile(layers[0])
        assert layer_file is not None
        with tarfile.open(fileobj=layer_file) as layer:
            member = layer.getmember(image.binary_path.lstrip("/"))
            data = layer.extractfile(member)
            assert data is not None
            binary = directory / command
            binary.write_bytes(data.read())
    binary.chmod(0o755)
    return binary


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def run_binary(tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def run(command: str, env: dict[str, str], ready_port: int) -> subprocess.Popen[bytes]:
        binary = _binary_from_tarball(command, tmp_path)
        process = subprocess.Popen(
            [str(binary)], env={"PATH": "/usr/bin:/bin", **env}, stderr=subprocess.PIPE
        )
        started.append(process)
        deadline = time.monotonic() + 20
        while not _listening(ready_port):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, f"{command} did not listen on {ready_port}"
            time.sleep(0.05)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def _post(port: int, path: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def test_pause_exits_0_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen([str(_binary_from_tarball("pause", tmp_path))])
    try:
        time.sleep(0.2)  # let it install its signal handler (a default SIGTERM exits -15)
        assert process.poll() is None, "pause waits for a signal"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_target_counts_what_it_answered(run_binary) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    run_binary("target", {"PORT": str(port)}, port)
    assert http_get(port, "/__count") == (200, '{"paths":{},"total":0}')

    for _ in range(3):
        assert http_get(port, "/items/1")[0] == 200
    assert http_get(port, "/")[0] == 200
    assert http_get(port, "/fail")[0] == 500
    assert http_get(port, "/fail/deeper")[0] == 500

    status, body = http_get(port, "/__count")
    assert status == 200
    assert json.loads(body) == {
        "total": 6,
        "paths": {"/items/1": 3, "/": 1, "/fail": 1, "/fail/deeper": 1},
    }


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _otlp_trace_request(service: str, spans: int) -> bytes:
    """ExportTraceServiceRequest{resource_spans: [{resource: {attributes: [service.name]},
    scope_spans: [{spans: [name=..] * spans}]}]} in protobuf, encoded by hand."""
    attribute = _field(1, b"service.name") + _field(2, _field(1, service.encode()))
    resource = _field(1, attribute)
    scope_spans = b"".join(_field(2, _field(5, b"GET /")) for _ in range(spans))
    return _field(1, _field(1, resource) + _field(2, scope_spans))


def test_otlp_receiver_counts_per_signal_and_service(run_binary) -> None:  # type: ignore[no-untyped-def]
    http_port, grpc_port = free_port(), free_port()
    env = {
        "OTLP_HTTP_ADDRESS": f"127.0.0.1:{http_port}",
        "OTLP_GRPC_ADDRESS": f"127.0.0.1:{grpc_port}",
    }
    run_binary("otlp-receiver", env, http_port)

    protobuf = "application/x-protobuf"
    assert _post(http_port, "/v1/traces", _otlp_trace_request("locust-master", 3), protobuf) == 200
    assert _post(http_port, "/v1/traces", _otlp_trace_request("locust-worker", 2), protobuf) == 200
    worker = {"key": "service.name", "value": {"stringValue": "locust-worker"}}
    metrics_json = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [worker]},
                "scopeMetrics": [{"metrics": [{"name": "a"}, {"name": "b"}]}],
            }
        ]
    }
    body = json.dumps(metrics_json).encode()
    assert _post(http_port, "/v1/metrics", body, "application/json") == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        _post(http_port, "/v1/logs", b"\xff\xff not protobuf", protobuf)
    assert refused.value.code == 400

    status, counts = http_get(http_port, "/__count")
    assert status == 200
    assert json.loads(counts) == {
        "traces": {"requests": 2, "items": 5, "services": {"locust-master": 3, "locust-worker": 2}},
        "metrics": {"requests": 1, "items": 2, "services": {"locust-worker": 2}},
        "logs": {"requests": 0, "items": 0, "services": {}},
    }


LOCUST_STATS = {
    "state": "running",
    "user_count": 12,
    "fail_ratio": 0.25,
    "current_response_time_percentile_95": 40,
    "current_response_time_percentile_50": 12,
    "workers": [
        {"id": "w1", "state": "running", "user_count": 6},
        {"id": "w2", "state": "running", "user_count": 6},
    ],
    "stats": [
        {"method": "GET", "name": "/items", "num_requests": 30, "num_failures": 0,
         "avg_response_time": 11.5, "current_rps": 4.5},
        {"method": "GET", "name": "/fail", "num_requests": 10, "num_failures": 10,
         "avg_response_time": 3, "current_rps": 1.5},
        {"method": "", "name": "Aggregated", "num_requests": 40, "num_failures": 10},
    ],
    "errors": [{"method": "GET", "name": "/fail", "error": "500 \"boom\"", "occurrences": 10}],
}  # fmt: skip


@pytest.fixture
def fake_locust() -> Iterator[int]:
    """A Locust web UI that only answers /stats/requests."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(LOCUST_STATS).encode() if self.path == "/stats/requests" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _samples(metrics_text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line and not line.startswith("#")
    }


def test_exporter_serves_locust_exporter_metrics(run_binary, fake_locust: int) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        "LOCUST_EXPORTER_URI": f"http://127.0.0.1:{fake_locust}",
        "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}",
    }
    run_binary("locust-exporter", env, port)
    status, text = http_get(port, "/metrics")
    assert status == 200
    samples = _samples(text)
    assert samples["locust_up"] == 1
    assert samples["locust_running"] == 2
    assert samples["locust_users"] == 12
    assert samples["locust_workers_count"] == 2
    assert samples["locust_workers_running_count"] == 2
    assert samples["locust_requests_fail_ratio"] == 0.25
    assert samples["locust_requests_current_response_time_percentile_95"] == 40
    assert samples['locust_requests_num_requests{method="GET",name="/items"}'] == 30
    assert samples['locust_requests_num_failures{method="GET",name="/fail"}'] == 10
    assert samples['locust_requests_avg_response_time{method="GET",name="/items"}'] == 11.5
    assert samples['locust_requests_current_rps{method="GET",name="/fail"}'] == 1.5
    assert samples['locust_errors{method="GET",name="/fail",error="500 \\"boom\\""}'] == 10
    assert samples['locust_worker_detail{id="w1",state="running"}'] == 6
    assert not any('name="Aggregated"' in key for key in samples), "the total row is skipped"
    assert "# TYPE locust_requests_num_requests gauge" in text


def test_exporter_reports_down_when_locust_does_not_answer(run_binary) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        "LOCUST_EXPORTER_URI": f"http://127.0.0.1:{free_port()}",
        "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}",
    }
    run_binary("locust-exporter", env, port)
    samples = _samples(http_get(port, "/metrics")[1])
    assert samples["locust_up"] == 0
    assert "locust_users" not in samples


class ThrowawayContainerd:
    """containerd with its root, state and socket in a temp dir; CRI off (no kubelet here)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "containerd.sock"
        config = directory / "config.toml"
        config.write_text(
            f'version = 2\nroot = "{directory / "root"}"\nstate = "{directory / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.socket}"\n'
            f'[ttrpc]\n  address = "{self.socket}.ttrpc"\n'
        )
        self.log = (directory / "containerd.log").open("wb")
        self.process = subprocess.Popen(
            ["containerd", "--config", str(config)], stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 30
        while self.ctr("version", check=False).returncode != 0:
            assert self.process.poll() is None, (directory / "containerd.log").read_text()
            assert time.monotonic() < deadline, "containerd did not start"
            time.sleep(0.1)

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayContainerd]:
    if os.geteuid() != 0 or not shutil.which("containerd") or not shutil.which("ctr"):
        pytest.fail("importing images needs root and containerd (the local node's runtime)")
    # A short path: the socket's path must fit in a unix socket address.
    directory = Path(
        subprocess.run(
            ["mktemp", "-d", "/tmp/ctrd-XXXXXX"], capture_output=True, text=True
        ).stdout.strip()
    )
    instance = ThrowawayContainerd(directory)
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _normalized(tag: str) -> str:
    """How containerd names an image: docker.io/library for short names."""
    first, slash, _ = tag.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return tag
    return f"docker.io/{tag}" if slash else f"docker.io/library/{tag}"


def _run_in(containerd: ThrowawayContainerd, image: str, *command: str) -> str:
    name = f"check-{time.monotonic_ns()}"
    result = containerd.ctr("run", "--rm", _normalized(image), name, *command, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_every_image_imports_under_its_tags(containerd: ThrowawayContainerd) -> None:
    for tarball in ensure_images():
        containerd.ctr("images", "import", str(tarball))
    names = set(containerd.ctr("images", "ls", "--quiet").stdout.split())
    expected = {PAUSE_IMAGE, EXPORTER_IMAGE, TARGET_IMAGE, OTLP_RECEIVER_IMAGE, *LOCUST_TAGS}
    assert {_normalized(tag) for tag in expected} <= names, names


def test_locust_image_runs_locust_with_opentelemetry(containerd: ThrowawayContainerd) -> None:
    containerd.ctr("images", "import", str(ensure_images()[-1]))
    assert "2.47.0" in _run_in(containerd, LOCUST_TAGS[0], "locust", "--version")
    checks = "import os, opentelemetry.sdk; print(os.getuid(), os.getcwd())"
    assert _run_in(containerd, LOCUST_TAGS[0], "python", "-c", checks).split() == [
        "1000",
        "/home/locust",
    ]


def test_operator_image_imports_and_runs(containerd: ThrowawayContainerd) -> None:
    containerd.ctr("images", "import", str(ensure_operator_image()))
    names = set(containerd.ctr("images", "ls", "--quiet").stdout.split())
    assert {_normalized(tag) for tag in operator_tags()} <= names
    assert "0.1.0" in _run_in(containerd, operator_tags()[0], "locust-operator", "--version")


def test_fetcher_image_has_git_pip_and_the_locust_images_python(
    containerd: ThrowawayContainerd,
) -> None:
    from localcluster.images.catalog import FETCHER_IMAGE, GIT_SERVER_IMAGE
    from localcluster.images.fetcher import ensure_fetcher_image

    containerd.ctr("images", "import", str(ensure_fetcher_image(print)))
    containerd.ctr("images", "import", str(ensure_images()[-1]))
    version = "import sys; print(sys.version_info[:2])"
    fetcher_python = _run_in(containerd, FETCHER_IMAGE, "python3", "-c", version)
    # What pip installs for the fetcher must import in Locust: the same Python.
    assert fetcher_python == _run_in(containerd, LOCUST_TAGS[0], "python", "-c", version)
    assert "git version" in _run_in(containerd, FETCHER_IMAGE, "git", "--version")
    assert "pip" in _run_in(containerd, FETCHER_IMAGE, "/opt/pip/bin/python", "-m", "pip", "-V")
    assert _run_in(containerd, GIT_SERVER_IMAGE, "id", "-u").strip() == "1000"
