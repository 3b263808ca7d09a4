"""The fetcher (sourcefetch.py) on this machine: git repositories on disk (file://), archives
from an HTTP server on loopback, dependencies installed by pip with no package index; each
failure with its reason, and no secret in any message."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from locust_operator import sourcefetch
from locust_operator.api import conditions
from locust_operator.sourcefetch import FetchError, Secrets, fetch, fetch_patiently
from tests.sources import (
    GREETING,
    SUITE_DIR,
    WHEEL_NAME,
    make_repo,
    sha256,
    suite_files,
    tar_gz,
    zip_bytes,
)

TOKEN = "s3cr3t-t0ken-value"
PIP = sys.executable  # this venv's python has pip


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    path = tmp_path_factory.mktemp("git") / "suite"
    commits = make_repo(path)
    return f"file://{path}", commits


class Files:
    """Paths served by the loopback server; /private/* needs the Bearer token."""

    def __init__(self) -> None:
        self.content: dict[str, bytes] = {}
        self.seen_auth: list[str | None] = []


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Files]]:
    files = Files()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            files.seen_auth.append(auth)
            path = self.path.split("?", 1)[0]
            if path.startswith("/private/") and auth != f"Bearer {TOKEN}":
                self.send_error(401)
                return
            body = files.content.get(path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            if path.endswith("/"):  # a --find-links page
                self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()


def run(source: dict[str, object], root: Path, secrets: Secrets | None = None) -> dict[str, object]:
    root.mkdir(exist_ok=True)
    return fetch(source, secrets or Secrets(), root, PIP)


def failure(source: dict[str, object], root: Path, secrets: Secrets | None = None) -> FetchError:
    with pytest.raises(FetchError) as caught:
        run(source, root, secrets)
    return caught.value


def test_reasons_are_podshealthy_reasons() -> None:
    assert set(sourcefetch.REASONS) == set(conditions.SOURCE_FAILURE_REASONS)


def test_git_branch_with_subpath_and_requirements(
    repo: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, commits = repo
    source = {"type": "git", "url": url, "ref": "main", "subPath": SUITE_DIR, "dependencies": {}}

    result = run(source, tmp_path)

    assert result["commit"] == commits["main"]
    assert result["type"] == "git" and result["ref"] == "main"
    src = tmp_path / "src"
    assert (src / "scenarios" / "shop" / "browse.py").is_file()
    assert not (src / ".git").exists() and not (src / "README.md").exists()
    # The wheel from the repository, installed with no index, imports from deps/.
    assert (tmp_path / "deps" / WHEEL_NAME / "__init__.py").read_text().count(GREETING) == 1
    assert result["dependencies"] >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deps", "src"]  # no scratch left


@pytest.mark.parametrize("ref_name", ["v1", "refs/tags/v1", "commit", "short-commit"])
def test_git_tag_full_ref_and_commit(
    repo: tuple[str, dict[str, str]], tmp_path: Path, ref_name: str
) -> None:
    url, commits = repo
    ref = {"commit": commits["v1"], "short-commit": commits["v1"][:10]}.get(ref_name, ref_name)

    result = run({"type": "git", "url": url, "ref": ref}, tmp_path)

    assert result["commit"] == commits["v1"]
    assert not (tmp_path / "src" / "CHANGELOG").exists()  # the second commit's file


def test_git_default_branch(repo: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, commits = repo
    assert run({"type": "git", "url": url}, tmp_path)["commit"] == commits["main"]


def test_git_missing_ref_names_the_refs_there_are(
    repo: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = repo
    error = failure({"type": "git", "url": url, "ref": "no-such-branch"}, tmp_path)
    assert error.reason == "SourceRefNotFound"
    assert "'no-such-branch'" in error.message and "main, v1" in error.message


def test_git_missing_repository_and_unreachable_host(tmp_path: Path) -> None:
    missing = failure({"type": "git", "url": f"file://{tmp_path}/nothing"}, tmp_path / "a")
    assert missing.reason == "SourceNotFound", missing.message
    # Nothing listens on port 1 of loopback: connection refused.
    refused = failure({"type": "git", "url": "http://127.0.0.1:1/x.git"}, tmp_path / "b")
    assert refused.reason == "SourceUnreachable", refused.message


def test_git_auth_failure_does_not_show_the_token(
    server: tuple[str, Files], tmp_path: Path
) -> None:
    base, _ = server
    error = failure(
        {"type": "git", "url": f"{base}/private/repo.git"},
        tmp_path,
        Secrets(token="wrong-" + TOKEN),
    )
    assert error.reason == "SourceAuthFailed", error.message
    assert TOKEN not in error.message


def test_git_subpath_that_is_no_directory(repo: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, _ = repo
    error = failure({"type": "git", "url": url, "subPath": "nope"}, tmp_path)
    assert error.reason == "SourceInvalid" and "'nope'" in error.message


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_with_digest_and_requirements(
    server: tuple[str, Files], tmp_path: Path, kind: str
) -> None:
    base, files = server
    data = (tar_gz if kind == "tar.gz" else zip_bytes)(suite_files(), prefix="suite-1.0/")
    files.content[f"/suite.{kind}"] = data
    source = {
        "type": "archive",
        "url": f"{base}/suite.{kind}?signature=abc",
        "sha256": sha256(data),
        "subPath": f"suite-1.0/{SUITE_DIR}",
        "dependencies": {},
    }

    result = run(source, tmp_path)

    assert result["type"] == "archive" and result["sha256"] == sha256(data)
    assert (tmp_path / "src" / "locustfile.py").is_file()
    assert (tmp_path / "deps" / WHEEL_NAME).is_dir()


def test_archive_wrong_digest(server: tuple[str, Files], tmp_path: Path) -> None:
    base, files = server
    data = tar_gz(suite_files())
    files.content["/d.tar.gz"] = data
    error = failure({"type": "archive", "url": f"{base}/d.tar.gz", "sha256": "0" * 64}, tmp_path)
    assert error.reason == "SourceDigestMismatch"
    assert sha256(data) in error.message and "0" * 64 in error.message
    assert not (tmp_path / "src").exists()


def test_archive_over_the_limit(server: tuple[str, Files], tmp_path: Path) -> None:
    base, files = server
    files.content["/big.tar.gz"] = tar_gz({"big.bin": b"x" * 200_000})
    compressed = failure(
        {"type": "archive", "url": f"{base}/big.tar.gz", "maxBytes": 1000}, tmp_path / "a"
    )
    assert compressed.reason == "SourceTooLarge"
    # Small to download, big unpacked (a bomb): caught while unpacking.
    unpacked = failure(
        {"type": "archive", "url": f"{base}/big.tar.gz", "maxBytes": 50_000}, tmp_path / "b"
    )
    assert unpacked.reason == "SourceTooLarge", unpacked.message


def test_archive_with_a_path_outside(server: tuple[str, Files], tmp_path: Path) -> None:
    base, files = server
    files.content["/evil.tar.gz"] = tar_gz({"../evil.py": b"x"})
    error = failure({"type": "archive", "url": f"{base}/evil.tar.gz"}, tmp_path / "root")
    assert error.reason == "SourceInvalid"
    assert not (tmp_path / "evil.py").exists()


def test_archive_http_errors_and_bearer_token(server: tuple[str, Files], tmp_path: Path) -> None:
    base, files = server
    files.content["/private/p.tar.gz"] = tar_gz({"locustfile.py": b""})
    assert failure({"type": "archive", "url": f"{base}/nothing.tgz"}, tmp_path / "a").reason == (
        "SourceNotFound"
    )
    denied = failure({"type": "archive", "url": f"{base}/private/p.tar.gz"}, tmp_path / "b")
    assert denied.reason == "SourceAuthFailed"
    ok = run({"type": "archive", "url": f"{base}/private/p.tar.gz"}, tmp_path / "c", Secrets(TOKEN))
    assert ok["type"] == "archive"
    unreachable = failure({"type": "archive", "url": "http://127.0.0.1:1/a.tgz"}, tmp_path / "d")
    assert unreachable.reason == "SourceUnreachable"


def test_install_failure(server: tuple[str, Files], tmp_path: Path) -> None:
    base, files = server
    files.content["/bad.tar.gz"] = tar_gz({"requirements.txt": b"--no-index\nnot-a-package==9\n"})
    error = failure({"type": "archive", "url": f"{base}/bad.tar.gz", "dependencies": {}}, tmp_path)
    assert error.reason == "DependencyInstallFailed"
    assert "not-a-package" in error.message


def test_packages_from_the_spec_and_find_links(server: tuple[str, Files], tmp_path: Path) -> None:
    base, files = server
    from tests.sources import WHEEL_FILE, wheel_bytes

    files.content[f"/wheels/{WHEEL_FILE}"] = wheel_bytes()
    files.content["/wheels/"] = f'<a href="{WHEEL_FILE}">{WHEEL_FILE}</a>'.encode()
    files.content["/plain.tar.gz"] = tar_gz({"locustfile.py": b""})
    source = {
        "type": "archive",
        "url": f"{base}/plain.tar.gz",
        "dependencies": {
            "packages": [f"{WHEEL_NAME}==1.0"],
            "findLinks": [f"{base}/wheels/"],
            "noIndex": True,
        },
    }
    assert run(source, tmp_path)["dependencies"] >= 1
    assert (tmp_path / "deps" / WHEEL_NAME).is_dir()


def test_main_writes_the_termination_message_without_secrets(tmp_path: Path) -> None:
    log = tmp_path / "termination-log"
    url = f"http://user:{TOKEN}@127.0.0.1:1/repo.git"
    env = {
        "LOCUST_SOURCE": json.dumps({"type": "git", "url": url}),
        "LOCUST_SOURCE_DIR": str(tmp_path),
        "LOCUST_SOURCE_TERMINATION_LOG": str(log),
        "LOCUST_SOURCE_TOKEN": TOKEN,
        "LOCUST_SOURCE_RETRY_SECONDS": "0",
        "PATH": "/usr/bin:/bin",
    }
    assert sourcefetch.main([], env) == 1
    report = json.loads(log.read_text())
    assert report["reason"] == "SourceUnreachable"
    assert TOKEN not in log.read_text()
    assert len(log.read_bytes()) < 4096

    env["LOCUST_SOURCE"] = "not json"
    assert sourcefetch.main([], env) == 2
    assert json.loads(log.read_text())["reason"] == "SourceFetchFailed"


class FakeTime:
    """A clock that advances only when the fetcher sleeps; ``on_sleep`` runs at each sleep."""

    def __init__(self, on_sleep: Callable[[int], None] = lambda count: None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep(len(self.sleeps))

    def clock(self) -> float:
        return self.now


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_source_that_comes_up_later_is_fetched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Service's endpoints arrive after the pod starts: connection refused, then served."""
    data = tar_gz(suite_files(), prefix="suite-1.0/")
    port = _free_port()
    started: list[ThreadingHTTPServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    def start_on_second_sleep(count: int) -> None:
        if count == 2:
            httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            started.append(httpd)

    fake = FakeTime(start_on_second_sleep)
    source = {"type": "archive", "url": f"http://127.0.0.1:{port}/s.tgz", "sha256": sha256(data)}
    try:
        result = fetch_patiently(source, Secrets(), tmp_path, PIP, 60, fake.sleep, fake.clock)
    finally:
        for httpd in started:
            httpd.shutdown()

    assert result["sha256"] == sha256(data)
    assert fake.sleeps == [1, 2]  # refused twice, then fetched; backoff doubles
    log = capsys.readouterr().out
    assert "attempt 1: cannot reach" in log and "retrying in 2s" in log


def test_an_unreachable_source_fails_after_the_retry_window(tmp_path: Path) -> None:
    fake = FakeTime()
    source = {"type": "git", "url": f"http://127.0.0.1:{_free_port()}/x.git"}
    with pytest.raises(FetchError) as caught:
        fetch_patiently(source, Secrets(), tmp_path, PIP, 40, fake.sleep, fake.clock)
    assert caught.value.reason == "SourceUnreachable"
    # 1+2+4+8+10 = 25 s waited; another 10 s would still fit, a further 10 not.
    assert fake.sleeps == [1, 2, 4, 8, 10, 10]
    assert "tried 7 times over 35s" in caught.value.message


def test_only_an_unreachable_source_is_retried(server: tuple[str, Files], tmp_path: Path) -> None:
    base, files = server
    files.content["/r.tar.gz"] = tar_gz(suite_files())
    fake = FakeTime()
    source = {"type": "archive", "url": f"{base}/r.tar.gz", "sha256": "0" * 64}
    with pytest.raises(FetchError) as caught:
        fetch_patiently(source, Secrets(), tmp_path, PIP, 60, fake.sleep, fake.clock)
    assert caught.value.reason == "SourceDigestMismatch"
    assert fake.sleeps == [] and "tried" not in caught.value.message


def test_redaction() -> None:
    secrets = Secrets(token=TOKEN)
    text = f"fatal: https://me:{TOKEN}@host/x and again {TOKEN}"
    assert TOKEN not in secrets.redact(text)
    assert "https://***@host/x" in secrets.redact(text)


def test_plain_http_wheel_locations_are_trusted_by_host() -> None:
    # pip ignores http:// find-links on hosts other than localhost unless trusted.
    assert sourcefetch._http_host("http://wheels.ns.svc:8080/files/") == "wheels.ns.svc:8080"
    assert sourcefetch._http_host("http://u@h/x") == "h"
    assert sourcefetch._http_host("https://h/x") is None
    assert sourcefetch._http_host("./wheels") is None
