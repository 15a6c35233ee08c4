"""Tools the tests install outside pip (Airflow's virtualenv, Azurite from npm), built once into
a private folder and kept: building takes minutes, reusing it none.

A folder made by someone else, or writable by others, is refused rather than run, and two test
sessions never build the same folder at once (a lock file beside it).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path


def _check_owned(path: Path) -> None:
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RuntimeError(f"{path} is not private to this user: remove it and run again")


def built_once(folder: Path, version: str, build: Callable[[Path], None]) -> Path:
    """``folder``, filled by ``build(folder)`` (into a new empty folder only this user may
    read) unless a finished build of ``version`` is already there."""
    ready = folder / ".headwater-ready"
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if folder.exists():
            _check_owned(folder)
        if not ready.exists() or ready.read_text() != version:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(mode=0o700)
            build(folder)
            ready.write_text(version)
    return folder
