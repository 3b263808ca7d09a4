"""Records real payloads of Locust's web API (the version installed in the venv) as test
fixtures: /stats/requests before a run, while it runs and after it stopped, the CSV and the
HTML report. Local processes on loopback only: a master, one worker and a target answering
200 on /, 200 after 20 ms on /slow and 500 on /fail.

    .venv/bin/python hack/record-locust-stats.py tests/fixtures/locust
"""

from __future__ import annotations

import gzip
import http.server
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

LOCUST = str(Path(sys.executable).parent / "locust")
LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def home(self):
        self.client.get("/")

    @task(2)
    def slow(self):
        self.client.get("/slow")

    @task(1)
    def fail(self):
        self.client.get("/fail")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(0.02)
        code = 500 if self.path == "/fail" else 200
        body = b"ok"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def get(url: str, method: str = "GET") -> bytes:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def wait_state(web: str, states: set[str], timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            payload = json.loads(get(f"{web}/stats/requests"))
            if payload.get("state") in states:
                return dict(payload)
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"master never reached {states}")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{server.server_port}"
    with tempfile.TemporaryDirectory() as tmp:
        locustfile = Path(tmp) / "locustfile.py"
        locustfile.write_text(LOCUSTFILE)
        web_port, master_port = free_port(), free_port()
        web = f"http://127.0.0.1:{web_port}"
        common = ["--locustfile", str(locustfile)]
        # Started from the "UI" (autostart off), as the web UI's Start button does.
        master = subprocess.Popen(
            [
                LOCUST,
                *common,
                "--master",
                f"--master-bind-port={master_port}",
                "--master-bind-host=127.0.0.1",
                "--web-host=127.0.0.1",
                f"--web-port={web_port}",
                "--expect-workers=1",
                "--host",
                host,
                "--enable-rebalancing",
                "--only-summary",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        worker = subprocess.Popen(
            [
                LOCUST,
                *common,
                "--worker",
                "--master-host=127.0.0.1",
                f"--master-port={master_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ready = wait_state(web, {"ready"})
            while int(str(ready.get("worker_count", 0))) < 1:
                time.sleep(0.5)
                ready = json.loads(get(f"{web}/stats/requests"))
            (out / "stats-ready.json").write_text(json.dumps(ready, indent=1) + "\n")
            body = b"user_count=4&spawn_rate=4&host=" + host.encode()
            request = urllib.request.Request(f"{web}/swarm", data=body, method="POST")
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            urllib.request.urlopen(request, timeout=10).read()
            wait_state(web, {"running"})
            time.sleep(6)
            running = wait_state(web, {"running"})
            (out / "stats-running.json").write_text(json.dumps(running, indent=1) + "\n")
            get(f"{web}/stop", method="POST")
            time.sleep(3)  # past the 2 s cache of /stats/requests
            stopped = wait_state(web, {"stopped"})
            (out / "stats-stopped.json").write_text(json.dumps(stopped, indent=1) + "\n")
            (out / "requests.csv").write_bytes(get(f"{web}/stats/requests/csv"))
            report = get(f"{web}/stats/report")
            (out / "report.html.gz").write_bytes(gzip.compress(report, mtime=0))
        finally:
            for process in (worker, master):
                process.terminate()
                process.wait(timeout=30)
            server.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
