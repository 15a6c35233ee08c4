"""The systems under test: headwater from this checkout, Metaflow in its own cached virtualenv.

Every flow is written once, in ``benchmarks/flows/``, against ``from headwater import ...``;
headwater's API is Metaflow's, so the Metaflow variant is the same file with that import line
rewritten. Each measured process starts in a new, empty folder with the same environment for both
systems: ``METAFLOW_DATASTORE_SYSROOT_LOCAL`` points there (headwater honours it too and keeps its
``.headwater/`` beside Metaflow's ``.metaflow/``), a fixed user name, and a private Metaflow
config home, so no earlier run or user configuration is seen.

headwater runs from a byte-compiled snapshot of ``src/headwater`` taken when the benchmarks start
(put first on ``PYTHONPATH``), so edits to the checkout during a long run cannot mix versions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent
FLOWS_DIR = BENCH_DIR / "flows"
WORK_DIR = BENCH_DIR / ".work"
METAFLOW_VENV = WORK_DIR / "metaflow-venv"
METAFLOW_REQUIREMENTS = ("metaflow", "numpy")
BENCH_USER = "bench"
SOURCE_IMPORT = "from headwater import"
SOURCE_DIR = REPO_DIR / "src" / "headwater"
SNAPSHOTS_DIR = WORK_DIR / "snapshots"


@dataclass(frozen=True)
class System:
    """One system under test: which interpreter runs the flows and which package they import."""

    name: str
    label: str
    python: str
    package: str
    extra_env: dict[str, str] = field(default_factory=dict)
    revision: str = ""
    """What exactly was measured, beyond the version (headwater: commit and source digest)."""

    def env(self, folder: Path) -> dict[str, str]:
        """The environment of this system's measured processes whose data lives in ``folder``."""
        return run_env(folder) | self.extra_env

    def translate(self, source: str) -> str:
        """Rewrite a headwater source so that it imports this system's package."""
        return source.replace(SOURCE_IMPORT, f"from {self.package} import")

    def write_flow(self, flow: str, folder: Path) -> Path:
        """Copy ``flows/<flow>.py`` into ``folder`` for this system; return the new file."""
        source = (FLOWS_DIR / f"{flow}.py").read_text()
        target = folder / f"{flow}.py"
        target.write_text(self.translate(source))
        return target

    def write_script(self, source: str, folder: Path, name: str) -> Path:
        """Write a small client script (headwater source, translated) into ``folder``."""
        target = folder / name
        target.write_text(self.translate(source))
        return target

    def version(self) -> str:
        """The installed version of the system's package, as its interpreter reports it."""
        code = f"import {self.package}; print({self.package}.__version__)"
        out = subprocess.run([self.python, "-c", code], capture_output=True, text=True,
                             check=False, env=clean_env() | self.extra_env)
        return out.stdout.strip() or "unknown"


def clean_env() -> dict[str, str]:
    """This process's environment without any METAFLOW_* or HEADWATER_* setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "HEADWATER_"))}


def run_env(folder: Path) -> dict[str, str]:
    """The environment of a measured process whose data lives in ``folder``."""
    env = clean_env()
    env.update(
        USERNAME=BENCH_USER,
        METAFLOW_USER=BENCH_USER,
        METAFLOW_DATASTORE_SYSROOT_LOCAL=str(folder),
        METAFLOW_HOME=str(folder / ".metaflow-home"),
        METAFLOW_DEFAULT_DATASTORE="local",
        METAFLOW_DEFAULT_METADATA="local",
    )
    return env


def headwater_system() -> System:
    """headwater from a snapshot of ``src/headwater``, run by the interpreter running this.

    The checkout may change while the benchmarks run (it is installed editable, and others work
    in it): every measured process imports the same copy, put first on ``PYTHONPATH``.
    """
    digest, folder = snapshot_source()
    return System("headwater", "headwater", sys.executable, "headwater",
                  extra_env={"PYTHONPATH": str(folder)},
                  revision=f"commit {git_revision()}, source digest {digest}")


def source_digest(root: Path = SOURCE_DIR) -> str:
    """A short digest of every .py file under ``root`` (names and contents)."""
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def snapshot_source(attempts: int = 5) -> tuple[str, Path]:
    """Copy ``src/headwater`` into ``.work/snapshots/<digest>/`` and byte-compile it.

    A copy taken while a file is half-edited does not compile: then wait and copy again.
    """
    for attempt in range(attempts):
        digest = source_digest()
        folder = SNAPSHOTS_DIR / digest
        if (folder / "COMPLETE").exists():
            return digest, folder
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(SOURCE_DIR, folder / "headwater",
                        ignore=shutil.ignore_patterns("__pycache__"))
        compiled = subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)],
                                  capture_output=True, check=False)
        if compiled.returncode == 0 and source_digest(folder / "headwater") == digest:
            (folder / "COMPLETE").write_text(digest + "\n")
            return digest, folder
        time.sleep(2 * (attempt + 1))
    raise RuntimeError(f"{SOURCE_DIR} kept changing or does not compile; try again later")


def metaflow_system() -> System:
    """Metaflow in ``benchmarks/.work/metaflow-venv``, created on first use; or the interpreter
    ``HWBENCH_METAFLOW_PYTHON`` names, used as it is (cases that need numpy fail without it)."""
    given = os.environ.get("HWBENCH_METAFLOW_PYTHON")
    python = given if given else str(ensure_metaflow_venv())
    return System("metaflow", "Metaflow", python, "metaflow")


def git_revision() -> str:
    """Short commit of the checkout, with ``+dirty`` when src/ has uncommitted changes."""
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(REPO_DIR), *args], capture_output=True,
                             text=True, check=False)
        return out.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit}+dirty" if git("status", "--porcelain", "--", "src") else commit


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _has_metaflow(python: Path) -> bool:
    if not python.exists():
        return False
    check = subprocess.run([str(python), "-c", "import metaflow, numpy"], capture_output=True,
                           check=False, env=clean_env())
    return check.returncode == 0


def _uv_command() -> list[str] | None:
    """How to call uv here: the ``uv`` binary on PATH, or the ``uv`` Python package."""
    found = shutil.which("uv")
    if found:
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    return None


def _install_commands(venv: Path) -> list[list[str]]:
    """Commands that create ``venv`` and install Metaflow into it (uv if present, else pip)."""
    python = str(_venv_python(venv))
    base = os.path.realpath(sys.executable)
    uv = _uv_command()
    if uv:
        return [
            [*uv, "venv", "-q", "-p", base, str(venv)],
            [*uv, "pip", "install", "-q", "--compile-bytecode", "-p", python,
             *METAFLOW_REQUIREMENTS],
        ]
    return [
        [base, "-m", "venv", str(venv)],
        [python, "-m", "pip", "install", "-q", *METAFLOW_REQUIREMENTS],
    ]


def ensure_metaflow_venv(venv: Path = METAFLOW_VENV) -> Path:
    """Return the interpreter of a virtualenv holding Metaflow, creating it once."""
    python = _venv_python(venv)
    if _has_metaflow(python):
        return python
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    print(f"creating the Metaflow virtualenv in {venv} ...", flush=True)
    env = clean_env() | {"UV_PYTHON_DOWNLOADS": "never"}
    for command in _install_commands(venv):
        subprocess.run(command, check=True, env=env)
    if not _has_metaflow(python):
        raise RuntimeError(f"installing Metaflow into {venv} did not work")
    return python
