"""Conda environments through py-rattler: solve from the declared channels, lock, install.

The interpreter is one of this machine's (as for @pypi): it must run headwater's task runtime,
whose own dependencies are locked and installed by uv from PyPI. The conda packages are solved
by rattler against that interpreter (given to the solver as the ``python`` it may assume) and
installed by rattler into the same prefix, noarch Python packages into its site-packages. rattler
runs in a child process (``rattler_worker``), never in the scheduler: see there for why.

The lock is JSON: ``runtime`` (uv's hashed requirements for headwater's runtime) and ``conda``
(one repodata record per package: its URL, sha256 and md5), so a build from a lock never solves.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from headwater.environments import pypi_env
from headwater.environments.declaration import CHANNELS_ENV, EnvDeclaration, default_channels
from headwater.environments.lock import EnvLock
from headwater.exceptions import StepEnvironmentError


def _ask_rattler(request: dict[str, Any]) -> dict[str, Any]:
    """rattler's answer to one request, from a child process (see ``rattler_worker``)."""
    if importlib.util.find_spec("rattler") is None:
        raise StepEnvironmentError(
            "@conda environments need the 'py-rattler' package, which is not installed",
            fix='pip install "headwater[conda]"')
    from headwater.folders import umask_closed_to_others  # its package cache: never others'
    from headwater.interpreters import module_argv

    done = subprocess.run(module_argv(sys.executable, "headwater.environments.rattler_worker"),
                          input=json.dumps(request), capture_output=True, text=True,
                          umask=umask_closed_to_others())
    lines = done.stdout.strip().splitlines()
    if not lines:
        detail = " ".join(done.stderr.split()[-40:]) or f"exit status {done.returncode}"
        return {"error": f"the rattler worker gave no answer ({detail})"}
    return json.loads(lines[-1])


def resolve(declared: EnvDeclaration, interpreter: str, version: str,
            runtime: list[str]) -> str:
    """The lock text: the runtime's PyPI lock and the solved conda records."""
    runtime_lock = pypi_env.resolve(EnvDeclaration("pypi", declared.python, ()), interpreter,
                                    version, runtime)
    channels = list(declared.channels or default_channels())
    reply = _ask_rattler({"op": "solve", "channels": channels,
                          "specs": declared.requirements(), "python": version})
    if "error" in reply:
        from headwater.redaction import hide_url_credentials  # a channel's token stays hidden

        raise StepEnvironmentError(
            f"cannot resolve {declared.describe()} from the channels "
            f"{hide_url_credentials(', '.join(channels))} for Python {version}: "
            f"{hide_url_credentials(str(reply['error']))}",
            fix=f"check the package names and versions in those channels (set them with "
            f"@conda(channels=[...]) or {CHANNELS_ENV})")
    conda = sorted(reply["records"], key=lambda r: r["name"])
    return json.dumps({"runtime": runtime_lock, "conda": conda}, indent=1, sort_keys=True)


def build(lock: EnvLock, interpreter: str, target: Path) -> None:
    """A virtualenv with the runtime's locked PyPI packages, then the locked conda packages."""
    from headwater.environments.cache import section

    data = json.loads(lock.lock)
    pypi_env.build(EnvLock("pypi", lock.python, lock.declared, data["runtime"]), interpreter, target)
    reply = _ask_rattler({"op": "install", "records": data["conda"], "python": lock.python,
                          "target": str(target), "cache_dir": str(section("conda-pkgs"))})
    if "error" in reply:
        raise StepEnvironmentError(
            f"cannot install the locked conda packages of {lock.describe()}: {reply['error']}",
            fix="check that the channels are reachable, then run again")
