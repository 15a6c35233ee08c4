"""Helpers to run flow files as a user would: a real ``python flow.py ...`` process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_cli(flow_file: str | os.PathLike, *args: str, cwd: str | os.PathLike,
            timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python FLOW_FILE ARGS`` in ``cwd`` and return the finished process (text output)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(flow_file), *args], cwd=cwd, env=full_env, capture_output=True,
        text=True, timeout=timeout,
    )


def example(name: str) -> Path:
    return EXAMPLES / name
