"""Fixtures for flows written for Metaflow, run by headwater.

Every child process gets a *tripwire* first on its ``PYTHONPATH``: a package named ``metaflow``
whose import fails loudly. headwater serves ``import metaflow`` from ``sys.modules`` without
looking at the path, so a run only passes if the real package (installed or not) is never imported.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .helpers import TRIPWIRE_MESSAGE, headwater_argv


@pytest.fixture(scope="session")
def tripwire(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A folder holding a ``metaflow`` package that raises when imported."""
    folder = tmp_path_factory.mktemp("tripwire")
    package = folder / "metaflow"
    package.mkdir()
    (package / "__init__.py").write_text(f"raise ImportError({TRIPWIRE_MESSAGE!r})\n")
    return str(folder)


@pytest.fixture
def child_env(tripwire: str) -> dict[str, str]:
    """Extra environment for child processes: the tripwire ahead of everything on the path."""
    inherited = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join(p for p in (tripwire, inherited) if p)}


@pytest.fixture
def run_headwater(child_env: dict[str, str], tmp_path: Path):
    """Run ``headwater ARGS`` in the test's directory; returns the finished process (text)."""

    def run(*args: str, extra_env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, **child_env, **(extra_env or {})}
        return subprocess.run(headwater_argv(*args), cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=timeout)

    return run


@pytest.fixture(autouse=True)
def fresh_client():
    """No client state (datastore, namespace) leaks between tests."""
    from headwater.client import _context
    from headwater.client.namespace import reset_namespace

    _context.reset()
    reset_namespace()
    yield
    _context.reset()
    reset_namespace()


@pytest.fixture
def client(tmp_path: Path):
    """The in-process client, reading the test directory's datastore in the global namespace."""
    from headwater import metadata, namespace

    def point() -> None:
        metadata(str(tmp_path / ".headwater"))
        namespace(None)

    return point
