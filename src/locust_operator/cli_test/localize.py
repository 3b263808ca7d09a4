"""What a pod has and a laptop does not, translated for local processes: ConfigMap volumes
become directories, the master Service name becomes 127.0.0.1 and the pod's fixed master
port a free one (local processes share one network namespace). Everything else of the
operator's command line and environment is kept as generated. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exits import CliError

LOOPBACK = "127.0.0.1"
MASTER_HOST_FLAG = "--master-host"
MASTER_PORT_FLAGS = ("--master-bind-port", "--master-port")


def locust_container(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    """The one regular container of a generated pod (sidecars are init containers)."""
    (container,) = pod_spec["containers"]
    return dict(container)


def mount_directories(
    pod_spec: Mapping[str, Any], container: Mapping[str, Any], config_map_dirs: Mapping[str, Path]
) -> dict[str, Path]:
    """mountPath -> local directory of the ConfigMap its volume refers to."""
    volumes = {volume["name"]: volume for volume in pod_spec.get("volumes") or []}
    mounts = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes[mount["name"]]
        config_map = str((volume.get("configMap") or {}).get("name"))
        if config_map not in config_map_dirs:
            raise CliError(
                f"volume {mount['name']} (mounted at {mount['mountPath']}) cannot run locally: "
                "only the test files and lib ConfigMaps can; run it on the cluster instead"
            )
        mounts[mount["mountPath"]] = config_map_dirs[config_map]
    return mounts


@dataclass(frozen=True)
class Localizer:
    mounts: Mapping[str, Path]
    master_host: str
    ports: Mapping[int, int] = field(default_factory=dict)

    def path(self, value: str) -> str:
        for mount_path in sorted(self.mounts, key=len, reverse=True):
            prefix = mount_path.rstrip("/")
            if value == prefix or value.startswith(prefix + "/"):
                return str(self.mounts[mount_path]) + value[len(prefix) :]
        return value

    def arg(self, arg: str) -> str:
        flag, has_value, value = arg.partition("=")
        if not (flag.startswith("--") and has_value):
            return self.path(arg)
        if flag == MASTER_HOST_FLAG and value == self.master_host:
            value = LOOPBACK
        elif flag in MASTER_PORT_FLAGS:
            value = str(self.ports.get(int(value), int(value)))
        else:
            value = self.path(value)
        return f"{flag}={value}"

    def args(self, args: list[str]) -> list[str]:
        return [self.arg(arg) for arg in args]

    def env(self, variables: list[Mapping[str, Any]]) -> dict[str, str]:
        local = {}
        for variable in variables:
            if "value" not in variable:
                raise CliError(
                    f"env {variable['name']} comes from a Secret or ConfigMap (valueFrom): "
                    "not available locally; run it on the cluster instead"
                )
            local[variable["name"]] = self.path(str(variable["value"]))
        return local
