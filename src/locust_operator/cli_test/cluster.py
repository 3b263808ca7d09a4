"""The cluster side of `locust-operator test`: one sync lightkube client and every call the
commands make, with API failures turned into one-line errors (:class:`CliError`)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
from lightkube import ApiError, Client, ConfigError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.core_v1 import ConfigMap, Pod

from locust_operator.api import names
from locust_operator.kube.client import NoClusterConfig, load_kube_config
from locust_operator.kube.paths import UnsafeName, guard_paths, path_segment
from locust_operator.resources import ROLE_LABEL, TEST_NAME_LABEL, master_service_name
from locust_operator.resources.ports import WEB_UI_PORT

from . import exits
from .exits import CliError
from .manifest import CREATED_BY, CREATED_BY_LABEL
from .sources import Files
from .stats import Stats

FIELD_MANAGER = "locust-operator-test"
LocustTest = create_namespaced_resource(names.GROUP, names.V2, names.KIND, names.PLURAL)
CRD_HINT = (
    "install it: kubectl apply --server-side -f config/crd/locust.io_locusttests.yaml "
    "(or helm install the chart)"
)


def report_config_map(test_name: str) -> str:
    return f"{test_name}-report"


class Cluster:
    def __init__(self, kubeconfig: str | None, namespace: str | None) -> None:
        try:
            config = load_kube_config(kubeconfig)
        except NoClusterConfig as error:
            raise CliError(str(error), exits.INFRASTRUCTURE) from None
        except (ConfigError, OSError, ValueError, KeyError) as error:
            which = f"--kubeconfig {kubeconfig}" if kubeconfig else "the kubeconfig"
            raise CliError(f"{which}: cannot load it ({error})", exits.USAGE) from None
        self.client = Client(config=config, field_manager=FIELD_MANAGER)
        guard_paths(self.client)  # a name given on the command line stays a name
        self.namespace = namespace or self.client.namespace or "default"
        self.server = str(self.client.config.cluster.server)

    @contextmanager
    def calls(self, what: str) -> Iterator[None]:
        """API failures as one line: what we were doing, and why it failed."""
        try:
            yield
        except UnsafeName as error:
            raise CliError(f"{what}: {error}", exits.USAGE) from None
        except ApiError as error:
            code = error.status.code
            message = error.status.message or str(error)
            if code in (400, 422):
                raise CliError(f"{what}: rejected: {message}", exits.USAGE) from None
            if code in (401, 403):
                raise CliError(f"{what}: not allowed: {message}", exits.INFRASTRUCTURE) from None
            raise CliError(f"{what}: {message}", exits.INFRASTRUCTURE) from None
        except (httpx2.TransportError, OSError) as error:
            raise CliError(
                f"{what}: cannot reach the cluster at {self.server} ({error}); check the "
                "kubeconfig and that the cluster is up",
                exits.INFRASTRUCTURE,
            ) from None

    def _get(self, path: str, timeout: float = 10.0) -> httpx2.Response:
        http = self.client._client._client  # lightkube's authenticated httpx client
        response = http.get(path, timeout=timeout)
        self.client._client.raise_for_status(response)  # type: ignore[no-untyped-call]
        return response

    # --- preflight ----------------------------------------------------------------------

    def check_api(self) -> None:
        """The cluster answers and serves LocustTests (the CRD is installed), and the
        namespace exists."""
        with self.calls("reaching the cluster"):
            try:
                self._get(f"/apis/{names.GROUP}/{names.V2}")
            except ApiError as error:
                if error.status.code == 404:
                    raise CliError(
                        f"the {names.KIND} CRD is not installed in the cluster at {self.server}: "
                        + CRD_HINT,
                        exits.INFRASTRUCTURE,
                    ) from None
                raise
            try:
                self._get(f"/api/v1/namespaces/{path_segment(self.namespace, 'namespace')}")
            except ApiError as error:
                if error.status.code == 404:
                    raise CliError(
                        f"namespace {self.namespace!r} does not exist: create it "
                        f"(kubectl create namespace {self.namespace}) or pass --namespace",
                        exits.USAGE,
                    ) from None
                if error.status.code != 403:  # may read tests but not namespaces
                    raise

    # --- tests --------------------------------------------------------------------------

    def apply_config_map(self, name: str, files: Files) -> None:
        body = ConfigMap(
            metadata=ObjectMeta(
                name=name, namespace=self.namespace, labels={CREATED_BY_LABEL: CREATED_BY}
            ),
            data=files.data,
        )
        with self.calls(f"writing ConfigMap {name} (from {files.origin})"):
            self.client.apply(body, field_manager=FIELD_MANAGER, force=True)

    def create_test(self, test: dict[str, Any]) -> dict[str, Any]:
        name = test["metadata"]["name"]
        with self.calls(f"creating {names.KIND} {self.namespace}/{name}"):
            try:
                created = self.client.create(LocustTest(**test), namespace=self.namespace)
            except ApiError as error:
                if error.status.code == 409:
                    raise CliError(
                        f"{names.KIND} {self.namespace}/{name} already exists: pick another "
                        f"--name, or delete it (locust-operator test delete {name})",
                        exits.USAGE,
                    ) from None
                raise
        return dict(created)

    def own_config_maps(self, test: dict[str, Any], config_maps: list[str]) -> None:
        """The test owns the ConfigMaps it was given: deleting it deletes them."""
        owner = OwnerReference(
            apiVersion=names.V2_API_VERSION,
            kind=names.KIND,
            name=test["metadata"]["name"],
            uid=test["metadata"]["uid"],
        )
        for name in config_maps:
            with self.calls(f"making {names.KIND} {test['metadata']['name']} own ConfigMap {name}"):
                self.client.patch(
                    ConfigMap,
                    name,
                    {"metadata": {"ownerReferences": [owner.to_dict()]}},
                    namespace=self.namespace,
                )

    def get_test(self, name: str) -> dict[str, Any]:
        with self.calls(f"reading {names.KIND} {self.namespace}/{name}"):
            try:
                return dict(self.client.get(LocustTest, name, namespace=self.namespace))
            except ApiError as error:
                if error.status.code == 404:
                    raise CliError(
                        f"{names.KIND} {self.namespace}/{name} not found "
                        "(locust-operator test list shows the tests there)",
                        exits.USAGE,
                    ) from None
                raise

    def list_tests(self) -> list[dict[str, Any]]:
        with self.calls(f"listing {names.KIND}s in {self.namespace}"):
            return [dict(item) for item in self.client.list(LocustTest, namespace=self.namespace)]

    def delete_test(self, name: str, config_maps: list[str] = ()) -> bool:  # type: ignore[assignment]
        """Deletes the test (its children and owned ConfigMaps follow); False if it was gone."""
        gone = False
        with self.calls(f"deleting {names.KIND} {self.namespace}/{name}"):
            try:
                self.client.delete(LocustTest, name, namespace=self.namespace)
            except ApiError as error:
                if error.status.code != 404:
                    raise
                gone = True
            for config_map in config_maps:
                try:
                    self.client.delete(ConfigMap, config_map, namespace=self.namespace)
                except ApiError as error:
                    if error.status.code != 404:
                        raise
        return not gone

    # --- the master, through the apiserver's Service proxy ------------------------------

    def _proxy(self, name: str, path: str) -> str:
        service = master_service_name(name)
        namespace = path_segment(self.namespace, "namespace")
        target = path_segment(service, "Service name")
        return f"/api/v1/namespaces/{namespace}/services/{target}:{WEB_UI_PORT}/proxy{path}"

    def master_stats(self, name: str) -> Stats | None:
        """Locust's live statistics, or None while the master does not answer."""
        try:
            response = self._get(self._proxy(name, "/stats/requests"), timeout=5.0)
            return Stats.from_locust(response.json())
        except (ApiError, httpx2.HTTPError, OSError, ValueError):
            return None

    def master_report(self, name: str) -> str | None:
        try:
            response = self._get(self._proxy(name, "/stats/report"), timeout=30.0)
        except (ApiError, httpx2.HTTPError, OSError):
            return None
        text = response.text
        return text if "<html" in text.lower() else None

    def kept_report(self, name: str) -> str | None:
        """The HTML report the operator kept in the `<name>-report` ConfigMap, if any."""
        try:
            kept = self.client.get(ConfigMap, report_config_map(name), namespace=self.namespace)
        except ApiError:
            return None
        for key, value in (kept.binaryData or {}).items():
            if key.endswith((".html.gz", "report.html.gz")):
                import base64

                return gzip.decompress(base64.b64decode(value)).decode()
        for key, value in (kept.data or {}).items():
            if key.endswith(".html"):
                return str(value)
        return None

    # --- logs ---------------------------------------------------------------------------

    def pods(self, name: str, role: str | None) -> list[Pod]:
        labels: dict[str, Any] = {TEST_NAME_LABEL: name}
        if role:
            labels[ROLE_LABEL] = role
        with self.calls(f"listing the pods of {self.namespace}/{name}"):
            found = list(self.client.list(Pod, namespace=self.namespace, labels=labels))
        return sorted(found, key=lambda pod: (pod.metadata.name if pod.metadata else "") or "")

    def pod_log(self, pod: Pod, container: str) -> Iterator[str]:
        assert pod.metadata is not None and pod.metadata.name is not None
        with self.calls(f"reading the log of pod {pod.metadata.name}"):
            yield from self.client.log(
                pod.metadata.name, namespace=self.namespace, container=container
            )


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
