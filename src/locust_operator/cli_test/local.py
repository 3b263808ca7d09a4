"""`test run --local`: the test as local processes, one master and N workers, with the
command lines and environment the operator generates for its pods (built by the same
resources/ code), so a locustfile is tried before it is submitted."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from locust_operator.api import conditions as words
from locust_operator.api.validation import validate
from locust_operator.config import OperatorConfig
from locust_operator.resources import build_children

from .exits import CliError
from .localize import LOOPBACK, Localizer, locust_container, mount_directories
from .manifest import files_config_map, lib_config_map, run_time_of
from .snapshot import Snapshot
from .sources import TestSources
from .stats import Stats


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def local_env() -> dict[str, str]:
    """This shell's environment, minus what would stand in for the pod's own."""
    return {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith("LOCUST_")
    }


def _pod_spec(job: Any) -> dict[str, Any]:
    return dict(job.to_dict()["spec"]["template"]["spec"])


class LocalRun:
    def __init__(self, test: dict[str, Any], sources: TestSources | None, workdir: Path) -> None:
        if importlib.util.find_spec("locust") is None:
            raise CliError("run --local needs Locust installed here: pip install locust")
        errors = validate(test)
        if errors:
            raise CliError(f"the test is invalid: {errors[0]}")
        self.workdir = workdir
        self.name = str(test["metadata"]["name"])
        self.run_time = run_time_of(test)
        self.expected_workers = int(test["spec"]["worker"]["replicas"])
        config_map_dirs = self._write_files(test, sources)
        built = build_children(
            {**test, "metadata": {**test["metadata"], "uid": "local", "generation": 1}},
            OperatorConfig(),
        )
        service = built.service.to_dict()
        master_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "master")
        self.web_port = free_port()
        ports = {master_port: free_port()}
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        for role, job in (("master", built.master_job), ("worker", built.worker_job)):
            pod = _pod_spec(job)
            container = locust_container(pod)
            if container.get("envFrom"):
                raise CliError(
                    "spec.env.configMapRefs/secretRefs cannot be read locally; run it on the "
                    "cluster instead, or put the variables in spec.env.variables"
                )
            localizer = Localizer(
                mounts=mount_directories(pod, container, config_map_dirs),
                master_host=service["metadata"]["name"],
                ports=ports,
            )
            argv = [sys.executable, "-m", "locust", *localizer.args(container.get("args") or [])]
            self.commands[role] = (argv, localizer.env(container.get("env") or []))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.exit_code: int | None = None
        self.last_stats: Stats | None = None
        self.report: str | None = None

    def _write_files(self, test: dict[str, Any], sources: TestSources | None) -> dict[str, Path]:
        """The ConfigMaps as the kubelet mounts them: one directory each."""
        if sources is None:
            files = test["spec"].get("testFiles") or {}
            if files.get("configMapRef"):
                raise CliError(
                    f"the manifest mounts ConfigMap {files['configMapRef']}, which is not local: "
                    "pass the locustfile or directory as SOURCE and the manifest with --manifest"
                )
            return {}
        maps = {files_config_map(self.name): sources.files}
        if sources.lib is not None:
            maps[lib_config_map(self.name)] = sources.lib
        directories = {}
        for name, files_of in maps.items():
            directory = self.workdir / "configmaps" / name
            directory.mkdir(parents=True)
            for key, text in files_of.data.items():
                (directory / key).write_text(text, encoding="utf-8")
            directories[name] = directory
        return directories

    def describe(self) -> list[str]:
        return [" ".join(argv) for argv, _ in self.commands.values()]

    def start(self) -> None:
        cwd = self.workdir / "cwd"
        cwd.mkdir(exist_ok=True)  # an empty directory: no stray locust.conf or modules
        web = {"LOCUST_WEB_HOST": LOOPBACK, "LOCUST_WEB_PORT": str(self.web_port)}
        launches = [("master", {**web})] + [
            (f"worker-{i}", {}) for i in range(self.expected_workers)
        ]
        for label, extra in launches:
            argv, env = self.commands["master" if label == "master" else "worker"]
            with (self.workdir / f"{label}.log").open("wb") as log:
                self.processes[label] = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env={**local_env(), **env, **extra},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us, and we stop them
                )

    def _get(self, path: str, timeout: float = 5.0) -> bytes | None:
        try:
            with urllib.request.urlopen(
                f"http://{LOOPBACK}:{self.web_port}{path}", timeout=timeout
            ) as answer:
                return bytes(answer.read())
        except (urllib.error.URLError, OSError):
            return None

    def poll(self) -> Snapshot:
        master = self.processes["master"]
        code = master.poll()
        if code is None:
            raw = self._get("/stats/requests")
            if raw is not None:
                with contextlib.suppress(ValueError):
                    self.last_stats = Stats.from_locust(json.loads(raw))
            if self.last_stats is not None and self.last_stats.finished and self.report is None:
                page = self._get("/stats/report", timeout=30.0)
                self.report = page.decode(errors="replace") if page else None
                # Final numbers and report in hand: end the autoquit wait now.
                master.send_signal(signal.SIGTERM)
            phase = words.RUNNING if self.last_stats is not None else words.PENDING
        else:
            self.exit_code = code
            phase = words.SUCCEEDED if code == 0 else words.FAILED
        conditions = {}
        if phase == words.FAILED:
            conditions[words.TEST_COMPLETED] = {
                "type": words.TEST_COMPLETED,
                "status": "True",
                "reason": words.TEST_FAILED,
                "message": f"the local master exited with code {code}"
                + (" (requests failed)" if code == 1 else ""),
            }
        workers_alive = sum(
            1
            for label, process in self.processes.items()
            if label != "master" and process.poll() is None
        )
        return Snapshot(
            phase=phase,
            expected_workers=self.expected_workers,
            connected_workers=workers_alive,
            stats=self.last_stats,
            conditions=conditions,
            run_time=self.run_time,
        )

    def log_tail(self, label: str = "master", lines: int = 20) -> str:
        path = self.workdir / f"{label}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
