"""Fault injection against real processes: tasks that die, runs that are stopped or killed, blobs
that rot on disk or cannot be written. Each fault must end in a clean, recorded failure that names
what happened, and ``resume`` must finish the run afterwards.

Flows: ``flows/faults/fault_flow.py`` (``work`` fails as the ``FAULT`` variable says).
"""

from __future__ import annotations

import os
import signal
import sqlite3

import pytest

from headwater import Flow, Run
from headwater.exceptions import DataIntegrityError
from headwater.store.datastore import blob_path, content_key
from headwater.store.serialize import encode
from headwater.store.storage import TEMP_PREFIX, LocalStorage

from .faultkit import (
    PAYLOAD,
    TEST_EXECUTOR,
    LiveRun,
    children_of,
    client,
    cloned,
    datastore,
    fault_flow,
    group_gone,
    hw,
    kill_group_quietly,
    live_members,
    no_headwater_traceback,
    parent_of,
)
from .flowrun import task_lines

FLOW = fault_flow("fault_flow.py")
READY = r"READY pid=(?P<pid>\d+) pgid=(?P<pgid>\d+) child=(?P<child>\d+)"


def latest(tmp_path) -> Run:
    client(tmp_path)
    return Flow("FaultFlow").latest_run


def recorded_status(tmp_path, run_id: str) -> str:
    """The status stored in the run's row, whatever readers would infer from liveness."""
    db = sqlite3.connect(f"file:{datastore(tmp_path) / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT status FROM runs WHERE flow = 'FaultFlow' AND run_id = ?",
                          (run_id,)).fetchone()[0]
    finally:
        db.close()


def work_lines(output: str) -> list[str]:
    return [t.text for t in task_lines(output) if t.step == "work"]


def assert_failed_at_work(tmp_path, proc, phrase: str) -> Run:
    """The run failed at ``work``, said ``phrase`` under the task's prefix, and is recorded so."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    texts = work_lines(proc.stdout)
    assert any(phrase in t for t in texts), texts
    assert texts[-1] == "Task failed."
    assert no_headwater_traceback(proc.stdout + proc.stderr)
    run = latest(tmp_path)
    assert run.finished and run.status == "failed"
    task = run["work"].task
    assert task.finished and not task.successful
    assert phrase in task.exception.message
    assert "end" not in run
    return run


def assert_resume_finishes(tmp_path, origin: Run) -> Run:
    """``resume`` (fault gone) clones ``start``, re-runs ``work`` and ``end``, and succeeds."""
    proc = hw(FLOW, "resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    clones = cloned(proc.stdout)
    assert list(clones.values()) == [f"{origin.pathspec}/start/1"]
    run = latest(tmp_path)
    assert run.successful and run.origin_run_id == origin.id
    assert run["start"].task.origin_pathspec == f"{origin.pathspec}/start/1"
    assert run["work"].task.origin_pathspec is None
    assert run["end"].task.stdout == "end read: payload made by start / result made by work\n"
    return run


# -------------------------------------------------------------------------- a task dies


@pytest.mark.parametrize(("fault", "phrase"), [
    ("exit0", "exited with code 0 before the step finished"),
    ("sysexit", "sys.exit(3)"),
    ("segv", "killed by SIGSEGV"),
    ("segv_ctypes", "killed by SIGSEGV"),
])
def test_a_task_that_dies_fails_the_run_cleanly_and_resume_finishes_it(tmp_path, fault, phrase):
    proc = hw(FLOW, "run", cwd=tmp_path, FAULT=fault)
    origin = assert_failed_at_work(tmp_path, proc, phrase)
    assert_resume_finishes(tmp_path, origin)


def test_a_task_killed_with_sigkill_fails_and_its_children_go_with_it(tmp_path):
    live = LiveRun(FLOW, "run", cwd=tmp_path, FAULT="wait")
    pgid = -1
    try:
        ready = live.wait_for(READY)
        pgid = int(ready["pgid"])
        os.kill(int(ready["pid"]), signal.SIGKILL)  # the task only, not its `sleep` child
        assert live.finish() == 1
        group_gone(pgid)  # the orphaned `sleep 1000` was killed with its task
    finally:
        live.kill()
        kill_group_quietly(pgid)
    texts = work_lines(live.output)
    assert any("killed by SIGKILL" in t for t in texts), texts
    origin = latest(tmp_path)
    assert origin.status == "failed"
    assert "SIGKILL" in origin["work"].task.exception.message
    assert_resume_finishes(tmp_path, origin)


# ------------------------------------------------------------- the run is stopped or killed


@pytest.mark.parametrize(("signum", "code", "group"), [
    (signal.SIGINT, 130, False),   # Ctrl-C
    (signal.SIGTERM, 143, False),  # kill PID
    (signal.SIGTERM, 143, True),   # kill -TERM -PGID, as a shell's `kill %1` does
    (signal.SIGHUP, 129, True),    # the terminal was closed
])
def test_stopping_the_run_stops_every_task_process_and_records_the_run_failed(
        tmp_path, signum, code, group):
    live = LiveRun(FLOW, "run", cwd=tmp_path, FAULT="wait")
    pgid = -1
    try:
        pgid = int(live.wait_for(READY)["pgid"])
        live.signal(signum, group=group)
        assert live.finish() == code, live.output + live.stderr
        group_gone(pgid)  # the task and the `sleep 1000` it started: no orphan
    finally:
        live.kill()
        kill_group_quietly(pgid)
    name = signal.Signals(signum).name
    assert "Interrupted: stopping the running tasks..." in live.output
    assert f"stopped because the run received {name}" in "\n".join(work_lines(live.output))
    assert live.output.splitlines()[-1].endswith("was interrupted and is recorded as failed.")
    assert "Traceback" not in live.stderr, live.stderr
    origin = latest(tmp_path)
    assert origin.finished and origin.status == "failed"
    assert recorded_status(tmp_path, origin.id) == "failed"
    task = origin["work"].task
    assert not task.successful and task.exception.type_name == "Interrupted"
    assert_resume_finishes(tmp_path, origin)


def test_a_run_under_nohup_outlives_its_terminal(tmp_path):
    live = LiveRun(FLOW, "run", cwd=tmp_path, prefix=("nohup",), FAULT="wait")
    pgid = -1
    try:
        ready = live.wait_for(READY)
        pgid = int(ready["pgid"])
        live.signal(signal.SIGHUP, group=True)  # the terminal closes...
        # ...and nothing stops: prove it by the run still answering to Ctrl-C, and only to that
        assert live.proc.poll() is None and live_members(pgid)
        live.signal(signal.SIGINT)
        assert live.finish() == 130, live.output + live.stderr
        group_gone(pgid)
    finally:
        live.kill()
        kill_group_quietly(pgid)
    assert "stopped because the run received SIGINT" in "\n".join(work_lines(live.output))


def test_a_task_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    live = LiveRun(FLOW, "run", cwd=tmp_path, FAULT="stubborn")
    pgid = -1
    try:
        pgid = int(live.wait_for(READY)["pgid"])
        live.signal(signal.SIGINT)
        assert live.finish() == 130, live.output + live.stderr
        group_gone(pgid)
    finally:
        live.kill()
        kill_group_quietly(pgid)
    assert "stopped because the run received SIGINT" in "\n".join(work_lines(live.output))
    assert latest(tmp_path).status == "failed"


def test_a_killed_scheduler_leaves_a_run_that_reads_failed_and_resumes(tmp_path):
    live = LiveRun(FLOW, "run", cwd=tmp_path, FAULT="wait")
    pgid = -1
    try:
        pgid = int(live.wait_for(READY)["pgid"])
        live.signal(signal.SIGKILL)  # no handler runs: nothing records the end of the run
        assert live.finish() == -signal.SIGKILL
        group_gone(pgid)  # its fork server saw the scheduler hang up and killed the task
    finally:
        live.kill()
        kill_group_quietly(pgid)
    origin = latest(tmp_path)
    assert origin.status == "failed" and origin.finished  # not 'running' forever
    assert origin.finished_at is not None
    work = origin["work"].task
    assert work.finished and not work.successful  # its unfinished task does not read running
    assert origin["start"].task.successful
    assert_resume_finishes(tmp_path, origin)


@pytest.mark.skipif(TEST_EXECUTOR == "spawn", reason="spawned tasks have no fork server to kill")
def test_a_killed_fork_server_fails_the_run_cleanly(tmp_path):
    live = LiveRun(FLOW, "run", cwd=tmp_path, FAULT="wait")
    pgid = -1
    try:
        ready = live.wait_for(READY)
        pgid = int(ready["pgid"])
        server = parent_of(int(ready["pid"]))  # the fork server that runs the task...
        assert server in children_of(live.pid)  # ...a child of the scheduler
        os.kill(server, signal.SIGKILL)
        assert live.finish() == 1
        group_gone(pgid)
    finally:
        live.kill()
        kill_group_quietly(pgid)
    assert "Run failed:" in live.stderr and "died" in live.stderr, live.stderr
    assert "Traceback" not in live.stderr
    origin = latest(tmp_path)
    assert origin.status == "failed"
    assert recorded_status(tmp_path, origin.id) == "failed"  # written, not inferred from liveness
    assert origin["work"].task.finished and not origin["work"].task.successful
    assert_resume_finishes(tmp_path, origin)


def test_tasks_do_not_inherit_the_signals_the_fork_server_ignores(tmp_path):
    """The fork server ignores SIGINT/SIGTERM; the tasks it forks must not inherit that."""
    live = LiveRun(FLOW, "run", cwd=tmp_path, FAULT="wait")
    pgid = -1
    try:
        ready = live.wait_for(READY)
        pgid = int(ready["pgid"])
        for pid in (int(ready["pid"]), int(ready["child"])):
            with open(f"/proc/{pid}/status") as fh:
                ignored = int(next(line for line in fh if line.startswith("SigIgn:")).split()[1], 16)
            assert not ignored & (1 << (signal.SIGTERM - 1)), f"pid {pid} ignores SIGTERM"
        os.killpg(pgid, signal.SIGTERM)
        assert live.finish() == 1
        assert not live_members(pgid)
    finally:
        live.kill()
        kill_group_quietly(pgid)
    assert "killed by SIGTERM" in "\n".join(work_lines(live.output))


# ------------------------------------------------------------------------- blobs on disk


def payload_blob(tmp_path, run: Run):
    sha = run["start"].task["payload"].sha
    return datastore(tmp_path) / blob_path(sha)


@pytest.mark.parametrize("damage", ["altered", "truncated"])
def test_a_damaged_blob_is_refused_naming_the_artifact_and_task(tmp_path, damage):
    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0
    origin = latest(tmp_path)
    path = payload_blob(tmp_path, origin)
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]) if damage == "altered" else good[:5])

    # the client
    start = origin["start"].task.pathspec
    with pytest.raises(DataIntegrityError) as err:
        Run(origin.pathspec)["start"].task.data.payload  # noqa: B018
    assert f"artifact 'payload' of task {start}" in str(err.value)
    assert "corrupt" in str(err.value)

    # the command line
    proc = hw(FLOW, "dump", f"{origin.id}/start/1", "--max-value-size", "100000", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Stored data is corrupt" in proc.stderr and "'payload'" in proc.stderr
    assert no_headwater_traceback(proc.stderr)

    # a later task: `end` reads payload (passed on untouched by `work`)
    proc = hw(FLOW, "resume", "end", cwd=tmp_path)
    assert proc.returncode == 1
    end = [t.text for t in task_lines(proc.stdout) if t.step == "end"]
    assert any("DataIntegrityError" in t and "artifact 'payload'" in t for t in end), end
    again = latest(tmp_path)
    assert again["end"].task.exception.type_name == "DataIntegrityError"

    # repaired, the same resume goes through
    path.write_bytes(good)
    proc = hw(FLOW, "resume", "end", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_leftovers_of_interrupted_writes_are_ignored(tmp_path):
    """A writer killed mid-write leaves a temp file beside where the blob goes; nobody reads it."""
    key = content_key(encode(PAYLOAD).parts)
    folder = datastore(tmp_path) / "blobs" / key[:2]
    folder.mkdir(parents=True)
    leftovers = [folder / f"{TEMP_PREFIX}{key}.4242.deadbeef", folder.parent / f"{TEMP_PREFIX}x"]
    for leftover in leftovers:
        leftover.write_bytes(b"HW\x01\x00half a pick")
    proc = hw(FLOW, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert latest(tmp_path)["end"].task.stdout.startswith("end read: payload made by start")
    storage = LocalStorage(datastore(tmp_path))
    assert not [k for k in storage.list("blobs/") if TEMP_PREFIX in k]
    assert all(p.exists() for p in leftovers)  # left alone by readers...
    assert storage.cleanup_temp(older_than_s=0) == 2  # ...and swept by the cleaner
    assert not any(p.exists() for p in leftovers)


# --------------------------------------------------------------------- artifacts that fail


@pytest.mark.parametrize(("fault", "name", "type_name"), [
    ("lock", "guard", "_thread.lock"),
    ("generator", "numbers", "builtins.generator"),
])
def test_an_artifact_that_cannot_be_pickled_names_itself_and_the_fix(tmp_path, fault, name,
                                                                    type_name):
    proc = hw(FLOW, "run", cwd=tmp_path, FAULT=fault)
    origin = assert_failed_at_work(tmp_path, proc, f"cannot save artifact '{name}'")
    message = origin["work"].task.exception.message
    assert origin["work"].task.exception.type_name == "SerializationError"
    assert f"{origin.pathspec}/work/" in message  # the task's pathspec names the step
    assert f"a {type_name} cannot be pickled" in message
    assert f"del self.{name}" in message and f"_{name}" in message  # what to do about it
    assert_resume_finishes(tmp_path, origin)


def test_a_blob_that_cannot_be_written_fails_the_task_and_the_run_stays_resumable(tmp_path):
    # A file where the blob's fan-out folder should be: the OS refuses the write, as it would a
    # full or read-only disk (chmod would not do: the tests may run as root).
    taken = {content_key(encode(PAYLOAD).parts)[:2]}
    # Over the inline limit, so `result` needs a blob file; what comes after "|" is not printed.
    value = next(v for v in (f"unwritable result {i}|" + "." * 2048 for i in range(1000))
                 if content_key(encode(v).parts)[:2] not in taken)
    key = content_key(encode(value).parts)
    blocker = datastore(tmp_path) / "blobs" / key[:2]
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where a folder belongs")

    proc = hw(FLOW, "run", cwd=tmp_path, RESULT=value)
    origin = assert_failed_at_work(tmp_path, proc, "cannot save artifact 'result'")
    assert origin["work"].task.exception.type_name == "StoreError"
    assert key in origin["work"].task.exception.message

    blocker.unlink()
    proc = hw(FLOW, "resume", cwd=tmp_path, RESULT=value)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert latest(tmp_path)["end"].task.data.result == value


def test_a_log_that_cannot_be_written_is_reported_and_the_run_goes_on(tmp_path):
    # The scheduler stores each task's output as a blob (its key depends on the lines' times, so
    # it cannot be known in advance): `end` moves the blobs folder aside once it has printed, and
    # the test puts it back after the run to read the run.
    blobs = datastore(tmp_path) / "blobs"
    proc = hw(FLOW, "run", cwd=tmp_path, BLOCK_BLOBS=str(blobs))
    blobs.unlink()
    blobs.with_name("blobs.aside").rename(blobs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = [t.text for t in task_lines(proc.stdout) if t.step == "end"]
    assert any(t.startswith("The task's stdout could not be saved: cannot save") for t in said)
    assert said[-1] == "Task finished successfully."
    run = latest(tmp_path)
    assert run.successful and run["end"].task.stdout == ""
