"""The generated master and worker pods run with real Locust: their containers' args, env and
ConfigMap mounts, executed as local processes, connect, run a test with a lib ConfigMap and
finish unattended. No cluster needed; only loopback traffic."""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from localcluster.cluster import free_port
from locust_operator.cli_test.localize import Localizer, locust_container, mount_directories
from locust_operator.config import OperatorConfig
from locust_operator.resources import build_children
from tests.real_locust import (
    LOOPBACK,
    WORKER_INDEX_HEADER,
    LocustProcess,
    http_target,
    inherited_env,
    write_config_maps,
)

TEST_NAME = "real"
SRC_CONFIG_MAP = "real-scripts"
LIB_CONFIG_MAP = "real-lib"
WORKERS = 2
USERS = 4
RUN_TIME_SECONDS = 5
AUTOQUIT_SECONDS = 2
HARD_TIMEOUT_SECONDS = 60
# The image's entrypoint; the pods set only args.
LOCUST = str(Path(sys.executable).parent / "locust")

LOCUSTFILE = f"""\
from locust import HttpUser, constant, task

import mylib


class LibUser(HttpUser):
    wait_time = constant(0.2)

    @task
    def hit(self):
        worker_index = str(self.environment.runner.worker_index)
        self.client.get(mylib.path(), headers={{"{WORKER_INDEX_HEADER}": worker_index}})
"""


def mylib_source(path: str) -> str:
    return f"def path():\n    return {path!r}\n"


def locust_test(host: str) -> dict[str, Any]:
    locustfile = "/lotest/src/locustfile.py"
    return {
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": TEST_NAME, "namespace": "default", "uid": "uid-1", "generation": 1},
        "spec": {
            "image": "locustio/locust:2.43.1",
            "master": {
                "command": (
                    f"--locustfile {locustfile} --host {host} --users {USERS} "
                    f"--spawn-rate {USERS} --run-time {RUN_TIME_SECONDS}s"
                ),
                "autoquit": {"enabled": True, "timeout": AUTOQUIT_SECONDS},
            },
            "worker": {"command": f"--locustfile {locustfile}", "replicas": WORKERS},
            "testFiles": {"configMapRef": SRC_CONFIG_MAP, "libConfigMapRef": LIB_CONFIG_MAP},
        },
    }


def pod_spec(job: Any) -> dict[str, Any]:
    return dict(job.to_dict()["spec"]["template"]["spec"])


def test_generated_pods_run_a_distributed_test_with_real_locust(tmp_path: Path) -> None:
    # A path only mylib knows: requests to it prove `import mylib` worked where users run.
    lib_path = f"/known-only-to-mylib/{uuid.uuid4().hex}"
    config_map_dirs = write_config_maps(
        tmp_path / "configmaps",
        {
            SRC_CONFIG_MAP: {"locustfile.py": LOCUSTFILE},
            LIB_CONFIG_MAP: {"mylib.py": mylib_source(lib_path)},
        },
    )
    # An empty working directory, so Locust finds neither mylib nor a locust.conf there.
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    with http_target() as target:
        children = build_children(locust_test(target.url), OperatorConfig())
        master_pod = pod_spec(children.master_job)
        worker_pod = pod_spec(children.worker_job)
        master_container = locust_container(master_pod)
        worker_container = locust_container(worker_pod)

        service = children.service.to_dict()
        master_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "master")
        # Pods have a network namespace each; local processes share one, so the pod's fixed
        # ports move to free ones: the master port (in both roles' flags) and the web UI's
        # (Locust's default, which the master pod exposes and no flag sets).
        local_master_port = free_port()
        web_ui_env = {"LOCUST_WEB_HOST": LOOPBACK, "LOCUST_WEB_PORT": str(free_port())}

        def localizer(pod: dict[str, Any], container: dict[str, Any]) -> Localizer:
            return Localizer(
                mounts=mount_directories(pod, container, config_map_dirs),
                master_host=service["metadata"]["name"],
                ports={master_port: local_master_port},
            )

        master_local = localizer(master_pod, master_container)
        worker_local = localizer(worker_pod, worker_container)
        master_argv = [LOCUST, *master_local.args(master_container["args"])]
        worker_argv = [LOCUST, *worker_local.args(worker_container["args"])]
        master_env = master_local.env(master_container.get("env") or [])
        worker_env = worker_local.env(worker_container.get("env") or [])

        # The rewrites found what they were meant to replace, and nothing of the pod remains.
        assert f"--master-bind-port={local_master_port}" in master_argv
        assert f"--master-port={local_master_port}" in worker_argv
        assert f"--master-host={LOOPBACK}" in worker_argv
        pod_only = re.compile(rf"/lotest|/opt/locust|{re.escape(service['metadata']['name'])}")
        for value in [*master_argv, *worker_argv, *master_env.values(), *worker_env.values()]:
            assert not pod_only.search(value), value

        # PYTHONPATH comes from the generated pod spec, naming the lib ConfigMap's mount.
        assert "PYTHONPATH" not in inherited_env()
        lib_dir = str(config_map_dirs[LIB_CONFIG_MAP])
        assert master_env["PYTHONPATH"] == lib_dir
        assert worker_env["PYTHONPATH"] == lib_dir

        processes: list[LocustProcess] = []
        try:
            master = LocustProcess(
                "master",
                master_argv,
                {**inherited_env(), **master_env, **web_ui_env},
                cwd,
                tmp_path / "master.log",
            )
            processes.append(master)
            workers = [
                LocustProcess(
                    f"worker-{index}",
                    worker_argv,
                    {**inherited_env(), **worker_env},
                    cwd,
                    tmp_path / f"worker-{index}.log",
                )
                for index in range(WORKERS)
            ]
            processes += workers

            deadline = time.monotonic() + HARD_TIMEOUT_SECONDS
            master_code = master.wait(deadline)
            worker_codes = [worker.wait(deadline) for worker in workers]
        finally:
            for process in processes:
                process.kill()
        logs = "\n".join(process.report() for process in processes)

        # Exited by itself (None: still running at the deadline, then killed), successfully.
        assert master_code == 0, logs
        assert worker_codes == [0] * WORKERS, logs
        master_log = master.log()
        # Workers report ready again after the test stops: count distinct ids, not lines.
        ready = set(re.findall(r"(\S+) \(index \d+\) reported as ready\.", master_log))
        assert len(ready) == WORKERS, logs
        assert f"reported as ready. {WORKERS} workers connected." in master_log, logs
        assert f"Sending spawn jobs of {USERS} users" in master_log, logs
        assert f"to {WORKERS} ready workers" in master_log, logs
        assert "--autoquit time reached, shutting down" in master_log, logs

        hits = dict(target.hits)
        assert hits, logs
        assert {path for path, _ in hits} == {lib_path}, hits
        assert {worker for _, worker in hits} == {str(index) for index in range(WORKERS)}, hits
