"""Paths and commands shared by the compat tests."""

from __future__ import annotations

import shutil
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


