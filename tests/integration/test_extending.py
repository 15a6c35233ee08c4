"""A backend from another package, registered through an entry point, as docs/extending.md shows.

The example package (``examples/extending/headwater_audit.py``) is installed the way pip would
leave it: the module and a ``*.dist-info`` folder with its ``entry_points.txt``, in a folder on
the ``PYTHONPATH`` of the flow's process.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from .flowrun import EXAMPLES, run_cli

ENTRY_POINTS = textwrap.dedent("""
    [headwater.executors]
    audited = headwater_audit:EXECUTOR

    [headwater.datastores]
    folder = headwater_audit:DATASTORE
""")


@pytest.fixture
def installed(tmp_path: Path) -> dict[str, str]:
    """The example package installed into a folder of its own; the environment that sees it."""
    site = tmp_path / "site"
    dist = site / "headwater_audit-0.1.dist-info"
    dist.mkdir(parents=True)
    shutil.copy(EXAMPLES / "extending" / "headwater_audit.py", site / "headwater_audit.py")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: headwater-audit\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    paths = [str(site), *sys.path]
    return {"PYTHONPATH": ":".join(p for p in paths if p)}


def test_an_executor_from_an_entry_point_runs_the_flow(tmp_path: Path,
                                                      installed: dict[str, str]) -> None:
    audit = tmp_path / "audit.log"
    proc = run_cli(EXAMPLES / "branch_flow.py", "run", "--executor", "audited",
                   "--audit-file", str(audit), cwd=tmp_path, env=installed, hermetic=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = sorted(line.split("/")[2] for line in audit.read_text().splitlines())
    assert steps == ["a", "b", "end", "join", "start"]


def test_its_option_and_name_appear_in_the_help(tmp_path: Path,
                                                installed: dict[str, str]) -> None:
    proc = run_cli(EXAMPLES / "linear_flow.py", "--help", cwd=tmp_path, env=installed,
                   hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert "[local|spawn|dask|audited]" in proc.stdout
    assert "--audit-file PATH" in proc.stdout


def test_a_datastore_from_an_entry_point_serves_its_scheme(tmp_path: Path,
                                                          installed: dict[str, str]) -> None:
    blobs = tmp_path / "blobs-here"
    proc = run_cli(EXAMPLES / "linear_flow.py", "--datastore-root", f"folder://{blobs}", "run",
                   cwd=tmp_path, env=installed, hermetic=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any((blobs / "blobs").rglob("*")), "no blob was written under the folder:// root"


def test_without_the_package_the_name_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    proc = run_cli(EXAMPLES / "linear_flow.py", "run", "--executor", "audited", cwd=tmp_path,
                   hermetic=True)
    assert proc.returncode == 2
    assert "no executor backend named 'audited'" in proc.stderr
    assert "local, spawn, dask" in proc.stderr
