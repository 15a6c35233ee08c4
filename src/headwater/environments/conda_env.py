"""Conda environments through py-rattler: solve from the declared channels, lock, install.

The interpreter is one of this machine's (as for @pypi): it must run headwater's task runtime,
whose own dependencies are locked and installed by uv from PyPI. The conda packages are solved
by rattler against that interpreter (given to the solver as the ``python`` it may assume) and
installed by rattler into the same prefix, noarch Python packages into its site-packages.

The lock is JSON: ``runtime`` (uv's hashed requirements for headwater's runtime) and ``conda``
(one repodata record per package: its URL, sha256 and md5), so a build from a lock never solves.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from headwater.environments import pypi_env
from headwater.environments.declaration import EnvDeclaration
from headwater.environments.lock import EnvLock
from headwater.exceptions import StepEnvironmentError

CHANNELS_ENV = "HEADWATER_CONDA_CHANNELS"  # comma-separated; default: conda-forge


def default_channels() -> tuple[str, ...]:
    given = os.environ.get(CHANNELS_ENV, "")
    return tuple(c.strip() for c in given.split(",") if c.strip()) or ("conda-forge",)


def _rattler() -> Any:
    try:
        import rattler
    except ImportError:
        raise StepEnvironmentError(
            "@conda environments need the 'py-rattler' package, which is not installed",
            fix='pip install "headwater[conda]"') from None
    return rattler


def _python_package(rattler: Any, version: str) -> Any:
    return rattler.GenericVirtualPackage(rattler.PackageName("python"), rattler.Version(version),
                                         rattler.BuildString("0"))


def resolve(declared: EnvDeclaration, interpreter: str, version: str,
            runtime: list[str]) -> str:
    """The lock text: the runtime's PyPI lock and the solved conda records."""
    rattler = _rattler()
    runtime_lock = pypi_env.resolve(EnvDeclaration("pypi", declared.python, ()), interpreter,
                                version, runtime)
    channels = list(declared.channels or default_channels())
    try:
        records = asyncio.run(rattler.solve(
            channels, declared.requirements(), platforms=[_platform(rattler), "noarch"],
            virtual_packages=[_python_package(rattler, version)]))
    except Exception as exc:  # noqa: BLE001 - rattler's errors name the package that failed
        raise StepEnvironmentError(
            f"cannot resolve {declared.describe()} from the channels {', '.join(channels)} "
            f"for Python {version}: {' '.join(str(exc).split())}",
            fix=f"check the package names and versions in those channels (set them with "
            f"@conda(channels=[...]) or {CHANNELS_ENV})") from None
    conda = sorted((json.loads(r.to_json()) for r in records), key=lambda r: r["name"])
    return json.dumps({"runtime": runtime_lock, "conda": conda}, indent=1, sort_keys=True)


def _platform(rattler: Any) -> str:
    return str(rattler.Platform.current())


def pinned(lock_text: str) -> list[str]:
    """``name==version`` for each conda package and each runtime package of a conda lock."""
    data = json.loads(lock_text)
    runtime = EnvLock("pypi", "", {}, data["runtime"]).pinned()
    return sorted([f"{r['name']}=={r['version']}" for r in data["conda"]] + runtime)


def build(lock: EnvLock, interpreter: str, target: Path) -> None:
    """A virtualenv with the runtime's locked PyPI packages, then the locked conda packages."""
    rattler = _rattler()
    data = json.loads(lock.lock)
    pypi_env.build(EnvLock("pypi", lock.python, lock.declared, data["runtime"]), interpreter, target)
    meta = target / "conda-meta"
    meta.mkdir(exist_ok=True)
    python = _record_file(meta / f"python-{lock.python}-0.json", {
        "name": "python", "version": lock.python, "build": "0", "build_number": 0,
        "depends": [], "subdir": _platform(rattler), "fn": f"python-{lock.python}-0.tar.bz2",
        "url": f"file:///headwater/interpreter/python-{lock.python}-0.tar.bz2",
        "channel": "headwater-interpreter"})
    with tempfile.TemporaryDirectory(prefix="headwater-conda-") as tmp:
        records = [_record_file(Path(tmp) / f"{n}.json", r) for n, r in enumerate(data["conda"])]
        records = [rattler.PrefixRecord.from_path(str(p)) for p in records]
        installed = rattler.PrefixRecord.from_path(str(python))
        from headwater.environments.cache import section

        try:
            asyncio.run(rattler.install(
                [*records, installed], str(target), cache_dir=section("conda-pkgs"),
                installed_packages=[installed], show_progress=False))
        except Exception as exc:  # noqa: BLE001 - a download or a checksum failed
            raise StepEnvironmentError(
                f"cannot install the locked conda packages of {lock.declared}: "
                f"{' '.join(str(exc).split())}",
                fix="check that the channels are reachable, then run again") from None


def _record_file(path: Path, record: dict[str, Any]) -> Path:
    """A record as rattler reads installed ones (no files of its own yet)."""
    path.write_text(json.dumps({**record, "files": [],
                                "paths_data": {"paths": [], "paths_version": 1}}))
    return path
