"""A conda channel on disk, built by the tests: the public channels are not reachable here.

A channel is a folder of subdirs (``noarch/``, ``linux-64/``) holding packages and the
``repodata.json`` that indexes them (written by rattler's indexer). Each package made here is
a real ``.tar.bz2`` conda package: ``info/index.json``, ``info/paths.json``, ``info/link.json``
(noarch python) and its files.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
from pathlib import Path


def _add(tar: tarfile.TarFile, path: str, data: bytes) -> None:
    info = tarfile.TarInfo(path)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def noarch_python_package(channel: Path, name: str, version: str, module_source: str) -> None:
    """A ``noarch: python`` package installing ``site-packages/<name>.py``."""
    subdir = channel / "noarch"
    subdir.mkdir(parents=True, exist_ok=True)
    (channel / "linux-64").mkdir(exist_ok=True)
    files = {f"site-packages/{name}.py": module_source.encode()}
    index = {"name": name, "version": version, "build": "0", "build_number": 0,
             "depends": ["python"], "subdir": "noarch", "noarch": "python"}
    paths = {"paths_version": 1, "paths": [
        {"_path": p, "path_type": "hardlink", "sha256": hashlib.sha256(d).hexdigest(),
         "size_in_bytes": len(d)} for p, d in files.items()]}
    link = {"noarch": {"type": "python"}, "package_metadata_version": 1}
    with tarfile.open(subdir / f"{name}-{version}-0.tar.bz2", "w:bz2") as tar:
        _add(tar, "info/index.json", json.dumps(index).encode())
        _add(tar, "info/paths.json", json.dumps(paths).encode())
        _add(tar, "info/link.json", json.dumps(link).encode())
        for path, data in files.items():
            _add(tar, path, data)


def index(channel: Path) -> None:
    from rattler.index import index_fs

    asyncio.run(index_fs(channel))
