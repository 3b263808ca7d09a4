"""The webhook certificate shared by replicas through a Secret, against an in-memory store
that behaves like the apiserver: create conflicts with an existing name, replace conflicts
with a stale resourceVersion, and every call yields so concurrent callers interleave."""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import ssl
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status
from lightkube.resources.core_v1 import Secret

from locust_operator.webhook import cert_secret
from locust_operator.webhook.cert_secret import (
    CertificateBundle,
    ensure_shared_certificate,
    generate_bundle,
    renewal_reason,
    watch_shared_certificate,
)
from locust_operator.webhook.serving import CA_FILE, CERT_FILE, KEY_FILE, ServingCertificate

NAMESPACE = "operator-system"
NAME = "webhook-cert"
HOSTS = ["svc.operator-system.svc", "svc.operator-system.svc.cluster.local"]


def _error(code: int, reason: str) -> ApiError:
    return ApiError(status=Status(code=code, reason=reason, message=reason))


class FakeSecrets:
    """The Secret part of lightkube's AsyncClient, in memory."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Secret] = {}
        self.version = 0
        self.creates = 0
        self.replaces = 0
        self.conflicts = 0
        self.fail_next_get: Exception | None = None

    async def get(self, _res: type[Secret], name: str, *, namespace: str) -> Secret:
        await asyncio.sleep(0)
        if self.fail_next_get is not None:
            error, self.fail_next_get = self.fail_next_get, None
            raise error
        try:
            return copy.deepcopy(self.objects[(namespace, name)])
        except KeyError:
            raise _error(404, "NotFound") from None

    def _stored(self, secret: Secret) -> Secret:
        self.version += 1
        stored = copy.deepcopy(secret)
        assert stored.metadata is not None
        stored.metadata.resourceVersion = str(self.version)
        return stored

    async def create(self, secret: Secret) -> Secret:
        await asyncio.sleep(0)
        assert secret.metadata and secret.metadata.name and secret.metadata.namespace
        key = (secret.metadata.namespace, secret.metadata.name)
        if key in self.objects:
            self.conflicts += 1
            raise _error(409, "AlreadyExists")
        self.creates += 1
        self.objects[key] = self._stored(secret)
        return copy.deepcopy(self.objects[key])

    async def replace(self, secret: Secret) -> Secret:
        await asyncio.sleep(0)
        assert secret.metadata and secret.metadata.name and secret.metadata.namespace
        key = (secret.metadata.namespace, secret.metadata.name)
        current = self.objects.get(key)
        if current is None:
            raise _error(404, "NotFound")
        assert current.metadata is not None
        if secret.metadata.resourceVersion != current.metadata.resourceVersion:
            self.conflicts += 1
            raise _error(409, "Conflict")
        self.replaces += 1
        self.objects[key] = self._stored(secret)
        return copy.deepcopy(self.objects[key])

    def bundle(self) -> CertificateBundle:
        found = CertificateBundle.from_secret(self.objects[(NAMESPACE, NAME)])
        assert found is not None
        return found

    def put(self, bundle: CertificateBundle) -> None:
        self.objects[(NAMESPACE, NAME)] = self._stored(
            cert_secret._new_secret(NAMESPACE, NAME, bundle)
        )


async def _ensure(
    store: FakeSecrets, cert_dir: Path, hosts: list[str] = HOSTS, **kwargs: Any
) -> ServingCertificate:
    client = cast(AsyncClient, store)
    return await ensure_shared_certificate(client, NAMESPACE, NAME, hosts, cert_dir, **kwargs)


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _sans(pem: bytes) -> list[str]:
    ext = _cert(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return [str(name.value) for name in ext.value]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _verifies(cert_pem: bytes, ca_bundle: bytes) -> bool:
    cert = _cert(cert_pem)
    for ca in x509.load_pem_x509_certificates(ca_bundle):
        try:
            cert.verify_directly_issued_by(ca)
        except Exception:
            continue
        return True
    return False


async def test_absent_secret_is_created_and_written_to_the_cert_dir(tmp_path: Path) -> None:
    store = FakeSecrets()
    served = await _ensure(store, tmp_path)

    secret = store.objects[(NAMESPACE, NAME)]
    assert secret.type == "kubernetes.io/tls"
    assert secret.metadata and secret.metadata.labels == {
        "app.kubernetes.io/managed-by": "locust-k8s-operator"
    }
    assert secret.data is not None and set(secret.data) == {CERT_FILE, KEY_FILE, CA_FILE}
    bundle = store.bundle()
    assert served.cert_path == tmp_path / CERT_FILE and served.key_path == tmp_path / KEY_FILE
    assert served.cert_path.read_bytes() == bundle.cert_pem
    assert served.key_path.read_bytes() == bundle.key_pem
    assert (tmp_path / CA_FILE).read_bytes() == bundle.ca_pem == served.ca_bundle
    assert served.key_path.stat().st_mode & 0o777 == 0o600
    assert _sans(bundle.cert_pem) == HOSTS
    assert _verifies(bundle.cert_pem, served.ca_bundle)
    # The written pair loads as a server certificate.
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
        served.cert_path, served.key_path
    )


async def test_replicas_starting_together_share_one_certificate(tmp_path: Path) -> None:
    store = FakeSecrets()
    dirs = [tmp_path / f"replica-{i}" for i in range(3)]
    served = await asyncio.gather(*(_ensure(store, d) for d in dirs))

    assert store.creates == 1 and store.conflicts == 2 and store.replaces == 0
    bundle = store.bundle()
    assert {s.ca_bundle for s in served} == {bundle.ca_pem}
    for d in dirs:
        assert (d / CERT_FILE).read_bytes() == bundle.cert_pem
        assert (d / KEY_FILE).read_bytes() == bundle.key_pem


async def test_a_valid_secret_is_reused_as_it_is(tmp_path: Path) -> None:
    store = FakeSecrets()
    first = await _ensure(store, tmp_path / "a")
    version = store.version
    second = await _ensure(store, tmp_path / "b")
    assert second.ca_bundle == first.ca_bundle
    assert store.version == version and store.replaces == 0


async def test_an_expiring_certificate_is_renewed_keeping_the_old_ca_trusted(
    tmp_path: Path,
) -> None:
    store = FakeSecrets()
    old = generate_bundle(HOSTS, validity=datetime.timedelta(days=10))
    store.put(old)

    served = await _ensure(store, tmp_path, renew_before=datetime.timedelta(days=30))

    new = store.bundle()
    assert store.replaces == 1 and new.cert_pem != old.cert_pem
    assert served.ca_bundle == new.ca_pem
    assert len(x509.load_pem_x509_certificates(new.ca_pem)) == 2
    assert _verifies(new.cert_pem, new.ca_pem)
    assert _verifies(old.cert_pem, new.ca_pem)  # replicas not yet rotated stay trusted
    assert _cert(new.cert_pem).not_valid_after_utc > _cert(old.cert_pem).not_valid_after_utc
    assert renewal_reason(new, HOSTS) is None
    # A second renewal drops the CA of the certificate two generations back.
    store.put(generate_bundle(HOSTS, validity=datetime.timedelta(days=10), previous=new))
    await _ensure(store, tmp_path)
    assert len(x509.load_pem_x509_certificates(store.bundle().ca_pem)) == 2


async def test_a_certificate_without_all_hosts_is_reissued_for_them(tmp_path: Path) -> None:
    store = FakeSecrets()
    await _ensure(store, tmp_path, hosts=["old.ns.svc"])
    served = await _ensure(store, tmp_path, hosts=["new.ns.svc", "10.0.0.1"])
    assert store.replaces == 1
    assert _sans(store.bundle().cert_pem) == ["new.ns.svc", "10.0.0.1"]
    assert served.cert_path.read_bytes() == store.bundle().cert_pem
    # A subset of the names the certificate holds needs nothing new.
    await _ensure(store, tmp_path, hosts=["NEW.ns.svc"])
    assert store.replaces == 1


async def test_concurrent_renewals_end_with_the_winners_certificate(tmp_path: Path) -> None:
    store = FakeSecrets()
    store.put(generate_bundle(HOSTS, validity=datetime.timedelta(days=1)))
    dirs = [tmp_path / "a", tmp_path / "b"]
    served = await asyncio.gather(*(_ensure(store, d) for d in dirs))
    assert store.replaces == 1 and store.conflicts == 1
    assert served[0].ca_bundle == served[1].ca_bundle == store.bundle().ca_pem
    assert (dirs[0] / CERT_FILE).read_bytes() == (dirs[1] / CERT_FILE).read_bytes()


async def test_an_unreadable_secret_is_replaced(tmp_path: Path) -> None:
    store = FakeSecrets()
    store.put(generate_bundle(HOSTS))
    secret = store.objects[(NAMESPACE, NAME)]
    assert secret.data is not None
    del secret.data[CA_FILE]
    await _ensure(store, tmp_path)
    assert store.replaces == 1 and renewal_reason(store.bundle(), HOSTS) is None


def test_renewal_reasons() -> None:
    good = generate_bundle(HOSTS)
    other = generate_bundle(HOSTS)
    assert renewal_reason(good, HOSTS) is None
    mismatched = CertificateBundle(good.cert_pem, other.key_pem, good.ca_pem)
    assert renewal_reason(mismatched, HOSTS) == "its key does not belong to its certificate"
    foreign = CertificateBundle(good.cert_pem, good.key_pem, other.ca_pem)
    assert renewal_reason(foreign, HOSTS) == "its certificate is not signed by its CA"
    garbage = CertificateBundle(b"x", good.key_pem, good.ca_pem)
    assert "readable" in (renewal_reason(garbage, HOSTS) or "")
    assert "127.0.0.1" in (renewal_reason(good, ["127.0.0.1"]) or "")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=340)
    assert "expires" in (renewal_reason(good, HOSTS, now=later) or "")
    with pytest.raises(ValueError, match="at least one host"):
        generate_bundle([])


def test_secret_keys_must_be_base64() -> None:
    secret = Secret(data={CERT_FILE: "!!", KEY_FILE: "", CA_FILE: ""})
    assert CertificateBundle.from_secret(secret) is None
    pem = base64.b64encode(b"pem").decode()
    ok = Secret(data={CERT_FILE: pem, KEY_FILE: pem, CA_FILE: pem})
    assert CertificateBundle.from_secret(ok) == CertificateBundle(b"pem", b"pem", b"pem")


async def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    store = FakeSecrets()
    await _ensure(store, tmp_path)
    stamps = [(tmp_path / f).stat().st_mtime_ns for f in (CERT_FILE, KEY_FILE, CA_FILE)]
    await asyncio.sleep(0.01)
    await _ensure(store, tmp_path)
    assert [(tmp_path / f).stat().st_mtime_ns for f in (CERT_FILE, KEY_FILE, CA_FILE)] == stamps
    assert _names(tmp_path) == sorted([CERT_FILE, KEY_FILE, CA_FILE])  # no temporary files left


async def test_the_watch_picks_up_a_rotation_by_another_replica(tmp_path: Path) -> None:
    store = FakeSecrets()
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    await _ensure(store, mine)
    changes: list[bytes] = []

    async def on_change(certificate: ServingCertificate) -> None:
        changes.append(certificate.ca_bundle)

    watch = asyncio.create_task(
        watch_shared_certificate(
            cast(AsyncClient, store),
            NAMESPACE,
            NAME,
            HOSTS,
            mine,
            on_change=on_change,
            interval=0.01,
        )
    )
    try:
        await asyncio.sleep(0.05)
        assert changes == []  # nothing changed yet
        store.fail_next_get = _error(500, "InternalError")  # a failed tick is retried
        for _ in range(200):
            if store.fail_next_get is None:
                break
            await asyncio.sleep(0.01)
        rotated = await _ensure(store, theirs, hosts=[*HOSTS, "extra.ns.svc"])
        for _ in range(200):
            if changes:
                break
            await asyncio.sleep(0.01)
        assert changes == [rotated.ca_bundle]
        assert (mine / CERT_FILE).read_bytes() == (theirs / CERT_FILE).read_bytes()
        # The watch ensures its own hosts, which the rotated certificate covers: no flapping.
        await asyncio.sleep(0.05)
        assert changes == [rotated.ca_bundle] and store.replaces == 1
    finally:
        watch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watch


async def test_a_failing_on_change_is_retried(tmp_path: Path) -> None:
    store = FakeSecrets()
    await _ensure(store, tmp_path / "mine")
    calls: list[bytes] = []

    async def on_change(certificate: ServingCertificate) -> None:
        calls.append(certificate.ca_bundle)
        if len(calls) == 1:
            raise RuntimeError("apiserver unavailable")

    watch = asyncio.create_task(
        watch_shared_certificate(
            cast(AsyncClient, store),
            NAMESPACE,
            NAME,
            HOSTS,
            tmp_path / "mine",
            on_change=on_change,
            interval=0.01,
        )
    )
    try:
        await _ensure(store, tmp_path / "theirs", hosts=["other.ns.svc", *HOSTS])
        for _ in range(200):
            if len(calls) >= 2:
                break
            await asyncio.sleep(0.01)
        assert len(calls) >= 2 and calls[0] == calls[1]
    finally:
        watch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watch
