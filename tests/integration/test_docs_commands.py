"""Every shell command in README.md, docs/, the chart's README and the chart's NOTES runs as
written on a local control plane.

The documents are read when the test runs, so edits are checked as they land. A ```bash
block runs unless the line before its fence is a marker saying why it cannot run here:

    <!-- docs-test: needs a registry the nodes can pull from -->

Blocks of other languages whose first line names a file (``# demo.py``) are written to
the working directory first, as a reader would save them. Commands run in order, one
document at a time, in a directory holding the repository's files, with the cluster's
kubectl/helm and the checkout's ``.venv/bin`` on PATH and KUBECONFIG pointing at the
cluster. Placeholders are substituted (PLACEHOLDERS), and commands that keep running
(the operator, ``kubectl get -w``) are started in the background: they must get going
(the operator answers /readyz, a watch prints its table) and the operator must exit 0 on
SIGTERM once the document is done.

The cluster has kwok nodes only: pods are Running but nothing runs in them, so commands
that need a process in a pod (logs, port-forward) are marked in the documents.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from localcluster import LocalCluster
from localcluster.cluster import free_port
from tests.conftest import CRD_FILE, REPO_ROOT
from tests.helpers import http_get

pytestmark = pytest.mark.cluster

CHART = REPO_ROOT / "charts" / "locust-k8s-operator"
DOCUMENTS = [
    "README.md",
    *sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "docs").glob("*.md")),
    "charts/locust-k8s-operator/README.md",
]
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[\w+-]*)\s*$")
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<reason>\S.*?)\s*-->")
SHELL_LANGUAGES = {"bash", "sh", "shell"}
FILE_HEADER = re.compile(r"^#\s*(?P<name>[\w.-]+\.(?:py|ya?ml|txt|json))\s*$")
COMMAND_TIMEOUT = 180.0
# How long a background command may take to get going (an operator to sync its caches).
START_TIMEOUT = 90.0
# The test namespace the chart's NOTES address (no watchNamespaces: "default").
NOTES_NAMESPACE = "default"


@dataclass
class Block:
    document: str
    line: int
    language: str
    text: str
    skip_reason: str | None


def read_blocks(document: str) -> list[Block]:
    lines = (REPO_ROOT / document).read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening or (not opening["lang"] and not _is_opening(lines, index)):
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body: list[str] = []
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            line = lines[end]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            end += 1
        before = index - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = MARKER.search(lines[before]) if before >= 0 else None
        blocks.append(
            Block(
                document,
                index + 1,
                opening["lang"],
                "\n".join(body),
                marker["reason"] if marker else None,
            )
        )
        index = end + 1
    return blocks


def _is_opening(lines: list[str], index: int) -> bool:
    """A bare fence opens a block when an even number of fences came before it."""
    return sum(1 for line in lines[:index] if FENCE.match(line)) % 2 == 0


def commands(script: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comment lines dropped, a
    heredoc kept with its body up to its terminator (which must start its line)."""
    result: list[str] = []
    lines = script.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        while line.endswith("\\") and index < len(lines):
            line = line[:-1].rstrip() + " " + lines[index].strip()
            index += 1
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", line)
        if heredoc:
            terminator, body = heredoc[1], []
            while index < len(lines) and lines[index] != terminator:
                body.append(lines[index])
                index += 1
            assert index < len(lines), (
                f"heredoc {terminator!r} never ends: its terminator must start a line "
                f"(pasted into a shell, this command hangs):\n{line}"
            )
            index += 1
            line = "\n".join([line, *body, terminator])
        result.append(line)
    return result


@dataclass
class Session:
    """One reader following the documents: a working directory, an environment, and the
    commands still running in the background."""

    cluster: LocalCluster
    workdir: Path
    env: dict[str, str]
    webhook_port: int = field(default_factory=free_port)
    background: list[tuple[str, subprocess.Popen[str], Path]] = field(default_factory=list)

    def substitute(self, command: str) -> str:
        kubeconfig = str(self.cluster.kubeconfig)
        for placeholder, value in (
            ("https://HOST:9443", f"https://127.0.0.1:{self.webhook_port}"),
            ("https://127.0.0.1:9443", f"https://127.0.0.1:{self.webhook_port}"),
            ("--kubeconfig .cluster/kubeconfig", f"--kubeconfig {kubeconfig}"),
            ("--kubeconfig PATH", f"--kubeconfig {kubeconfig}"),
            ("127.0.0.1:8080", f"127.0.0.1:{free_port()}"),
            # Into the shared .venv only as a dry run: it proves the clone installs.
            ("pip install .", "pip install --dry-run --no-deps ."),
        ):
            command = command.replace(placeholder, value)
        if command.startswith("locust-operator run"):
            # Probes on a free port: 8081 may be taken by another operator on this host.
            command = re.sub(r"\s+#.*$", "", command)
            command += f" --health-probe-bind-address=127.0.0.1:{free_port()}"
        return command

    def run(self, command: str, where: str) -> None:
        command = self.substitute(command)
        if _keeps_running(command):
            self.start(command, where)
            return
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, (
            f"{where}: `{command}` exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )

    def start(self, command: str, where: str) -> None:
        log = self.workdir / f"background-{len(self.background)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.background.append((command, process, log))
        probe = re.search(r"--health-probe-bind-address=127\.0\.0\.1:(\d+)", command)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if probe and http_get(int(probe[1]), "/readyz")[0] == 200:
                return
            if not probe and log.read_text().strip():
                return  # a watch printed its table
            code = process.poll()
            assert code is None, f"{where}: `{command}` exited {code}:\n{log.read_text()}"
            assert time.monotonic() < deadline, (
                f"{where}: `{command}` did not get going:\n{log.read_text()}"
            )
            time.sleep(0.2)

    def stop_background(self) -> None:
        failures = []
        for command, process, log in reversed(self.background):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            operator = command.startswith("locust-operator run")
            if operator and process.returncode != 0:
                failures.append(f"`{command}` exited {process.returncode}:\n{log.read_text()}")
        self.background.clear()
        assert not failures, "\n".join(failures)


def _keeps_running(command: str) -> bool:
    words = shlex.split(command.split("#")[0]) if "<<" not in command else []
    if words[:2] == ["locust-operator", "run"]:
        return True
    return bool(words) and words[0] == "kubectl" and ("-w" in words or "--watch" in words)


@pytest.fixture(scope="module")
def docs_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path_factory.mktemp("docs-cluster"), nodes=1)
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def session(docs_cluster: LocalCluster, tmp_path: Path) -> Iterator[Session]:
    """A reader's directory: the repository's files (linked), and nothing of theirs yet."""
    workdir = tmp_path / "reader"
    workdir.mkdir()
    for entry in REPO_ROOT.iterdir():
        if entry.name not in {".git", ".cluster"}:
            (workdir / entry.name).symlink_to(entry)
    assert docs_cluster.bin_dir is not None
    env = {
        **os.environ,
        "KUBECONFIG": str(docs_cluster.kubeconfig),
        "PATH": os.pathsep.join(
            [str(docs_cluster.bin_dir), str(REPO_ROOT / ".venv" / "bin"), os.environ["PATH"]]
        ),
    }
    reader = Session(docs_cluster, workdir, env)
    # What a reader has done before any page: the CRD installed (README, getting started),
    # and a test called my-test, which the README's status commands query.
    reader.run(f"kubectl apply --server-side --force-conflicts -f {CRD_FILE}", "setup")
    reader.run(
        "until kubectl get crd locusttests.locust.io -o jsonpath="
        "'{.status.conditions[?(@.type==\"Established\")].status}' | grep -q True; "
        "do sleep 0.2; done",
        "setup",
    )
    reader.run(f"kubectl apply -f - <<'EOF'\n{MY_TEST}\nEOF", "setup")
    try:
        yield reader
    finally:
        reader.stop_background()


MY_TEST = """apiVersion: locust.io/v2
kind: LocustTest
metadata:
  name: my-test
spec:
  image: locustio/locust:2.43.1
  master:
    command: "--locustfile /lotest/src/test.py --host https://example.com"
  worker:
    command: "--locustfile /lotest/src/test.py"
    replicas: 2"""


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_shell_blocks_of_a_document_run_as_written(document: str, session: Session) -> None:
    blocks = read_blocks(document)
    ran = 0
    for block in blocks:
        header = FILE_HEADER.match(block.text.splitlines()[0]) if block.text else None
        if block.language not in SHELL_LANGUAGES:
            if header:
                (session.workdir / header["name"]).write_text(block.text + "\n")
            continue
        if block.skip_reason is not None:
            continue
        for command in commands(block.text):
            session.run(command, f"{document}:{block.line}")
            ran += 1
    session.stop_background()
    unmarked = [b for b in blocks if b.language in SHELL_LANGUAGES and b.skip_reason is None]
    assert ran >= len(unmarked)


def test_the_charts_notes_run_as_written(session: Session, docs_cluster: LocalCluster) -> None:
    """NOTES.txt as `helm install` prints it. Its commands for the test namespace (run a
    test, watch it) run; those for the release (its Deployment, Certificate, the CRD's
    removal) need the chart installed with an image the node can pull and are skipped,
    as is the port-forward (kwok pods listen on nothing)."""
    assert docs_cluster.bin_dir is not None
    rendered = subprocess.run(
        [
            str(docs_cluster.bin_dir / "helm"),
            "install",
            "docs-notes",
            str(CHART),
            "--dry-run=client",
            "--namespace=locust-operator-system",
            "--set=crds.install=false",  # the reader applied the CRD already (setup)
            f"--kubeconfig={docs_cluster.kubeconfig}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    notes = rendered.stdout.split("\nNOTES:\n", 1)[1]
    (session.workdir / "test.py").write_text(
        "from locust import HttpUser, task\n\n\nclass User(HttpUser):\n"
        "    @task\n    def index(self):\n        self.client.get('/')\n"
    )
    script = "\n".join(
        line.strip() if line.lstrip().startswith("kubectl") else line
        for line in notes.splitlines()
        if line.startswith("   ") or line.startswith("EOF") or not line.strip()
    )
    ran = 0
    for command in commands(script):
        if not command.startswith(f"kubectl -n {NOTES_NAMESPACE} ") or "port-forward" in command:
            continue
        session.run(command, "NOTES.txt")
        ran += 1
    assert ran >= 8, notes  # the ConfigMap, the test, and the watch commands


def test_the_extractor_reports_an_indented_heredoc_terminator() -> None:
    """What made the NOTES' step 2 hang when pasted: bash ends a heredoc only at a line
    that is exactly its terminator."""
    pasted = "kubectl apply -f - <<EOF\n   kind: LocustTest\n   EOF\nkubectl get lotest"
    with pytest.raises(AssertionError, match="heredoc 'EOF' never ends"):
        commands(pasted)
    fixed = "kubectl apply -f - <<'EOF'\n   kind: LocustTest\nEOF\nkubectl get lotest  # all"
    assert commands(fixed) == [
        "kubectl apply -f - <<'EOF'\n   kind: LocustTest\nEOF",
        "kubectl get lotest  # all",
    ]


def test_the_extractor_joins_continuations_and_honours_markers(tmp_path: Path) -> None:
    assert commands("# a comment\nhelm install x \\\n  --set a=b\n") == ["helm install x --set a=b"]
    blocks = read_blocks("docs/getting-started.md")
    marked = [block for block in blocks if block.skip_reason]
    assert marked and all(block.language in SHELL_LANGUAGES for block in marked)
    assert any(FILE_HEADER.match(block.text.splitlines()[0]) for block in blocks if block.text)
