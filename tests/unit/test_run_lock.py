"""The run lock: a scheduler's flock beside the SQLite metadata tells readers it is alive.

A real second process holds the lock (as a scheduler does); the reader is this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from headwater.meta import open_metadata
from headwater.meta.liveness import HEARTBEAT_TIMEOUT, this_host
from headwater.meta.run_lock import lock_held, lock_path

HOLD = """
import sys
from headwater.meta.run_lock import RunLock
lock = RunLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.read()
lock.release()
print("released", flush=True)
"""


def holder(path: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, path], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


def new_run(meta, pid: int, host: str) -> str:
    return meta.new_run("LockFlow", user="alice", tags=[], system_tags=[], params={},
                        origin_run_id=None, pid=pid, host=host)


def test_a_held_lock_reads_running_whatever_the_pid_and_heartbeat_say(tmp_path):
    db = str(tmp_path / "meta.sqlite")
    with open_metadata(db) as meta:
        # Everything else says "dead": a pid gone on this very host, a heartbeat long stale.
        run_id = new_run(meta, pid=2**22 + 7, host=this_host())
        meta.heartbeat("LockFlow", run_id, time.time() - HEARTBEAT_TIMEOUT - 60)
    path = lock_path(db, "LockFlow", run_id)
    proc = holder(path)
    try:
        with open_metadata(db, readonly=True) as reader:
            assert lock_held(path) is True
            assert reader.get_run("LockFlow", run_id).live_status == "running"
            assert [r.live_status for r in reader.list_runs("LockFlow")] == ["running"]
            proc.kill()  # SIGKILL: no release runs, the kernel drops the lock
            proc.wait(60)
            assert lock_held(path) is False
            assert reader.get_run("LockFlow", run_id).live_status == "failed"
    finally:
        proc.kill()
        proc.wait(60)
        proc.stdout.close()
        proc.stdin.close()


def test_a_released_lock_of_a_finished_run_reads_its_recorded_status(tmp_path):
    db = str(tmp_path / "meta.sqlite")
    with open_metadata(db) as meta:
        run_id = new_run(meta, pid=os.getpid(), host="elsewhere")
        with meta.run_lock("LockFlow", run_id) as lock:
            assert lock_held(lock.path) is True  # held by this very process: still seen as held
            assert meta.get_run("LockFlow", run_id).live_status == "running"
            meta.run_finished("LockFlow", run_id, "succeeded", time.time())
        assert not os.path.exists(lock.path)  # released with the run's end recorded
        assert meta.get_run("LockFlow", run_id).live_status == "succeeded"


def test_names_that_are_not_file_safe_get_no_lock(tmp_path):
    assert lock_path(str(tmp_path / "meta.sqlite"), "../x", "1") is None
    assert lock_path(str(tmp_path / "meta.sqlite"), "Flow", "1/../../x") is None
    assert lock_held(None) is None


def test_a_free_lock_of_a_run_from_another_machine_proves_nothing(tmp_path):
    """A network filesystem may keep flocks per machine: only the heartbeat can tell then."""
    db = str(tmp_path / "meta.sqlite")
    with open_metadata(db) as meta:
        run_id = new_run(meta, pid=1, host="another-machine pid:[4026531836]")
        path = lock_path(db, "LockFlow", run_id)
        os.makedirs(os.path.dirname(path))
        open(path, "w").close()  # its scheduler's lock, as seen from here: free
        assert lock_held(path) is False
        assert meta.get_run("LockFlow", run_id).live_status == "running"
        meta.heartbeat("LockFlow", run_id, time.time() - HEARTBEAT_TIMEOUT - 60)
        assert meta.get_run("LockFlow", run_id).live_status == "failed"
