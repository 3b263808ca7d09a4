from __future__ import annotations

from typing import Any

from .helpers import jobs, locust, locust_test, pod

VOLUMES = [
    {"name": "results", "emptyDir": {}},
    {"name": "shared", "emptyDir": {}},
    {"name": "certs", "secret": {"secretName": "tls"}},
    {"name": "unmounted", "emptyDir": {}},
]
MOUNTS = [
    {"name": "results", "mountPath": "/results", "target": "master"},
    {"name": "shared", "mountPath": "/shared", "target": "both"},
    {"name": "certs", "mountPath": "/etc/ssl/custom", "readOnly": True, "target": "worker"},
]


def volumes(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod(job).get("volumes", [])}


def mounts(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in locust(job).get("volumeMounts", [])}


def test_test_files_volume_is_named_after_the_role() -> None:
    built = jobs(locust_test())
    for role, job in built.items():
        assert volumes(job) == {
            f"demo-{role}": {"name": f"demo-{role}", "configMap": {"name": "scripts"}}
        }
        assert mounts(job) == {f"demo-{role}": {"name": f"demo-{role}", "mountPath": "/lotest/src"}}


def test_custom_mount_paths_and_lib_volume() -> None:
    files = {
        "configMapRef": "scripts",
        "srcMountPath": "/tests",
        "libConfigMapRef": "helpers",
        "libMountPath": "/libs",
    }
    for role, job in jobs(locust_test(testFiles=files)).items():
        assert volumes(job)["locust-lib"] == {
            "name": "locust-lib",
            "configMap": {"name": "helpers"},
        }
        assert mounts(job)[f"demo-{role}"]["mountPath"] == "/tests"
        assert mounts(job)["locust-lib"] == {"name": "locust-lib", "mountPath": "/libs"}


def test_no_volumes_without_test_files() -> None:
    test = locust_test()
    del test["spec"]["testFiles"]
    for job in jobs(test).values():
        assert "volumes" not in pod(job)
        assert "volumeMounts" not in locust(job)


def test_lib_only() -> None:
    test = locust_test(testFiles={"libConfigMapRef": "helpers"})
    for job in jobs(test).values():
        assert list(volumes(job)) == ["locust-lib"]


def test_secret_mounts() -> None:
    secret_mounts = [
        {"name": "tls-certs", "mountPath": "/etc/locust/certs"},
        {"name": "api.example.com", "mountPath": "/etc/api", "readOnly": False},
        {"name": "tls-certs", "mountPath": "/etc/again"},
    ]
    for job in jobs(locust_test(env={"secretMounts": secret_mounts})).values():
        secret_volumes = [v for v in pod(job)["volumes"] if "secret" in v]
        # One volume per Secret, however often it is mounted.
        assert [v["secret"]["secretName"] for v in secret_volumes] == [
            "tls-certs",
            "api.example.com",
        ]
        tls, api = (v["name"] for v in secret_volumes)
        assert tls == "secret-tls-certs"
        assert api.startswith("secret-api-example-com-")
        secret_mounts_built = [m for m in locust(job)["volumeMounts"] if m["name"] in (tls, api)]
        assert secret_mounts_built == [
            {"name": tls, "mountPath": "/etc/locust/certs", "readOnly": True},
            {"name": api, "mountPath": "/etc/api"},
            {"name": tls, "mountPath": "/etc/again", "readOnly": True},
        ]


def test_user_volumes_are_mounted_only_in_the_targeted_role() -> None:
    built = jobs(locust_test(volumes=VOLUMES, volumeMounts=MOUNTS))
    master, worker = built["master"], built["worker"]
    assert set(volumes(master)) == {"demo-master", "results", "shared"}
    assert set(volumes(worker)) == {"demo-worker", "shared", "certs"}
    assert volumes(worker)["certs"] == {"name": "certs", "secret": {"secretName": "tls"}}
    assert mounts(master)["results"] == {"name": "results", "mountPath": "/results"}
    assert mounts(master)["shared"] == {"name": "shared", "mountPath": "/shared"}
    assert "certs" not in mounts(master)
    assert mounts(worker)["certs"] == {
        "name": "certs",
        "mountPath": "/etc/ssl/custom",
        "readOnly": True,
    }
    assert "results" not in mounts(worker)


def test_mount_target_defaults_to_both() -> None:
    test = locust_test(volumes=VOLUMES[:1], volumeMounts=[{"name": "results", "mountPath": "/r"}])
    for job in jobs(test).values():
        assert mounts(job)["results"] == {"name": "results", "mountPath": "/r"}
        assert "results" in volumes(job)


def test_mount_target_never_reaches_the_pod() -> None:
    for job in jobs(locust_test(volumes=VOLUMES, volumeMounts=MOUNTS)).values():
        assert all("target" not in m for m in locust(job)["volumeMounts"])
