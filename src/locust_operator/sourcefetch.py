"""The test-source fetcher: the init container that puts a LocustTest's test files in place.

Runs in the fetcher image (``python3 sourcefetch.py``; the standard library, git and pip
only), once per pod, before Locust starts. It reads what to fetch from the environment the
operator sets (``resources/fetcher.py``)::

    LOCUST_SOURCE        JSON: {"type": "git", "url", "ref", "subPath"} or
                         {"type": "archive", "url", "sha256", "subPath"}, plus "maxBytes"
                         and optionally "dependencies": {"requirementsFile", "packages",
                         "findLinks", "indexUrl", "noIndex"}
    LOCUST_SOURCE_TOKEN  a token from the test's Secret (HTTP auth), never printed
    LOCUST_SOURCE_USERNAME  the user name sent with the token (default x-access-token)
    LOCUST_SOURCE_SSH_DIR   a directory with ssh-privatekey and known_hosts (git over SSH)
    LOCUST_SOURCE_RETRY_SECONDS  how long an unreachable source is retried (default 60)

and writes into ``LOCUST_SOURCE_DIR`` (the volume shared with Locust): ``src/`` (the test
files, the source's subPath) and ``deps/`` (the dependencies, ``pip install --target``).

Its result goes to the container's termination message (``/dev/termination-log``), which
the operator reads from the pod's status: one JSON object, ``{"type", "commit" | "sha256",
...}`` on success, ``{"reason", "message"}`` with a non-zero exit on failure, ``reason``
one of the words in :data:`REASONS`. Messages never contain the token or URL credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

# Machine-readable failure reasons; the operator's PodsHealthy condition uses the same words.
UNREACHABLE = "SourceUnreachable"
NOT_FOUND = "SourceNotFound"
REF_NOT_FOUND = "SourceRefNotFound"
AUTH_FAILED = "SourceAuthFailed"
DIGEST_MISMATCH = "SourceDigestMismatch"
TOO_LARGE = "SourceTooLarge"
INVALID = "SourceInvalid"
INSTALL_FAILED = "DependencyInstallFailed"
FETCH_FAILED = "SourceFetchFailed"
REASONS = (
    UNREACHABLE,
    NOT_FOUND,
    REF_NOT_FOUND,
    AUTH_FAILED,
    DIGEST_MISMATCH,
    TOO_LARGE,
    INVALID,
    INSTALL_FAILED,
    FETCH_FAILED,
)

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_USERNAME = "x-access-token"
TERMINATION_LOG = "/dev/termination-log"
# The kubelet keeps at most 4096 bytes of a termination message.
MAX_MESSAGE = 1500
MAX_MEMBERS = 100_000
GIT_TIMEOUT = 300
PIP_TIMEOUT = 900
HTTP_TIMEOUT = 30
# A pod often starts before the Service it fetches from has endpoints, or before its DNS
# name resolves: an unreachable source is retried this long before the test fails for it.
RETRY_SECONDS = 60.0
MAX_RETRY_DELAY = 10.0
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


class FetchError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Secrets:
    token: str | None = None
    username: str = DEFAULT_USERNAME
    ssh_dir: Path | None = None

    def redact(self, text: str) -> str:
        """The text without the token and without credentials embedded in URLs."""
        if self.token:
            text = text.replace(self.token, "***")
        return _USERINFO.sub("***@", text)


def _tail(text: str, limit: int = MAX_MESSAGE) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _display_url(url: str) -> str:
    """A URL as messages show it: no credentials, no query (it may carry a signature)."""
    return _USERINFO.sub("", url).split("?", 1)[0].split("#", 1)[0]


# --- git ----------------------------------------------------------------------------------


def _classify_git(stderr: str) -> str:
    text = stderr.lower()
    if any(
        marker in text
        for marker in (
            "authentication failed",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "permission denied (publickey",
            "host key verification failed",
            "the requested url returned error: 401",
            "the requested url returned error: 403",
            "invalid username or password",
        )
    ):
        return AUTH_FAILED
    if any(
        marker in text
        for marker in (
            "repository not found",
            "the requested url returned error: 404",
            "does not appear to be a git repository",
            "not found",
        )
    ):
        return NOT_FOUND
    return UNREACHABLE


class Git:
    def __init__(self, workdir: Path, url: str, secrets: Secrets, home: Path) -> None:
        self.workdir = workdir
        self.url = url
        self.secrets = secrets
        self.env = self._env(home)

    def _env(self, home: Path) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "LC_ALL": "C",
        }
        config = {
            "http.lowSpeedLimit": "1000",
            "http.lowSpeedTime": "60",
            "advice.detachedHead": "false",
            "init.defaultBranch": "main",
            "protocol.file.allow": "always",
        }
        if self.secrets.token:
            # Through the environment, not the command line: other processes see no token.
            import base64

            basic = f"{self.secrets.username}:{self.secrets.token}".encode()
            config["http.extraHeader"] = "Authorization: Basic " + base64.b64encode(basic).decode()
        for index, (key, value) in enumerate(config.items()):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        env["GIT_CONFIG_COUNT"] = str(len(config))
        if self.secrets.ssh_dir is not None:
            env["GIT_SSH_COMMAND"] = self._ssh_command(home)
        return env

    def _ssh_command(self, home: Path) -> str:
        assert self.secrets.ssh_dir is not None
        for key_name in ("ssh-privatekey", "known_hosts"):
            if not (self.secrets.ssh_dir / key_name).is_file():
                raise FetchError(
                    AUTH_FAILED,
                    f"the credentials Secret has no {key_name} key: an SSH source needs the "
                    "private key (ssh-privatekey) and the server's host key (known_hosts, e.g. "
                    "from ssh-keyscan)",
                )
        ssh = home / ".ssh"
        ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = ssh / "id"
        # ssh refuses a key others can read; the Secret's file may be group-readable.
        shutil.copyfile(self.secrets.ssh_dir / "ssh-privatekey", key)
        key.chmod(0o600)
        known_hosts = self.secrets.ssh_dir / "known_hosts"
        return (
            f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=20 "
            f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
        )

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                ["git", *args],
                cwd=self.workdir,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise FetchError(
                UNREACHABLE,
                f"git {args[0]} from {_display_url(self.url)} did not finish within {GIT_TIMEOUT}s",
            ) from exc
        if check and result.returncode != 0:
            detail = self.secrets.redact(_tail(result.stderr or result.stdout))
            reason = _classify_git(result.stderr)
            raise FetchError(reason, f"git {args[0]} {_display_url(self.url)} failed: {detail}")
        return result


def _remote_refs(listing: str) -> dict[str, str]:
    refs: dict[str, str] = {}
    for line in listing.splitlines():
        sha, _, name = line.partition("\t")
        if name:
            refs[name] = sha
    return refs


def _refs_hint(refs: Mapping[str, str]) -> str:
    names = sorted(
        name.removeprefix("refs/heads/").removeprefix("refs/tags/")
        for name in refs
        if name.startswith(("refs/heads/", "refs/tags/")) and not name.endswith("^{}")
    )
    shown = ", ".join(names[:10]) + (f", +{len(names) - 10} more" if len(names) > 10 else "")
    return f" (the repository has: {shown})" if names else " (the repository has no refs)"


def fetch_git(
    source: Mapping[str, Any], secrets: Secrets, work: Path, home: Path
) -> dict[str, Any]:
    """Shallow-fetch ``ref`` (a branch, tag, full ref name or commit) into ``work``; the commit."""
    url = str(source["url"])
    ref = str(source.get("ref") or "")
    work.mkdir(parents=True)
    git = Git(work, url, secrets, home)
    git.run("init", "--quiet")
    git.run("remote", "add", "origin", url)
    refs = _remote_refs(git.run("ls-remote", "origin").stdout)
    shown = _display_url(url)

    if not ref:
        wanted: str | None = "HEAD" if "HEAD" in refs else None
        if wanted is None:
            raise FetchError(REF_NOT_FOUND, f"{shown} has no default branch (HEAD); set ref")
    else:
        candidates = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
        wanted = next((c for c in candidates if c in refs), None)

    if wanted is not None:
        git.run("fetch", "--quiet", "--depth", "1", "--no-tags", "origin", wanted)
    elif _SHA.fullmatch(ref):
        # A commit: servers that allow it serve it shallowly; else fetch all and look it up.
        shallow = git.run("fetch", "--quiet", "--depth", "1", "origin", ref, check=False)
        if shallow.returncode != 0:
            git.run("fetch", "--quiet", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*")
            found = git.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
            if found.returncode != 0:
                raise FetchError(
                    REF_NOT_FOUND,
                    f"ref {ref!r} is neither a branch, a tag nor a commit of {shown}"
                    + _refs_hint(refs),
                )
            ref = found.stdout.strip()
    else:
        raise FetchError(
            REF_NOT_FOUND,
            f"ref {ref!r} is neither a branch, a tag nor a commit of {shown}" + _refs_hint(refs),
        )
    target = "FETCH_HEAD" if wanted is not None or not _SHA.fullmatch(ref) else ref
    checked = git.run("checkout", "--quiet", "--detach", target, check=False)
    if checked.returncode != 0:
        git.run("checkout", "--quiet", "--detach", "FETCH_HEAD")
    commit = git.run("rev-parse", "HEAD").stdout.strip()
    shutil.rmtree(work / ".git")
    result: dict[str, Any] = {"type": "git", "commit": commit}
    if ref:
        result["ref"] = ref
    return result


# --- archive ------------------------------------------------------------------------------


def download(url: str, secrets: Secrets, out: Path, max_bytes: int) -> str:
    """Stream ``url`` to ``out`` (at most ``max_bytes``); its sha256."""
    request = urllib.request.Request(url, headers={"User-Agent": "locust-source-fetcher"})
    if secrets.token:
        request.add_unredirected_header("Authorization", f"Bearer {secrets.token}")
    shown = _display_url(url)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(
                    TOO_LARGE, f"{shown} is {int(length)} bytes, over the limit of {max_bytes}"
                )
            size = 0
            with out.open("wb") as handle:
                while chunk := response.read(1 << 16):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(
                            TOO_LARGE, f"{shown} is over the limit of {max_bytes} bytes"
                        )
                    digest.update(chunk)
                    handle.write(chunk)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise FetchError(
                AUTH_FAILED, f"{shown} answered HTTP {exc.code}: check the credentials Secret"
            ) from None
        if exc.code in (404, 410):
            raise FetchError(
                NOT_FOUND, f"{shown} answered HTTP {exc.code}: no such archive"
            ) from None
        raise FetchError(UNREACHABLE, f"{shown} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FetchError(
            UNREACHABLE, f"cannot reach {shown}: {secrets.redact(str(exc.reason))}"
        ) from None
    except (TimeoutError, OSError) as exc:
        if isinstance(exc, FetchError):
            raise
        raise FetchError(
            UNREACHABLE, f"cannot download {shown}: {secrets.redact(str(exc))}"
        ) from None
    return digest.hexdigest()


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise FetchError(INVALID, f"the archive holds an unsafe path {name!r}")
    return path


def _extract_tar(archive: Path, into: Path, max_bytes: int) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members: list[tarfile.TarInfo] = []
            total = 0
            for member in tar:
                if len(members) >= MAX_MEMBERS:
                    raise FetchError(INVALID, f"the archive holds over {MAX_MEMBERS} entries")
                path = _safe_member(member.name)
                if member.issym() or member.islnk():
                    target = PurePosixPath(member.linkname)
                    base = path.parent if member.issym() else PurePosixPath()
                    if target.is_absolute() or ".." in (base / target).parts:
                        raise FetchError(
                            INVALID, f"the archive's link {member.name!r} points outside it"
                        )
                elif not (member.isfile() or member.isdir()):
                    continue  # devices and fifos are never test files
                total += member.size
                if total > max_bytes:
                    raise FetchError(
                        TOO_LARGE, f"the archive unpacks to over the limit of {max_bytes} bytes"
                    )
                member.mode = 0o755 if member.isdir() or member.mode & 0o111 else 0o644
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                members.append(member)
            tar.extractall(into, members=members)
    except tarfile.TarError as exc:
        raise FetchError(INVALID, f"the archive is not a readable tar.gz: {exc}") from None


def _extract_zip(archive: Path, into: Path, max_bytes: int) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            infos = bundle.infolist()
            if len(infos) > MAX_MEMBERS:
                raise FetchError(INVALID, f"the archive holds over {MAX_MEMBERS} entries")
            if sum(info.file_size for info in infos) > max_bytes:
                raise FetchError(
                    TOO_LARGE, f"the archive unpacks to over the limit of {max_bytes} bytes"
                )
            for info in infos:
                path = _safe_member(info.filename)
                target = into / path
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as exc:
        raise FetchError(INVALID, f"the archive is not a readable zip: {exc}") from None


def fetch_archive(
    source: Mapping[str, Any], secrets: Secrets, work: Path, scratch: Path, max_bytes: int
) -> dict[str, Any]:
    url = str(source["url"])
    download_to = scratch / "archive"
    digest = download(url, secrets, download_to, max_bytes)
    expected = str(source.get("sha256") or "").lower()
    if expected and expected != digest:
        raise FetchError(
            DIGEST_MISMATCH,
            f"{_display_url(url)} has sha256 {digest}, not the {expected} the test expects: "
            "the archive changed or the digest is wrong",
        )
    work.mkdir(parents=True)
    with download_to.open("rb") as handle:
        magic = handle.read(4)
    if magic.startswith(b"PK"):
        _extract_zip(download_to, work, max_bytes)
    else:
        _extract_tar(download_to, work, max_bytes)
    download_to.unlink()
    return {"type": "archive", "sha256": digest}


# --- layout and dependencies --------------------------------------------------------------


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def place(checkout: Path, sub_path: str, src: Path) -> None:
    """Move the source's ``sub_path`` (or all of it) to ``src``."""
    chosen = checkout
    if sub_path.strip("/"):
        relative = _safe_member(sub_path.strip("/"))
        chosen = checkout / relative
        if not chosen.is_dir():
            raise FetchError(
                INVALID,
                f"subPath {sub_path!r} is not a directory of the source; fix testFiles subPath",
            )
    os.replace(chosen, src)


def _http_host(location: str) -> str | None:
    """host[:port] of a plain http:// URL (no credentials), else None."""
    if not location.startswith("http://"):
        return None
    netloc = location[len("http://") :].split("/", 1)[0]
    return netloc.rsplit("@", 1)[-1] or None


def install_dependencies(
    deps: Mapping[str, Any], src: Path, target: Path, secrets: Secrets, scratch: Path, pip: str
) -> int:
    """pip install --target the requirements file (if the source has it) and the packages;
    the number of top-level entries installed."""
    target.mkdir(parents=True, exist_ok=True)
    requirements_name = str(deps.get("requirementsFile") or "requirements.txt")
    requirements = src / _safe_member(requirements_name)
    packages = [str(p) for p in deps.get("packages") or []]
    args: list[str] = []
    if requirements.is_file():
        args += ["-r", str(requirements)]
    elif deps.get("requirementsFile"):
        raise FetchError(
            INSTALL_FAILED, f"the requirements file {requirements_name!r} is not in the source"
        )
    args += packages
    if not args:
        return 0
    options = ["--no-index"] if deps.get("noIndex") else []
    locations = [str(link) for link in deps.get("findLinks") or []]
    for link in locations:
        options += ["--find-links", link]
    if deps.get("indexUrl"):
        locations.append(str(deps["indexUrl"]))
        options += ["--index-url", str(deps["indexUrl"])]
    # pip ignores plain-HTTP locations on hosts other than localhost unless trusted: the spec
    # naming one (an in-cluster wheel server, say) is what trusting it means here.
    for host in dict.fromkeys(_http_host(location) for location in locations):
        if host:
            options += ["--trusted-host", host]
    command = [
        pip, "-m", "pip", "install", "--target", str(target), "--no-cache-dir",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--no-warn-script-location", *options, *args,
    ]  # fmt: skip
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "PIP_NO_INPUT": "1",
    }
    print("installing dependencies: " + secrets.redact(" ".join(args)), flush=True)
    try:
        result = subprocess.run(
            command, cwd=src, env=env, capture_output=True, text=True, timeout=PIP_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise FetchError(
            INSTALL_FAILED, f"pip install did not finish within {PIP_TIMEOUT}s"
        ) from None
    print(secrets.redact(result.stdout[-4000:]), flush=True)
    if result.returncode != 0:
        errors = [
            line for line in result.stderr.splitlines() if line.startswith(("ERROR", "WARNING"))
        ] or [result.stderr]
        raise FetchError(
            INSTALL_FAILED, "pip install failed: " + secrets.redact(_tail("\n".join(errors)))
        )
    return len(list(target.iterdir()))


# --- entry point --------------------------------------------------------------------------


def fetch(
    source: Mapping[str, Any], secrets: Secrets, root: Path, pip: str = "python3"
) -> dict[str, Any]:
    """Fetch the source into ``root``/src and its dependencies into ``root``/deps."""
    kind = source.get("type")
    max_bytes = int(source.get("maxBytes") or DEFAULT_MAX_BYTES)
    src, deps_dir = root / "src", root / "deps"
    for old in (src, deps_dir):  # a re-run init container starts afresh
        shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as temporary:
        scratch = Path(temporary)
        home = scratch / "home"
        home.mkdir()
        checkout = scratch / "checkout"
        if kind == "git":
            result = fetch_git(source, secrets, checkout, home)
        elif kind == "archive":
            result = fetch_archive(source, secrets, checkout, scratch, max_bytes)
        else:
            raise FetchError(FETCH_FAILED, f"unknown source type {kind!r}")
        size = _tree_size(checkout)
        if size > max_bytes:
            raise FetchError(
                TOO_LARGE, f"the source's files take {size} bytes, over the limit of {max_bytes}"
            )
        place(checkout, str(source.get("subPath") or ""), src)
        deps = source.get("dependencies")
        deps_dir.mkdir()
        if isinstance(deps, Mapping):
            installed = install_dependencies(deps, src, deps_dir, secrets, scratch, pip)
            result["dependencies"] = installed
    return result


def fetch_patiently(
    source: Mapping[str, Any],
    secrets: Secrets,
    root: Path,
    pip: str = "python3",
    retry_seconds: float = RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """:func:`fetch`, retried with backoff while the source is unreachable (only then: a
    missing ref or a wrong digest will not change by waiting)."""
    started = clock()
    delay, attempts = 1.0, 0
    while True:
        attempts += 1
        try:
            return fetch(source, secrets, root, pip)
        except FetchError as exc:
            waited = clock() - started
            if exc.reason != UNREACHABLE or waited + delay > retry_seconds:
                if attempts > 1:
                    exc.message += f" (tried {attempts} times over {waited:.0f}s)"
                raise
            print(
                f"attempt {attempts}: {secrets.redact(exc.message)}; retrying in {delay:.0f}s",
                flush=True,
            )
        sleep(delay)
        delay = min(delay * 2, MAX_RETRY_DELAY)


def _retry_seconds(env: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(env.get("LOCUST_SOURCE_RETRY_SECONDS", RETRY_SECONDS)))
    except ValueError:
        return RETRY_SECONDS


def _secrets_from_env(env: Mapping[str, str]) -> Secrets:
    ssh_dir = env.get("LOCUST_SOURCE_SSH_DIR")
    return Secrets(
        token=env.get("LOCUST_SOURCE_TOKEN") or None,
        username=env.get("LOCUST_SOURCE_USERNAME") or DEFAULT_USERNAME,
        ssh_dir=Path(ssh_dir) if ssh_dir else None,
    )


def _report(path: str, payload: Mapping[str, Any]) -> None:
    text = json.dumps(payload, sort_keys=True)
    print(text, flush=True)
    try:
        Path(path).write_text(text)
    except OSError as exc:  # outside a pod, or a read-only file: the log line stays
        print(f"cannot write the termination message to {path}: {exc}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    termination_log = env.get("LOCUST_SOURCE_TERMINATION_LOG", TERMINATION_LOG)
    secrets = _secrets_from_env(env)
    try:
        source = json.loads(env.get("LOCUST_SOURCE", ""))
        if not isinstance(source, dict) or not source.get("url"):
            raise ValueError("LOCUST_SOURCE must be a JSON object with a url")
    except ValueError as exc:
        _report(termination_log, {"reason": FETCH_FAILED, "message": str(exc)})
        return 2
    root = Path(env.get("LOCUST_SOURCE_DIR", "/locust-source"))
    pip = env.get("LOCUST_SOURCE_PIP", "python3")
    print(
        f"fetching the {source.get('type')} source {_display_url(str(source['url']))}", flush=True
    )
    try:
        result = fetch_patiently(source, secrets, root, pip, _retry_seconds(env))
    except FetchError as exc:
        _report(termination_log, {"reason": exc.reason, "message": secrets.redact(exc.message)})
        return 1
    except Exception as exc:
        message = secrets.redact(f"{type(exc).__name__}: {exc}")
        _report(termination_log, {"reason": FETCH_FAILED, "message": _tail(message)})
        return 1
    _report(termination_log, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
