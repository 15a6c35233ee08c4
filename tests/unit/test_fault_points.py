"""The test-only fault points: unarmed they do nothing; armed, the Nth pass holds until the gate
opens, and every pass is counted across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from headwater import fault_points
from headwater.exceptions import SettingError

HOLD = "from headwater import fault_points as f; f.hold('record.commit'); f.hold('record.commit')"


def _run(tmp_path, point: str) -> subprocess.Popen:
    env = {**os.environ, fault_points.POINT_ENV: point, fault_points.DIR_ENV: str(tmp_path)}
    return subprocess.Popen([sys.executable, "-c", HOLD], env=env)


def test_an_unarmed_point_does_nothing(tmp_path):
    assert fault_points._armed({}) is None
    assert fault_points._armed({fault_points.POINT_ENV: "record.commit"}) is None  # no folder
    fault_points.hold("record.commit")  # this process is not armed: returns at once


def test_a_misspelt_point_is_refused_naming_the_points():
    with pytest.raises(SettingError, match="names no fault point.*record.commit"):
        fault_points._armed({fault_points.POINT_ENV: "record.comit", fault_points.DIR_ENV: "/x"})


def test_the_nth_pass_holds_until_the_gate_opens(tmp_path):
    proc = _run(tmp_path, "record.commit#2")
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "held").exists():
            assert proc.poll() is None, "the process ended without holding"
            assert time.monotonic() < deadline, "never held"
            time.sleep(0.02)
        assert (tmp_path / "held").read_text() == f"record.commit {proc.pid}"
        assert proc.poll() is None  # waiting on the gate
        (tmp_path / "gate").touch()
        assert proc.wait(300) == 0
    finally:
        (tmp_path / "gate").touch()
        proc.kill()
        proc.wait()
    assert sorted(p.name for p in tmp_path.glob("pass-*")) == [
        "pass-record.commit-1", "pass-record.commit-2"]


def test_star_zero_counts_every_pass_and_holds_none(tmp_path):
    proc = _run(tmp_path, "*#0")
    assert proc.wait(300) == 0
    assert not (tmp_path / "held").exists()
    assert len(list(tmp_path.glob("pass-record.commit-*"))) == 2
