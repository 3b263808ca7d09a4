"""The test files a run ships to the cluster: a locustfile, or a directory of them, and an
optional library directory, each becoming one ConfigMap (flat: ConfigMap keys are file
names). Pure apart from reading the files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .exits import CliError

# The apiserver refuses objects over 1 MiB (etcd's request limit); keep room for metadata.
MAX_CONFIG_MAP_BYTES = 1024 * 1024
METADATA_ALLOWANCE = 16 * 1024
_SKIPPED_DIRS = {"__pycache__"}
DEFAULT_LOCUSTFILE = "locustfile.py"


@dataclass(frozen=True)
class Files:
    """One ConfigMap's worth of files: key (file name) -> text, and where they came from."""

    origin: Path
    data: dict[str, str]

    @property
    def size(self) -> int:
        return sum(len(key) + len(text.encode()) for key, text in self.data.items())


@dataclass(frozen=True)
class TestSources:
    __test__ = False  # not a pytest test class

    files: Files
    locustfile: str  # the key of the locustfile within files
    lib: Files | None = None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(
            f"{path}: not UTF-8 text; a ConfigMap's data holds text files only "
            "(leave binary files out of the test directory)"
        ) from None


def _directory(path: Path, what: str) -> Files:
    data = {}
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or entry.name in _SKIPPED_DIRS:
            continue
        if entry.is_dir():
            raise CliError(
                f"{entry}: {what} must be flat (a ConfigMap holds files, not folders); "
                "move the subdirectory's modules into --lib or next to the locustfile"
            )
        data[entry.name] = _read(entry)
    if not data:
        raise CliError(f"{path}: the {what} is empty")
    return Files(origin=path, data=data)


def load_sources(
    source: Path, lib: Path | None = None, locustfile: str | None = None
) -> TestSources:
    """The files of SOURCE (a locustfile or a directory) and of --lib, checked for size."""
    if not source.exists():
        raise CliError(
            f"locustfile not found: {source} (pass a locustfile, a directory or a manifest)"
        )
    if source.is_dir():
        files = _directory(source, "test directory")
        name = locustfile or _pick_locustfile(files)
        if name not in files.data:
            raise CliError(f"--locustfile {name}: no such file in {source}")
    else:
        if locustfile:
            raise CliError("--locustfile applies to a directory SOURCE only; pass the file itself")
        files = Files(origin=source, data={source.name: _read(source)})
        name = source.name
    lib_files = None
    if lib is not None:
        if not lib.is_dir():
            raise CliError(f"--lib {lib}: not a directory (pass the folder of your helper modules)")
        lib_files = _directory(lib, "lib directory")
    sources = TestSources(files=files, locustfile=name, lib=lib_files)
    for each in (sources.files, sources.lib):
        if each is not None:
            check_size(each)
    return sources


def _pick_locustfile(files: Files) -> str:
    if DEFAULT_LOCUSTFILE in files.data:
        return DEFAULT_LOCUSTFILE
    python = [name for name in files.data if name.endswith(".py")]
    if len(python) == 1:
        return python[0]
    raise CliError(
        f"{files.origin}: no {DEFAULT_LOCUSTFILE} and {len(python)} Python files; "
        "name the locustfile with --locustfile NAME"
    )


def check_size(files: Files, limit: int = MAX_CONFIG_MAP_BYTES - METADATA_ALLOWANCE) -> None:
    """A ConfigMap over the apiserver's 1 MiB object limit: name the file that tips it."""
    if files.size <= limit:
        return
    largest = max(files.data, key=lambda key: len(files.data[key].encode()))
    size = len(files.data[largest].encode())
    where = files.origin / largest if files.origin.is_dir() else files.origin
    raise CliError(
        f"{where}: ConfigMap too big ({files.size:,} bytes of files, over the 1 MiB object "
        f"limit; this file alone is {size:,} bytes): shrink it or move data out of the test files"
    )
