"""Paths and commands shared by the compat tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from proctools import group_ends, live_members  # noqa: F401 - re-exported for tests

FLOWS = Path(__file__).resolve().parent / "flows"
TRIPWIRE_MESSAGE = "the real metaflow package was imported"


def flow_path(name: str) -> str:
    """A flow of ``tests/compat/flows``."""
    return str(FLOWS / name)


def headwater_argv(*args: str) -> list[str]:
    """``headwater ARGS``: the console script installed beside this interpreter, else the same
    entry point via -c. Never a ``headwater`` found elsewhere on PATH: that may belong to another
    Python (a pyenv shim, another venv), which would test another install."""
    script = shutil.which("headwater", path=str(Path(sys.executable).parent))
    if script:
        return [script, *args]
    return [sys.executable, "-c", "from headwater.cli.main import main; main()", *args]


def shim_folder(tmp_path: Path) -> str:
    """``tmp_path/shim``, holding the ``metaflow`` package ``headwater shim`` writes (made once
    per test folder): put it on PYTHONPATH to run a flow written for Metaflow."""
    shim = tmp_path / "shim"
    if not shim.exists():
        made = subprocess.run(headwater_argv("shim", str(shim)), capture_output=True, text=True,
                              timeout=120)
        assert made.returncode == 0, made.stderr
    return str(shim)


