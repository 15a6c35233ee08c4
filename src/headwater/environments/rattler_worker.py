"""py-rattler's solve and install, run in a child process of their own.

rattler drives a Rust async runtime whose threads can outlive the Python interpreter: at exit
they may release the GIL from a thread state the finalizing interpreter no longer has, which
aborts the process (seen as a SIGSEGV/SIGABRT after a clean error, about one run in thirty).
The scheduler must never exit that way, so it never imports rattler: it asks this module, run as
``python -m headwater.environments.rattler_worker``, with one JSON request on stdin. The answer
is one JSON line on stdout, and the worker leaves with ``os._exit`` once it is written, skipping
the interpreter's finalization where the crash happens.

Requests: ``{"op": "solve", "channels", "specs", "python"}`` answers ``{"records": [...]}``;
``{"op": "install", "records", "python", "target", "cache_dir"}`` answers ``{}``. A failure
answers ``{"error": "..."}`` with rattler's own message (it names the package at fault).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def _python_package(rattler: Any, version: str) -> Any:
    return rattler.GenericVirtualPackage(rattler.PackageName("python"), rattler.Version(version),
                                         rattler.BuildString("0"))


def _solve(rattler: Any, request: dict[str, Any]) -> dict[str, Any]:
    records = asyncio.run(rattler.solve(
        request["channels"], request["specs"],
        platforms=[str(rattler.Platform.current()), "noarch"],
        virtual_packages=[_python_package(rattler, request["python"])]))
    return {"records": [json.loads(r.to_json()) for r in records]}


def _record_file(path: Path, record: dict[str, Any]) -> Path:
    """A record as rattler reads installed ones (no files of its own yet)."""
    path.write_text(json.dumps({**record, "files": [],
                                "paths_data": {"paths": [], "paths_version": 1}}))
    return path


def _install(rattler: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The locked records into ``target``, beside the interpreter the virtualenv already has.

    The interpreter is recorded in ``conda-meta`` as an installed ``python`` package so rattler
    neither installs nor removes one.
    """
    target, version = Path(request["target"]), request["python"]
    meta = target / "conda-meta"
    meta.mkdir(exist_ok=True)
    platform = str(rattler.Platform.current())
    python = _record_file(meta / f"python-{version}-0.json", {
        "name": "python", "version": version, "build": "0", "build_number": 0,
        "depends": [], "subdir": platform, "fn": f"python-{version}-0.tar.bz2",
        "url": f"file:///headwater/interpreter/python-{version}-0.tar.bz2",
        "channel": "headwater-interpreter"})
    with tempfile.TemporaryDirectory(prefix="headwater-conda-") as tmp:
        records = [rattler.PrefixRecord.from_path(str(_record_file(Path(tmp) / f"{n}.json", r)))
                   for n, r in enumerate(request["records"])]
        installed = rattler.PrefixRecord.from_path(str(python))
        asyncio.run(rattler.install(
            [*records, installed], str(target), cache_dir=request["cache_dir"],
            installed_packages=[installed], show_progress=False))
    return {}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request; rattler's failures become ``{"error": message}``."""
    import rattler

    try:
        if request["op"] == "solve":
            return _solve(rattler, request)
        if request["op"] == "install":
            return _install(rattler, request)
        return {"error": f"unknown request {request['op']!r}"}
    except Exception as exc:  # noqa: BLE001 - rattler's message is the answer
        return {"error": " ".join(str(exc).split())}


def main() -> None:
    reply = json.dumps(answer(json.loads(sys.stdin.read())))
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
