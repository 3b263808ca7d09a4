from __future__ import annotations

from typing import Any

from .helpers import jobs, locust, locust_test, with_role

MASTER_SEED = ["--locustfile", "/lotest/src/test.py", "--host", "https://example.com"]
WORKER_SEED = ["--locustfile", "/lotest/src/test.py"]
OTEL = {"openTelemetry": {"enabled": True, "endpoint": "collector:4317"}}


def args(test: dict[str, Any], role: str) -> list[str]:
    container = locust(jobs(test)[role])
    assert "command" not in container  # the image's entrypoint is locust
    result: list[str] = container["args"]
    return result


def test_master_args() -> None:
    assert args(locust_test(), "master") == [
        *MASTER_SEED,
        "--master",
        "--master-bind-port=5557",
        "--expect-workers=3",
        "--autostart",
        "--autoquit",
        "60",
        "--enable-rebalancing",
        "--only-summary",
    ]


def test_worker_args() -> None:
    assert args(locust_test(), "worker") == [
        *WORKER_SEED,
        "--worker",
        "--master-port=5557",
        "--master-host=demo-master",
    ]


def test_command_seed_is_split_on_any_whitespace() -> None:
    test = with_role(locust_test(), "master", command="  -f\t/a.py\n --users 10 ")
    assert args(test, "master")[:4] == ["-f", "/a.py", "--users", "10"]


def test_otel_flag_follows_the_seed() -> None:
    test = locust_test(observability=OTEL)
    assert args(test, "master")[len(MASTER_SEED) : len(MASTER_SEED) + 2] == ["--otel", "--master"]
    assert args(test, "worker")[len(WORKER_SEED) : len(WORKER_SEED) + 2] == ["--otel", "--worker"]


def test_otel_disabled_adds_no_flag() -> None:
    test = locust_test(observability={"openTelemetry": {"enabled": False}})
    assert "--otel" not in args(test, "master") + args(test, "worker")


def test_autostart_and_autoquit_can_be_disabled() -> None:
    test = with_role(locust_test(), "master", autostart=False, autoquit={"enabled": False})
    master = args(test, "master")
    assert "--autostart" not in master
    assert "--autoquit" not in master
    assert master[-2:] == ["--enable-rebalancing", "--only-summary"]


def test_autoquit_timeout() -> None:
    test = with_role(locust_test(), "master", autoquit={"enabled": True, "timeout": 0})
    master = args(test, "master")
    assert master[master.index("--autoquit") + 1] == "0"


def test_expect_workers_follows_replicas() -> None:
    assert "--expect-workers=12" in args(with_role(locust_test(), "worker", replicas=12), "master")


def test_extra_args_come_last() -> None:
    test = with_role(locust_test(), "master", extraArgs=["--loglevel", "DEBUG"])
    with_role(test, "worker", extraArgs=["--loglevel", "INFO"])
    assert args(test, "master")[-3:] == ["--only-summary", "--loglevel", "DEBUG"]
    assert args(test, "worker")[-3:] == ["--master-host=demo-master", "--loglevel", "INFO"]


def test_master_host_of_a_dotted_test_name_is_its_service() -> None:
    assert args(locust_test("team.a"), "worker")[-1] == "--master-host=team-a-master"


def test_no_autoquit_without_autostart() -> None:
    """Locust exits 1 at startup on --autoquit without --autostart; a test started from the
    web UI keeps its master until someone stops it there."""
    test = with_role(locust_test(), "master", autostart=False)
    master = args(test, "master")
    assert "--autostart" not in master
    assert "--autoquit" not in master
