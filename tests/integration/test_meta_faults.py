"""Faults around the metadata: who is still running, a database that goes away, refuses, fills
its disk, is damaged or deleted, a datastore shared read-only, and leftovers of killed writers.

Everything is real: schedulers in another PID namespace (``unshare``), a PostgreSQL server
restarted mid-run, a SQLite write lock held by another process, a full tmpfs, a read-only bind
mount and another user. The flow is ``flows/faults/gate_flow.py``: its ``work`` step waits for a
gate file, so a test acts while the run is in flight and then lets it go on.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys

import pytest

from headwater import Flow, Run
from headwater.meta import open_metadata

from .faultkit import (
    DEADLINE_S,
    LiveRun,
    client,
    cloned,
    datastore,
    fault_flow,
    hw,
    no_headwater_traceback,
    wait_until,
)

FLOW = fault_flow("gate_flow.py")
READY = r"READY pid=(?P<pid>\d+)"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def latest(folder) -> Run:
    client(folder)
    return Flow("GateFlow").latest_run


def gated(folder, *args: str, prefix: tuple[str, ...] = (), **env: str) -> tuple[LiveRun, str]:
    """A run whose ``work`` waits for the returned gate file; returns once it waits there."""
    gate = os.path.join(str(folder), "gate")
    live = LiveRun(FLOW, "run", *args, cwd=folder, prefix=prefix, GATE=gate, **env)
    try:
        live.wait_for(READY)
    except BaseException:
        live.kill()
        raise
    return live, gate


def open_gate(gate: str) -> None:
    with open(gate, "w"):
        pass


def assert_resume_finishes(folder, origin: Run, **env: str) -> Run:
    """``resume`` clones ``start``, re-runs ``work`` and ``end``, and succeeds."""
    proc = hw(FLOW, "resume", cwd=folder, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(cloned(proc.stdout).values()) == [f"{origin.pathspec}/start/1"]
    run = latest(folder)
    assert run.successful and run.origin_run_id == origin.id
    assert run["end"].task.stdout == "end read: made by start / made by work\n"
    return run


def stored_pid(folder, run_id: str) -> int:
    meta = open_metadata(str(datastore(folder) / "meta.sqlite"), readonly=True)
    try:
        return meta.get_run("GateFlow", run_id).pid
    finally:
        meta.close()


# --------------------------------------------------------------- 8. who is still running


def _pid_unused_here() -> int:
    """A pid no process has in this PID namespace (searched from the top of the range)."""
    with open("/proc/sys/kernel/pid_max") as fh:
        top = int(fh.read())
    return next(p for p in range(min(top, 4_000_000) - 2, 300, -1)
                if not os.path.exists(f"/proc/{p}"))


@pytest.mark.skipif(not (IS_ROOT and shutil.which("unshare")),
                    reason="needs root and unshare (util-linux) to make a PID namespace")
def test_a_run_in_another_pid_namespace_reads_running_and_is_not_resumed(tmp_path):
    """A container with host networking: same host name, its own PIDs. Its scheduler's pid, read
    from outside, names no process here; the run must still read running, and resume must wait."""
    pid = _pid_unused_here()
    # Inside the new namespace, the next process created gets `pid`: the scheduler.
    script = f'echo {pid - 1} > /proc/sys/kernel/ns_last_pid && "$0" "$@"; exit $?'
    prefix = ("unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "sh", "-c", script)
    live, _gate = gated(tmp_path, prefix=prefix)
    try:
        origin = latest(tmp_path)
        assert stored_pid(tmp_path, origin.id) == pid and not os.path.exists(f"/proc/{pid}")
        assert origin.status == "running" and not origin.finished

        proc = hw(FLOW, "resume", cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"run GateFlow/{origin.id} is still running" in proc.stderr, proc.stderr
        assert "wait for" in proc.stderr and "stop it" in proc.stderr
        assert no_headwater_traceback(proc.stderr)
        assert latest(tmp_path).id == origin.id  # no new run was started
        assert live.proc.poll() is None  # and the running one goes on

        live.signal(signal.SIGKILL, group=True)  # the container goes away, scheduler and all
        live.finish()
    finally:
        live.kill()
    wait_until(lambda: latest(tmp_path).status == "failed",
               "the run of the killed scheduler reads failed")
    assert_resume_finishes(tmp_path, latest(tmp_path))
