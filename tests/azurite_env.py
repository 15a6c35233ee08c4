"""Azurite, Microsoft's Azure Storage emulator, for the tests: an npm package, installed once.

Made once and kept (``$HEADWATER_AZURITE_DIR``, default ``/tmp/headwater-azurite``), as
``tests/airflow_env.py`` keeps Airflow: installing takes a minute, reusing it none. A folder made
by someone else, or writable by others, is refused rather than run. It needs Node.js and npm
(``.ci/run`` installs Debian's when they are missing).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
from pathlib import Path

AZURITE_VERSION = "3.37.0"


def _folder() -> Path:
    return Path(os.environ.get("HEADWATER_AZURITE_DIR") or "/tmp/headwater-azurite")


def _check_owned(path: Path) -> None:
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RuntimeError(f"{path} is not private to this user: remove it and run again")


def azurite_blob_bin() -> Path:
    """The ``azurite-blob`` command of the cached install, installed first if needed."""
    folder = _folder()
    ready = folder / ".headwater-ready"
    lock_path = folder.with_name(folder.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions never install it at once
        if folder.exists():
            _check_owned(folder)
        if not ready.exists() or ready.read_text() != AZURITE_VERSION:
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("the Azure datastore tests need Node.js and npm to run "
                                   "Azurite: apt-get install -y nodejs npm")
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(mode=0o700)
            subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                            "--silent", f"azurite@{AZURITE_VERSION}"], check=True, timeout=1800)
            ready.write_text(AZURITE_VERSION)
    return folder / "node_modules" / ".bin" / "azurite-blob"
