"""Azurite, Microsoft's Azure Storage emulator, for the tests: an npm package, installed once.

Made once and kept (``$HEADWATER_AZURITE_DIR``, default ``/tmp/headwater-azurite``), as
``tests/airflow_env.py`` keeps Airflow: installing takes a minute, reusing it none. A folder made
by someone else, or writable by others, is refused rather than run. It needs Node.js and npm
(``.ci/run`` installs Debian's when they are missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tool_cache import built_once

AZURITE_VERSION = "3.37.0"


def _folder() -> Path:
    return Path(os.environ.get("HEADWATER_AZURITE_DIR") or "/tmp/headwater-azurite")


def azurite_blob_bin() -> Path:
    """The ``azurite-blob`` command of the cached install, installed first if needed."""

    def build(folder: Path) -> None:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("the Azure datastore tests need Node.js and npm to run "
                               "Azurite: apt-get install -y nodejs npm")
        subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                        "--silent", f"azurite@{AZURITE_VERSION}"], check=True, timeout=1800)

    folder = built_once(_folder(), AZURITE_VERSION, build)
    return folder / "node_modules" / ".bin" / "azurite-blob"
