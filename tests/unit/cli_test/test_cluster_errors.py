"""The errors `locust-operator test` meets before a test runs, each one line on stderr with
its exit code and no traceback: no kubeconfig, a cluster that does not answer, a cluster
without the LocustTest CRD (a fake apiserver answering 404), a missing namespace, and a
ConfigMap over the object limit (naming the file). The whole command runs in-process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from locust_operator.cli import main
from locust_operator.cli_test import exits


class FakeApiServer(BaseHTTPRequestHandler):
    """Serves core v1 and the namespace `default`; every other path is a 404 Status, as an
    apiserver without the LocustTest CRD answers /apis/locust.io/v2. Records requests."""

    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(f"GET {self.path}")
        if self.path == "/api/v1/namespaces/default":
            self._answer(200, {"kind": "Namespace", "metadata": {"name": "default"}})
        else:
            self._answer(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "message": "the server could not find the requested resource",
                    "reason": "NotFound",
                    "code": 404,
                },
            )

    def do_POST(self) -> None:
        self.seen.append(f"POST {self.path}")
        self._answer(500, {"kind": "Status", "code": 500, "message": "unexpected"})

    do_PATCH = do_POST

    def _answer(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def kubeconfig_for(path: Path, server: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "fake", "user": {"token": "x"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )
    )
    return path


@pytest.fixture
def fake_apiserver(tmp_path: Path) -> Iterator[Path]:
    FakeApiServer.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield kubeconfig_for(tmp_path / "kubeconfig", f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def locustfile(tmp_path: Path) -> Path:
    path = tmp_path / "shop.py"
    path.write_text("from locust import HttpUser\n")
    return path


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_no_kubeconfig_anywhere_says_how_to_give_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    locustfile: Path,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    for command in (["run", str(locustfile)], ["status", "x"], ["list"]):
        assert main(["test", *command]) == exits.INFRASTRUCTURE
        assert one_line(capsys) == (
            "locust-operator test: no cluster configuration: pass --kubeconfig PATH, set "
            "KUBECONFIG, create ~/.kube/config, or run inside a cluster"
        )


def test_a_kubeconfig_flag_naming_a_missing_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["test", "list", "--kubeconfig", str(missing)]) == exits.USAGE
    line = one_line(capsys)
    assert line.startswith(f"locust-operator test: --kubeconfig {missing}: cannot load it ("), line


def test_a_cluster_that_does_not_answer_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from localcluster.cluster import free_port

    server = f"http://127.0.0.1:{free_port()}"
    config = kubeconfig_for(tmp_path / "kubeconfig", server)
    assert main(["test", "list", "--kubeconfig", str(config)]) == exits.INFRASTRUCTURE
    line = one_line(capsys)
    assert line.startswith("locust-operator test: reaching the cluster: cannot reach the "), line
    assert f"at {server} (" in line and line.endswith(
        "check the kubeconfig and that the cluster is up"
    )


def test_no_crd_says_to_install_it_and_creates_nothing(
    fake_apiserver: Path, capsys: pytest.CaptureFixture[str], locustfile: Path
) -> None:
    code = main(["test", "run", str(locustfile), "--kubeconfig", str(fake_apiserver)])
    assert code == exits.INFRASTRUCTURE
    line = one_line(capsys)
    assert line.startswith(
        "locust-operator test: the LocustTest CRD is not installed in the cluster at http://"
    ), line
    assert line.endswith(
        "install it: kubectl apply --server-side -f config/crd/locust.io_locusttests.yaml "
        "(or helm install the chart)"
    )
    assert FakeApiServer.seen == ["GET /apis/locust.io/v2"]  # no ConfigMap written
    for command in (["status", "t"], ["list"], ["logs", "t"], ["report", "t", "-o", "r.html"]):
        assert main(["test", *command, "--kubeconfig", str(fake_apiserver)]) == 3
        assert "the LocustTest CRD is not installed" in one_line(capsys)


def test_a_config_map_over_the_object_limit_names_the_file_before_any_call(
    fake_apiserver: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], locustfile: Path
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helpers.py").write_text("x = 1\n")
    (lib / "catalog.json").write_text('"' + "x" * 1_100_000 + '"')
    code = main(
        ["test", "run", str(locustfile), "--lib", str(lib), "--kubeconfig", str(fake_apiserver)]
    )
    assert code == exits.USAGE
    line = one_line(capsys)
    assert line.startswith(f"locust-operator test: {lib / 'catalog.json'}: ConfigMap too big ("), (
        line
    )
    assert "over the 1 MiB object limit" in line
    assert FakeApiServer.seen == []


def test_the_readme_ci_examples_use_flags_the_cli_has() -> None:
    """The GitHub Actions and GitLab snippets' install and run lines, as written."""
    import shlex

    from locust_operator.cli import build_parser
    from tests.conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Running a test from a terminal or CI") :]
    section = section[: section.index("\n## ", 1)]
    runs = [
        line.split("locust-operator", 1)[1]
        for line in section.splitlines()
        if line.lstrip(" -").startswith(
            ("run: locust-operator test run", "locust-operator test run")
        )
        and "tests/load/locustfile.py -H" in line
    ]
    installs = [line for line in section.splitlines() if "pip install" in line]
    assert len(runs) == 2, section  # GitHub Actions, GitLab
    for line in runs:
        args = build_parser().parse_args(shlex.split(line))
        assert args.test_command == "run" and args.junit and args.report and args.threshold
    assert sum('pip install "git+https://' in line for line in installs) == 2, installs
    assert "`pip install .`" in section
