"""Volumes of the pods and mounts of the Locust container."""

from __future__ import annotations

from typing import Any

from locust_operator.api import v2
from locust_operator.api.reserved import LIB_VOLUME_NAME
from locust_operator.config import Role

from .fetcher import fetched_source, source_mounts, source_volumes
from .names import child_name, secret_volume_name

Volume = dict[str, Any]
VolumeMount = dict[str, Any]
TARGET_FIELD = "target"


def _targets(mount: VolumeMount, role: Role) -> bool:
    return mount.get(TARGET_FIELD, "both") in ("both", role)


def _role_mounts(spec: v2.LocustTestSpec, role: Role) -> list[VolumeMount]:
    return [m for m in spec.volume_mounts or [] if _targets(m, role)]


def volumes(spec: v2.LocustTestSpec, test_name: str, role: Role) -> list[Volume]:
    """Test files, lib, one volume per distinct Secret mounted, then the user's volumes
    that this role mounts (as in the reference, so e.g. a ReadWriteOnce claim mounted only
    by the master does not pin the workers to its node)."""
    result: list[Volume] = []
    files = spec.test_files
    # A git or archive source takes srcMountPath (the webhook refuses both; this keeps the
    # pods valid without it).
    if files and files.config_map_ref and not fetched_source(spec):
        result.append(
            {"name": child_name(test_name, role), "configMap": {"name": files.config_map_ref}}
        )
    if files and files.lib_config_map_ref:
        result.append({"name": LIB_VOLUME_NAME, "configMap": {"name": files.lib_config_map_ref}})
    result += source_volumes(spec)
    secrets = [m.name for m in (spec.env.secret_mounts or [])] if spec.env else []
    for secret in dict.fromkeys(secrets):
        result.append({"name": secret_volume_name(secret), "secret": {"secretName": secret}})
    mounted = {m["name"] for m in _role_mounts(spec, role)}
    result += [dict(v) for v in spec.volumes or [] if v.get("name") in mounted]
    return result


def volume_mounts(spec: v2.LocustTestSpec, test_name: str, role: Role) -> list[VolumeMount]:
    result: list[VolumeMount] = []
    files = spec.test_files
    if files and files.config_map_ref and not fetched_source(spec):
        result.append({"name": child_name(test_name, role), "mountPath": files.src_mount_path})
    if files and files.lib_config_map_ref:
        result.append({"name": LIB_VOLUME_NAME, "mountPath": files.lib_mount_path})
    result += source_mounts(spec)
    for secret in (spec.env.secret_mounts or []) if spec.env else []:
        mount: VolumeMount = {
            "name": secret_volume_name(secret.name),
            "mountPath": secret.mount_path,
        }
        if secret.read_only:
            mount["readOnly"] = True
        result.append(mount)
    for user_mount in _role_mounts(spec, role):
        result.append({k: v for k, v in user_mount.items() if k != TARGET_FIELD})
    return result
