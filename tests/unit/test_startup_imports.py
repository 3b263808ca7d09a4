"""The operator's way to ready (issue 19: start to ready at most 0.2 s) imports only what
readiness needs; what only the reconciles need is imported in the background while the
informers list, and the first reconcile still gets a real reconciler."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

from lightkube import AsyncClient, KubeConfig
from prometheus_client import CollectorRegistry, Counter, generate_latest

from locust_operator.config import OperatorConfig
from locust_operator.controller.controller import RECONCILE_MODULES, Controller
from locust_operator.kube.background_import import BackgroundImport
from locust_operator.kube.request_counter import RequestCounter
from locust_operator.metrics import KubeRequests
from tests.unit.controller.test_controller import KUBECONFIG

# Not needed until the first reconcile (or scrape, or webhook, or other command): none
# of them may be imported on the way to ready.
DEFERRED = (
    "locust_operator.controller.reconciler",
    "locust_operator.controller.status",
    "locust_operator.controller.pod_health",
    "locust_operator.controller.source_status",
    "locust_operator.controller.results",
    "locust_operator.controller.results_metrics",
    "locust_operator.controller.results_poller",
    "locust_operator.controller.transitions",
    "locust_operator.resources.children",
    "locust_operator.resources.jobs",
    "locust_operator.resources.metadata",
    "locust_operator.resources.source",
    "locust_operator.api.schema",
    "locust_operator.api.v2",
    "locust_operator.api.status",
    "locust_operator.api.results",
    "locust_operator.api.placement",
    "locust_operator.kube.events",
    "locust_operator.kube.leader",
    "locust_operator.kube.master_client",
    "locust_operator.metrics",
    "locust_operator.webhook",
    "locust_operator.cli_test.options",
    "locust_operator.cli_test.commands",
    "prometheus_client",
    "aiohttp",
)


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has imported after running ``code``."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_importing_the_operator_loads_nothing_deferred() -> None:
    modules = modules_after("import locust_operator.cli, locust_operator.runtime")
    assert sorted(m for m in DEFERRED if m in modules) == []


def test_the_way_to_ready_loads_nothing_deferred() -> None:
    """Everything `run` does before the informers list: parse, configuration, the API
    client, the controller and its informers, the probe and metrics routes."""
    modules = modules_after(
        f"""
        import asyncio
        from lightkube import KubeConfig
        from locust_operator import cli, runtime
        from locust_operator.config import OperatorConfig
        from locust_operator.controller.controller import Controller
        from locust_operator.http_server import metrics_routes, probe_routes
        from locust_operator.kube.client import async_client

        args = cli.build_parser("run").parse_args(
            ["run", "--metrics-bind-address=127.0.0.1:0", "--namespace=a,b"]
        )
        config = OperatorConfig.from_env({{}})

        async def start():
            client = async_client(KubeConfig.from_dict({KUBECONFIG!r}))
            operator = runtime.Operator(
                runtime.OperatorOptions(config=config), asyncio.Event()
            )
            operator.controller = Controller(client, config, cli.watched_namespaces(args.namespace))
            probe_routes(operator.unready)["/readyz"]()
            metrics_routes(operator._before_scrape)
            await client.close()

        asyncio.run(start())
        """
    )
    assert sorted(m for m in DEFERRED if m in modules) == []


def test_the_background_import_covers_the_first_reconcile() -> None:
    modules = modules_after(
        "import locust_operator.cli, locust_operator.runtime\n"
        + "".join(f"import {name}\n" for name in RECONCILE_MODULES)
    )
    reconcile_time = {
        "locust_operator.controller.reconciler",
        "locust_operator.resources.children",
        "locust_operator.kube.events",
        "locust_operator.metrics",
        "locust_operator.controller.results_metrics",
        "locust_operator.controller.results_poller",
    }
    assert reconcile_time <= modules


async def test_background_import_reports_when_done_and_survives_a_failure() -> None:
    imports = BackgroundImport(["json", "locust_operator.no_such_module", "locust_operator.api"])
    await imports.wait()  # not started: nothing to wait for
    imports.start()
    imports.start()  # once only
    await asyncio.wait_for(imports.wait(), 30)
    assert "locust_operator.api" in sys.modules
    assert sys.getswitchinterval() == 0.005  # the default, restored


async def test_the_workers_start_with_a_real_reconciler() -> None:
    client = AsyncClient(config=KubeConfig.from_dict(KUBECONFIG))
    controller = Controller(client, OperatorConfig())
    assert controller._reconciler is None and controller.events is None  # not made yet
    controller._imports.start()
    workers = asyncio.create_task(controller.run_workers())
    await asyncio.wait_for(controller.started.wait(), 30)
    from locust_operator.controller.reconciler import LocustTestReconciler

    assert isinstance(controller.reconciler, LocustTestReconciler)
    assert controller.events is not None
    controller.stop_workers()
    await asyncio.wait_for(workers, 30)
    await client.close()


def test_request_counts_export_as_a_prometheus_counter_would() -> None:
    native_registry, ours_registry = CollectorRegistry(), CollectorRegistry()
    native = Counter(
        KubeRequests.name, KubeRequests.documentation, ["method"], registry=native_registry
    )
    ours = KubeRequests(RequestCounter())
    ours_registry.register(ours)
    for method in ("GET", "GET", "POST", "PATCH", "GET"):
        native.labels(method).inc()
        ours.labels(method).inc()
    native.labels("PUT").inc(2.5)
    ours.labels("PUT").inc(2.5)

    def text(registry: CollectorRegistry) -> list[str]:
        # The _created values are the times each method was first counted.
        return [
            line.rsplit(" ", 1)[0] if "_created{" in line else line
            for line in generate_latest(registry).decode().splitlines()
        ]

    assert text(ours_registry) == text(native_registry)
    assert ours_registry.get_sample_value(f"{KubeRequests.name}_total", {"method": "GET"}) == 3


def test_the_informers_and_the_reconciler_share_one_locusttest_class() -> None:
    from locust_operator.controller import reconciler, resource

    assert reconciler.LocustTestResource is resource.LocustTestResource
