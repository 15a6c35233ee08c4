"""The Python interpreter an environment is built on: the one running the flow, or another
installed on this machine with the version the declaration names (nothing is downloaded)."""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys

from headwater.exceptions import StepEnvironmentError

MIN_PYTHON = (3, 10)  # what headwater's task runtime needs


def _version_of(executable: str) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - a candidate interpreter, asked for its version
            [executable, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _candidates(wanted: str) -> list[str]:
    major_minor = ".".join(wanted.split(".")[:2])
    found = [sys.executable]
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found += sorted(glob.glob(os.path.join(pyenv, "versions", f"{major_minor}*", "bin",
                                           f"python{major_minor}")))
    on_path = shutil.which(f"python{major_minor}")
    if on_path and "shims" not in on_path:
        found.append(on_path)
    return found


@functools.cache
def find_interpreter(wanted: str | None) -> tuple[str, str]:
    """``(executable, exact version)`` for the Python ``wanted`` ("3.11", "3.11.7", None).

    Raises StepEnvironmentError (the caller adds the step's name) when none is installed.
    """
    if wanted is None:
        return sys.executable, ".".join(map(str, sys.version_info[:3]))
    parts = tuple(int(p) for p in wanted.split("."))
    if parts[:2] < MIN_PYTHON:
        raise StepEnvironmentError(
            f"python={wanted!r} is older than headwater's task runtime supports "
            f"({'.'.join(map(str, MIN_PYTHON))} or newer)",
            fix="ask for python='3.10' or newer, or leave python out to use the flow's own")
    for candidate in _candidates(wanted):
        version = _version_of(candidate)
        if version and tuple(int(p) for p in version.split("."))[:len(parts)] == parts:
            return candidate, version
    raise StepEnvironmentError(
        f"Python {wanted} is not installed on this machine (headwater does not download "
        "interpreters)",
        fix=f"install Python {wanted} (e.g. pyenv install {wanted}), or ask for a version "
        f"you have: the flow runs on {'.'.join(map(str, sys.version_info[:3]))}")
