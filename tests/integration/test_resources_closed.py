"""Every path of a run closes what it opened: datastore, metadata connections, executor.

Each run is a real ``python flow.py ...`` (through ``closing_driver.py``, which runs the flow's
command line in its own process and counts SQLite connections) in Python's development mode with
``ResourceWarning`` turned into an error, in the scheduler and in every task it forks. A run that
succeeds, fails, is resumed, is interrupted with Ctrl-C, or stops on an exception (its metadata
database replaced under it) must leave no connection open and no warning behind; so must the
Runner and the client reading the runs afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .faultkit import DEADLINE_S
from .flowrun import flow_file, hermetic_env

DRIVER = Path(__file__).resolve().parent / "closing_driver.py"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(flow_file("closing_flow.py"), tmp_path / "closing_flow.py")
    return tmp_path


def _env(folder: Path) -> dict[str, str]:
    return hermetic_env({"PYTHONDEVMODE": "1", "PYTHONWARNINGS": "error::ResourceWarning",
                         "HEADWATER_DATASTORE_ROOT": str(folder / ".headwater")})


def _start(folder: Path, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
    report = folder / f"{name}.json"
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and driver
        [sys.executable, str(DRIVER), str(report), *args], cwd=folder, env=_env(folder),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, report


def _finish(proc: subprocess.Popen, report: Path) -> dict[str, Any]:
    out, err = proc.communicate(timeout=DEADLINE_S)
    assert report.exists(), f"the driver did not finish:\n{out}\n{err}"
    found = json.loads(report.read_text())
    found["output"] = out + err
    return found


def _drive(folder: Path, name: str, *args: str) -> dict[str, Any]:
    return _finish(*_start(folder, name, *args))


def _assert_all_closed(found: dict[str, Any]) -> None:
    assert found["opened"] >= 1, "the check saw no SQLite connection at all"
    assert found["open"] == [], found["output"]
    assert found["unraisable"] == [], found["output"]
    assert "ResourceWarning" not in found["output"]


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def test_the_check_sees_a_connection_left_open(folder: Path) -> None:
    """The control: a metadata store opened and never closed is reported open."""
    assert _drive(folder, "run", "cli", "closing_flow.py", "run")["code"] == 0
    found = _drive(folder, "forget", "forget", str(folder / ".headwater" / "meta.sqlite"))
    assert len(found["open"]) == 1


def test_a_run_that_succeeds_closes_everything(folder: Path) -> None:
    found = _drive(folder, "run", "cli", "closing_flow.py", "run")
    assert found["code"] == 0, found["output"]
    assert "total 14" in found["output"]
    _assert_all_closed(found)


def test_a_failed_run_and_its_resume_close_everything(folder: Path) -> None:
    failed = _drive(folder, "run", "cli", "closing_flow.py", "run", "--fail", "true")
    assert failed["code"] == 1, failed["output"]
    assert "the join was asked to fail" in failed["output"]
    _assert_all_closed(failed)
    resumed = _drive(folder, "resume", "cli", "closing_flow.py", "resume")
    assert resumed["code"] == 1, resumed["output"]  # the origin's parameters: it fails again
    assert "resuming ClosingFlow/1" in resumed["output"]
    _assert_all_closed(resumed)


def test_an_interrupted_run_closes_everything(folder: Path) -> None:
    gate = folder / "gate"
    proc, report = _start(folder, "run", "cli", "closing_flow.py", "run", "--gate", str(gate))
    _wait_for(gate)  # the join is running
    proc.send_signal(signal.SIGINT)
    found = _finish(proc, report)
    assert found["code"] == 130, found["output"]
    assert "was interrupted and is recorded as failed" in found["output"]
    _assert_all_closed(found)


def test_a_run_stopped_by_an_exception_closes_everything(folder: Path) -> None:
    """The metadata database is replaced while the join runs: recording the join's end raises
    out of the scheduler with the executor, the datastore and the database all open."""
    gate = folder / "gate"
    proc, report = _start(folder, "run", "cli", "closing_flow.py", "run", "--gate", str(gate))
    _wait_for(gate)
    database = folder / ".headwater" / "meta.sqlite"
    os.replace(database, folder / "meta.aside")
    shutil.copy(folder / "meta.aside", database)
    (folder / "gate.go").touch()
    found = _finish(proc, report)
    assert found["code"] == 1, found["output"]
    assert "was deleted or replaced while this process was using it" in found["output"]
    _assert_all_closed(found)


def test_the_runner_closes_everything(folder: Path) -> None:
    found = _drive(folder, "runner", "runner", "closing_flow.py")
    assert found["code"] == 0, found["output"]
    _assert_all_closed(found)


def test_the_client_keeps_one_connection_and_closes_it(folder: Path) -> None:
    assert _drive(folder, "run", "cli", "closing_flow.py", "run")["code"] == 0
    assert _drive(folder, "failed", "cli", "closing_flow.py", "run", "--fail", "true")["code"] == 1
    found = _drive(folder, "client", "client", "ClosingFlow")
    assert found["code"] == 0, found["output"]
    assert len(found["held_by_client"]) == 1  # both passes over both runs read through one
    _assert_all_closed(found)
