"""The Python interpreter an environment is built on: the one running the flow, or another
installed on this machine that the declaration's ``python=`` allows (nothing is downloaded).

The flow's own interpreter is preferred whenever it is allowed (its tasks then run the Python the
flow was written and tested with); otherwise the newest allowed one found among pyenv's versions
and the ``pythonX.Y`` programs on PATH.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import subprocess
import sys

from headwater.environments import python_spec
from headwater.exceptions import StepEnvironmentError

MIN_PYTHON = (3, 10)  # what headwater's task runtime needs
_NAMED = re.compile(r"python(\d+)\.(\d+)")  # python3.11: the program names candidates have


def _version_of(executable: str) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - a candidate interpreter, asked for its version
            [executable, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _candidates() -> list[str]:
    """Installed interpreters new enough for the runtime: pyenv's versions, then ``pythonX.Y``
    on PATH (pyenv's shims left out: they run whichever version pyenv picks), one per file."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(pyenv, "versions", "[0-9]*", "bin", "python*.*")))
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or "shims" in folder:
            continue
        try:
            found += sorted(os.path.join(folder, name) for name in os.listdir(folder))
        except OSError:  # missing or unreadable: nothing to find there
            continue
    unique: dict[str, str] = {}
    for path in found:
        named = _NAMED.fullmatch(os.path.basename(path))
        if named and (int(named[1]), int(named[2])) >= MIN_PYTHON and os.access(path, os.X_OK):
            unique.setdefault(os.path.realpath(path), path)
    return list(unique.values())


def _running() -> str:
    return ".".join(map(str, sys.version_info[:3]))


@functools.cache
def find_interpreter(wanted: str | None) -> tuple[str, str]:
    """``(executable, exact version)`` for ``wanted``: a version ("3.11", "3.11.7"), a range
    (">=3.10,<3.13") or None (the running interpreter).

    Raises StepEnvironmentError (the caller adds the step's name) when none installed fits.
    """
    if wanted is None:
        return sys.executable, _running()
    clauses = python_spec.parse(wanted)
    single = python_spec.single_version(wanted)
    if single and tuple(int(p) for p in single.split("."))[:2] < MIN_PYTHON:
        raise StepEnvironmentError(
            f"python={wanted!r} is older than headwater's task runtime supports "
            f"({'.'.join(map(str, MIN_PYTHON))} or newer)",
            fix="ask for python='3.10' or newer, or leave python out to use the flow's own")
    if python_spec.allows(clauses, sys.version_info[:3]):
        return sys.executable, _running()
    versions = {path: _version_of(path) for path in _candidates()}
    fits = [(tuple(int(p) for p in v.split(".")), path, v) for path, v in versions.items()
            if v and python_spec.allows(clauses, tuple(int(p) for p in v.split(".")))]
    if fits:
        _, path, version = max(fits, key=lambda fit: fit[0])  # newest; ties: the first found
        return path, version
    if single:
        raise StepEnvironmentError(
            f"Python {wanted} is not installed on this machine (headwater does not download "
            "interpreters)",
            fix=f"install Python {wanted} (e.g. pyenv install {wanted}), or ask for a version "
            f"you have: the flow runs on {_running()}")
    seen = sorted({v for v in versions.values() if v} | {_running()},
                  key=lambda v: tuple(int(p) for p in v.split(".")))
    raise StepEnvironmentError(
        f"no Python installed on this machine satisfies python={wanted!r} (found "
        f"{', '.join(seen)}; headwater's task runtime needs "
        f"{'.'.join(map(str, MIN_PYTHON))} or newer and it does not download interpreters)",
        fix="install a Python in that range (e.g. with pyenv install), or widen the range to "
        f"include one you have: the flow runs on {_running()}")
