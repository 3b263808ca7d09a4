"""localcluster.images without building anything heavy: cache keys, the cache's contract, the
docker-archive writer, and that the Locust image carries every tag users and docs ask for."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest

from localcluster.images import LOCUST_TAGS, cache, catalog, goimages
from localcluster.images.archive import (
    ImageConfig,
    read_manifest,
    retag_docker_archive,
    write_docker_archive,
    write_files_layer,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
IMAGES_PACKAGE = REPO_ROOT / "hack" / "localcluster" / "images"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))


def test_input_key_follows_contents_not_location(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "src", tmp_path / "elsewhere" / "src"
    for root in (first, second):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "main.go").write_text("package main\n")
        (root / "pkg" / "__pycache__").mkdir()
        (root / "pkg" / "__pycache__" / "x.pyc").write_bytes(root.as_posix().encode())
    assert cache.input_key(first, "v1") == cache.input_key(second, "v1")

    (second / "pkg" / "main.go").write_text("package main // changed\n")
    assert cache.input_key(first, "v1") != cache.input_key(second, "v1")
    assert cache.input_key(first, "v1") != cache.input_key(first, "v2")
    (second / "pkg" / "main.go").write_text("package main\n")
    (second / "pkg" / "new.go").write_text("package main\n")
    assert cache.input_key(first, "v1") != cache.input_key(second, "v1")


def test_cache_root_is_outside_the_tree_and_overridable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cache.cache_root() == tmp_path / "cache"
    monkeypatch.delenv(cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "locust-k8s-operator" / "images"


def test_cached_tarball_builds_once_and_replaces_stale_versions() -> None:
    builds: list[str] = []

    def build(key: str):  # type: ignore[no-untyped-def]
        def write(out: Path) -> None:
            builds.append(key)
            out.write_text(key)

        return write

    old = cache.cached_tarball("target", "0123456789abcdef", build("old"), lambda _: None)
    other = cache.cached_tarball("target-two", "0123456789abcdef", build("other"), lambda _: None)
    new = cache.cached_tarball("target", "fedcba9876543210", build("new"), lambda _: None)
    again = cache.cached_tarball("target", "fedcba9876543210", build("again"), lambda _: None)

    assert builds == ["old", "other", "new"]
    assert again == new and new.read_text() == "new"
    assert not old.exists(), "the stale tarball of the same image is removed"
    assert other.exists(), "an image whose name extends another's is not stale"


def test_a_failed_build_leaves_no_tarball() -> None:
    def failing(out: Path) -> None:
        out.write_text("half")
        raise RuntimeError("build broke")

    with pytest.raises(RuntimeError, match="build broke"):
        cache.cached_tarball("broken", "0123456789abcdef", failing, lambda _: None)
    assert not list(cache.cache_root().glob("broken-*.tar"))


def _single_file_image(tmp_path: Path, name: str) -> Path:
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF pretend binary")
    layer = tmp_path / f"{name}-layer.tar"
    write_files_layer(layer, {"/usr/bin/tool": (binary, 0o755)})
    out = tmp_path / f"{name}.tar"
    config = ImageConfig(entrypoint=("/usr/bin/tool",), user="65534:65534", exposed_ports=(8080,))
    write_docker_archive(out, [layer], ("example.com/tool:1", "tool:latest"), config)
    return out


def test_docker_archive_carries_tags_config_and_layer(tmp_path: Path) -> None:
    tarball = _single_file_image(tmp_path, "image")
    [manifest] = read_manifest(tarball)
    assert manifest["RepoTags"] == ["example.com/tool:1", "tool:latest"]
    with tarfile.open(tarball) as archive:
        config_bytes = archive.extractfile(str(manifest["Config"])).read()  # type: ignore[union-attr]
        layers = manifest["Layers"]
        assert isinstance(layers, list)
        layer_bytes = archive.extractfile(layers[0]).read()  # type: ignore[union-attr]
    config = json.loads(config_bytes)
    assert manifest["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]
    assert config["config"]["Entrypoint"] == ["/usr/bin/tool"]
    assert config["config"]["User"] == "65534:65534"
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}

    with tarfile.open(fileobj=io.BytesIO(layer_bytes)) as layer:
        members = {member.name: member for member in layer.getmembers()}
    assert list(members) == ["usr", "usr/bin", "usr/bin/tool"]
    assert members["usr/bin/tool"].mode == 0o755
    assert {m.mtime for m in members.values()} == {0} and {m.uid for m in members.values()} == {0}


def test_docker_archive_is_reproducible(tmp_path: Path) -> None:
    first = _single_file_image(
        tmp_path / "one" if (tmp_path / "one").mkdir() is None else tmp_path, "a"
    )
    (tmp_path / "two").mkdir()
    second = _single_file_image(tmp_path / "two", "a")
    assert first.read_bytes() == second.read_bytes()


def test_an_image_without_tags_is_refused(tmp_path: Path) -> None:
    layer = tmp_path / "layer.tar"
    write_files_layer(layer, {})
    with pytest.raises(ValueError, match="tag"):
        write_docker_archive(tmp_path / "out.tar", [layer], (), ImageConfig(entrypoint=("/x",)))


def test_retag_keeps_the_image_and_replaces_the_tags(tmp_path: Path) -> None:
    tarball = _single_file_image(tmp_path, "image")
    retagged = tmp_path / "retagged.tar"
    retag_docker_archive(
        tarball, retagged, ("locust-k8s-operator:dev", "locust-k8s-operator:0.1.0")
    )
    [before], [after] = read_manifest(tarball), read_manifest(retagged)
    assert after["RepoTags"] == ["locust-k8s-operator:dev", "locust-k8s-operator:0.1.0"]
    assert (after["Config"], after["Layers"]) == (before["Config"], before["Layers"])


def _go_sources_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "images"
    shutil.copytree(goimages.GO_SOURCES, copy)
    return copy


def test_go_image_key_changes_with_its_sources_and_go_sum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shutil.which("go"), "go builds the local images (as it builds the control plane)"
    pause = catalog.GO_IMAGES[0]
    monkeypatch.setattr(goimages, "GO_SOURCES", _go_sources_copy(tmp_path))
    before = goimages.image_key(pause)
    target_before = goimages.image_key(catalog.GO_IMAGES[2])

    main = goimages.GO_SOURCES / "cmd" / "pause" / "main.go"
    main.write_text(main.read_text() + "\n// changed\n")
    assert goimages.image_key(pause) != before
    assert goimages.image_key(catalog.GO_IMAGES[2]) == target_before, "other commands unaffected"

    go_sum = goimages.GO_SOURCES / "go.sum"
    go_sum.write_text(go_sum.read_text() + "example.com/x v1.0.0 h1:AAAA=\n")
    assert goimages.image_key(catalog.GO_IMAGES[2]) != target_before


def test_locust_is_pinned_with_its_opentelemetry_extra() -> None:
    lines = [
        line
        for line in (IMAGES_PACKAGE / "locust-requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+", line) for line in lines), lines
    pins = dict(line.split("==") for line in lines)
    assert pins["locust"] == "2.47.0"
    # locust[otel]'s requirements: without them Locust only logs that the SDK is missing.
    for package in (
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-grpc",
        "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-instrumentation-requests",
        "opentelemetry-instrumentation-urllib3",
    ):
        assert package in pins, package
    assert LOCUST_TAGS[:2] == ("locustio/locust:2.47.0", "locustio/locust:latest")


def _locust_tags_used_in(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for file in files:
            try:
                text = file.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            found.update(re.findall(r"locustio/locust:[A-Za-z0-9._-]+", text))
    return found


def test_the_locust_image_answers_every_tag_our_docs_and_demo_use() -> None:
    ours = _locust_tags_used_in(
        [REPO_ROOT / "README.md", REPO_ROOT / "docs", REPO_ROOT / "hack" / "demo.py"]
    )
    assert ours, "the docs name at least one Locust image"
    assert ours <= set(LOCUST_TAGS)


def test_the_locust_image_answers_every_tag_the_faq_and_users_manifests_use() -> None:
    sources = [SHARED / "seed" / "faq.md", SHARED / "compat" / "reference-manifests"]
    if not all(source.exists() for source in sources):
        pytest.skip("../shared (FAQ and compat manifests) is not next to this checkout")
    used = _locust_tags_used_in(sources)
    assert used <= set(LOCUST_TAGS), sorted(used - set(LOCUST_TAGS))
