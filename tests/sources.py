"""Test sources for the fetcher's tests (unit and real node): a git repository holding a
Locust suite in subfolders with a requirements.txt, the wheel it depends on (installed with
no package index: the wheel is in the repository, requirements.txt points pip at it), and
the same suite as a tar.gz or zip archive."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

WHEEL_NAME = "greetlib"
WHEEL_VERSION = "1.0"
WHEEL_FILE = f"{WHEEL_NAME}-{WHEEL_VERSION}-py3-none-any.whl"
# What the suite's requests carry: proof that both the dependency and the subpackage loaded.
GREETING = "hello-from-greetlib"
SUITE_DIR = "loadtests"

LOCUSTFILE = """\
from locust import HttpUser, constant, task

import greetlib
from scenarios.shop.browse import path


class Shopper(HttpUser):
    wait_time = constant(0.2)

    @task
    def browse(self):
        self.client.get(path(greetlib.greeting()))
"""
BROWSE = """\
def path(greeting):
    return f"/shop/{greeting}"
"""
REQUIREMENTS = f"""\
# Offline: the wheel ships with the suite.
--no-index
--find-links ./wheels
{WHEEL_NAME}=={WHEEL_VERSION}
"""


def wheel_bytes(name: str = WHEEL_NAME, version: str = WHEEL_VERSION) -> bytes:
    """A pure-Python wheel whose module's greeting() returns GREETING."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'def greeting():\n    return "{GREETING}"\n',
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return buffer.getvalue()


def suite_files() -> dict[str, bytes]:
    """The suite, relative to the repository's root."""
    return {
        "README.md": b"load tests\n",
        f"{SUITE_DIR}/locustfile.py": LOCUSTFILE.encode(),
        f"{SUITE_DIR}/scenarios/__init__.py": b"",
        f"{SUITE_DIR}/scenarios/shop/__init__.py": b"",
        f"{SUITE_DIR}/scenarios/shop/browse.py": BROWSE.encode(),
        f"{SUITE_DIR}/requirements.txt": REQUIREMENTS.encode(),
        f"{SUITE_DIR}/wheels/{WHEEL_FILE}": wheel_bytes(),
    }


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "tests",
        "GIT_AUTHOR_EMAIL": "tests@localhost",
        "GIT_COMMITTER_NAME": "tests",
        "GIT_COMMITTER_EMAIL": "tests@localhost",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(repo: Path) -> dict[str, str]:
    """A repository with the suite on `main`, tagged v1, then a second commit on `main`;
    the commits by name: {"v1": ..., "main": ...}."""
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    for path, data in suite_files().items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "the suite")
    git(repo, "tag", "v1")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "CHANGELOG").write_text("second commit\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "a second commit")
    return {"v1": first, "main": git(repo, "rev-parse", "HEAD")}


def bundle(repo: Path, out: Path) -> Path:
    """The repository as one git bundle (all refs): what the git server is seeded from."""
    git(repo, "bundle", "create", str(out), "--all")
    return out


def tar_gz(files: dict[str, bytes], prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(prefix + path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes], prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in sorted(files.items()):
            archive.writestr(prefix + path, data)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
