"""PyPI environments through uv: resolve to a hashed lock, then build a virtualenv from it.

uv comes with the ``uv`` Python package (a dependency of headwater's ``pypi`` extra), which
carries its binary: nothing is looked up on PATH. uv ignores pip's configuration; it reads its
own (``UV_INDEX_URL``, ``uv.toml``), and is never allowed to download an interpreter.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from headwater.environments.declaration import EnvDeclaration
from headwater.environments.lock import EnvLock
from headwater.exceptions import StepEnvironmentError


def uv_binary() -> str:
    try:
        import uv
    except ImportError:
        raise StepEnvironmentError(
            "@pypi environments need the 'uv' package, which is not installed",
            fix='pip install "headwater[pypi]"') from None
    return uv.find_uv_bin()


def _uv(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)  # the target is always given explicitly
    from headwater.folders import umask_closed_to_others  # uv's cache: never others' to write

    return subprocess.run([uv_binary(), *args], input=stdin, capture_output=True,  # noqa: S603
                          text=True, env=env, check=False, umask=umask_closed_to_others())


def resolve(declared: EnvDeclaration, interpreter: str, version: str,
            runtime: list[str]) -> str:
    """The lock text for ``declared`` plus headwater's ``runtime`` requirements.

    Raises StepEnvironmentError with uv's explanation (it names the package) when the
    packages cannot be resolved for this Python.
    """
    with tempfile.TemporaryDirectory(prefix="headwater-resolve-") as tmp:
        wanted = Path(tmp) / "requirements.in"
        wanted.write_text("\n".join([*declared.requirements(), *runtime]) + "\n")
        out = _uv(["pip", "compile", str(wanted), "--generate-hashes", "--no-header",
                   "--no-annotate", "--python", interpreter])
    if out.returncode != 0 or "==" not in out.stdout:
        raise StepEnvironmentError(
            f"cannot resolve {declared.describe()} for Python {version}: "
            f"{_explain(out.stderr)}",
            fix="check the package names and versions (on https://pypi.org), or loosen the "
            "version; then run again")
    return out.stdout


def _explain(stderr: str) -> str:
    lines = [line.strip(" ×╰─▶│") for line in stderr.splitlines() if line.strip()]
    return " ".join(line for line in lines if line) or "uv failed without saying why"


def build(lock: EnvLock, interpreter: str, target: Path) -> None:
    """A virtualenv at ``target`` holding exactly the locked packages (hashes checked)."""
    created = _uv(["venv", "--quiet", "--relocatable", "--python", interpreter, str(target)])
    if created.returncode != 0:
        raise StepEnvironmentError(
            f"cannot create a virtualenv on Python {lock.python}: {_explain(created.stderr)}",
            fix="check that the interpreter works, or clear the environment cache")
    locked = target / "headwater-lock.txt"
    locked.write_text(lock.lock)
    python = str(target / "bin" / "python")
    synced = _uv(["pip", "sync", "--quiet", "--require-hashes", "--python", python, str(locked)])
    if synced.returncode != 0:
        from headwater.environments.cache import cache_root

        raise StepEnvironmentError(
            f"cannot install the locked packages of {lock.describe()}: {_explain(synced.stderr)}",
            fix="check the network and the package index, then run again; if a locked release "
            f"is gone from the index, delete {cache_root() / 'locks'} so the next run resolves "
            "anew")
