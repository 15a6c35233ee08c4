"""Runs under exhausted resources and a hostile environment: a datastore disk that fills up, too
few file descriptors for a wide foreach, a step that runs out of memory (``ulimit -v``, and the
kernel's out-of-memory killer in a memory cgroup), a datastore made read-only or moved away
mid-run, no HOME and an unusable TMPDIR, a console nobody reads any more (``run | head -1``,
``run > file`` on a full disk), and a flow file deleted or edited under ``--executor spawn``.

Each case is provoked for real (a tmpfs, ``setrlimit`` in the run's process, a bind mount, a
cgroup) and must end in one clear message naming what ran out and the fix, no headwater
traceback, nothing stored that reads back wrong, and a ``resume`` that finishes the run. What
the other fault suites already prove (the metadata disk full, the SQLite lock held, SIGTERM,
SIGHUP, a killed scheduler) is not repeated here; docs/reliability.md lists both.
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import uuid

import pytest

from headwater import Flow, Run
from headwater.store.storage import TEMP_PREFIX

from .faultkit import (
    DEADLINE_S,
    LiveRun,
    client,
    cloned,
    datastore,
    env_for,
    fault_flow,
    hw,
    no_headwater_traceback,
    wait_until,
)

FLOW = fault_flow("exhaust_flow.py")
GATE_FLOW = fault_flow("gate_flow.py")
READY = r"READY pid=(?P<pid>\d+)"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def latest(folder, name: str = "ExhaustFlow") -> Run:
    client(folder)
    return Flow(name).latest_run


def limited(flow, *args: str, cwd, limits: dict[int, int], **env: str
            ) -> subprocess.CompletedProcess:
    """``python FLOW ARGS`` run to the end under ``setrlimit`` limits (resource -> soft limit),
    set in the run's own process before it starts: the scheduler and its tasks inherit them."""
    def set_limits() -> None:
        for which, soft in limits.items():
            hard = resource.getrlimit(which)[1]
            resource.setrlimit(which, (soft, hard))

    return subprocess.run([sys.executable, str(flow), *args], cwd=cwd, env=env_for(cwd, **env),
                          capture_output=True, text=True, timeout=DEADLINE_S,
                          preexec_fn=set_limits)  # noqa: PLW1509 - only setrlimit, no threads


def assert_everything_reads_back(folder, name: str = "ExhaustFlow") -> None:
    """Every artifact of every run reads back (a blob that is not what was written would raise
    DataIntegrityError) and the metadata file passes SQLite's own check."""
    client(folder)
    for run in Flow(name):
        for step in run:
            for task in step:
                for artifact in task:
                    artifact.data  # noqa: B018 - reading is the check
    db = sqlite3.connect(f"file:{datastore(folder) / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


def assert_clear(proc: subprocess.CompletedProcess, *phrases: str) -> None:
    text = proc.stdout + proc.stderr
    for phrase in phrases:
        assert phrase in text, text
    assert no_headwater_traceback(text), text


def mount_tmpfs(where, size: str) -> None:
    where.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs: a real filesystem that fills up (mounting needs root)."""
    if not IS_ROOT:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small-disk"
    mount_tmpfs(mount, "4m")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder) -> str:
    """Write zeros into ``folder`` until its filesystem is full; the filler's path."""
    filler = os.path.join(str(folder), "filler")
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (b"\0" * 65536, b"\0" * 512):
            try:
                while True:
                    fh.write(chunk)
            except OSError as exc:
                assert exc.errno == 28, exc  # ENOSPC
    return filler


# ------------------------------------------------------------------ 1. the datastore disk fills


def test_a_datastore_disk_filling_up_mid_foreach_names_it_and_resume_finishes(tmp_path,
                                                                              small_disk):
    # Twenty items of 300 kB each on a 4 MiB disk that also holds meta.sqlite: the disk fills
    # part way through the foreach. Whichever write meets the full disk first says so: a task's
    # blob (the task fails, the others are recorded) or the scheduler's record (the run stops).
    root = small_disk / "ds"
    env = {"HEADWATER_DATASTORE_ROOT": str(root), "WIDTH": "20", "CHUNK": "300000"}
    proc = hw(FLOW, "run", cwd=tmp_path, **env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    by_task = "cannot save artifact 'chunk' of task ExhaustFlow/1/work/" in text
    by_meta = "no space left on the disk holding the metadata database" in text
    assert by_task or by_meta, text
    if by_task:
        assert_clear(proc, "No space left on device", "the disk holding the datastore is full",
                     f"df -h {root}", "resume")
    if by_meta:  # the run stopped there: the tasks it was running are failed unrecorded
        assert_clear(proc, f"{root / 'meta.sqlite'}", f"df -h {root}", "resume")
    client_root = tmp_path / "client"
    client_root.mkdir()
    os.symlink(root, datastore(client_root))
    origin = latest(client_root)
    assert origin.status == "failed"
    kept = [t for step in origin for t in step if t.successful]
    failures = [t.exception.type_name for t in origin["work"] if t.exception is not None]
    assert set(failures) <= {"StoreError"} and (failures or by_meta), failures
    if not by_meta:
        left = [name for _, _, names in os.walk(root) for name in names
                if name.startswith(TEMP_PREFIX)]
        assert left == []  # a write that failed for want of room removed its temp file
    assert_everything_reads_back(client_root)

    subprocess.run(["mount", "-o", "remount,size=40m", str(small_disk)], check=True)  # room
    proc = hw(FLOW, "resume", cwd=tmp_path, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(cloned(proc.stdout).values()) == sorted(t.pathspec for t in kept)
    run = latest(client_root)
    assert run.successful and run["end"].task.stdout == f"total {sum(range(20)) * 2}\n"
    assert_everything_reads_back(client_root)


def test_a_blob_over_the_file_size_limit_names_the_limit_and_resume_finishes(tmp_path):
    # `ulimit -f` (RLIMIT_FSIZE), as a batch system may set it: Python ignores SIGXFSZ, so the
    # write fails with EFBIG ("File too large") instead of killing the task.
    proc = limited(FLOW, "run", cwd=tmp_path, limits={resource.RLIMIT_FSIZE: 1 << 20},
                   WIDTH="2", CHUNK=str(2 << 20))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_clear(proc, "cannot save artifact 'chunk'", "File too large", "`ulimit -f`",
                 "resume")
    proc = hw(FLOW, "resume", cwd=tmp_path, WIDTH="2", CHUNK=str(2 << 20))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert latest(tmp_path).successful
    assert_everything_reads_back(tmp_path)


# --------------------------------------------------------------- 2. too few file descriptors


@pytest.mark.parametrize("executor", ["local", "spawn"])
def test_too_few_file_descriptors_run_a_wide_foreach_fewer_at_a_time(tmp_path, executor):
    # 32 descriptors cannot hold 16 tasks' pipes at once: the scheduler runs as many as fit and
    # says so once, and the run succeeds.
    proc = limited(FLOW, "run", "--executor", executor, "--max-workers", "16", cwd=tmp_path,
                   limits={resource.RLIMIT_NOFILE: 32}, WIDTH="40")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_clear(proc, "Note: out of file descriptors (`ulimit -n` is 32)", "ulimit -n 4096")
    run = latest(tmp_path)
    assert run.successful and run["end"].task.stdout == f"total {sum(range(40)) * 2}\n"
    assert_everything_reads_back(tmp_path)


@pytest.mark.parametrize(("limit", "phrase"), [
    (12, "cannot start task ExhaustFlow/1/start/1: this process ran out of file descriptors "
         "(`ulimit -n` is 12)"),
    (8, "this process has no file descriptor left"),  # not even the metadata file opens
])
def test_too_few_file_descriptors_for_one_task_is_one_clear_error_and_resume_finishes(
        tmp_path, limit, phrase):
    proc = limited(FLOW, "run", cwd=tmp_path, limits={resource.RLIMIT_NOFILE: limit})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_clear(proc, phrase, "ulimit -n 4096", "resume")
    again = "run"  # at 8 nothing was recorded: the run is started again
    if limit == 12:
        origin = latest(tmp_path)
        assert origin.status == "failed" and "start" not in origin  # nothing left 'running'
        again = "resume"
    proc = hw(FLOW, again, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert latest(tmp_path).successful
    assert_everything_reads_back(tmp_path)


# ------------------------------------------------------------------------ 3. out of memory


def test_a_step_out_of_address_space_names_the_limit_and_resume_finishes(tmp_path):
    proc = limited(FLOW, "run", cwd=tmp_path, limits={resource.RLIMIT_AS: 1536 << 20}, HOG="1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_clear(proc, "MemoryError: the step ran out of memory: its process may use at most "
                 "1,536 MiB of address space (`ulimit -v` 1572864)", "resume")
    origin = latest(tmp_path)
    work = {t.index: t for t in origin["work"]}
    assert not work[0].successful and "ran out of memory" in work[0].exception.message
    proc = hw(FLOW, "resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(cloned(proc.stdout).values()) == sorted(
        [f"{origin.pathspec}/start/1", work[1].pathspec, work[2].pathspec])
    assert latest(tmp_path).successful
    assert_everything_reads_back(tmp_path)


@pytest.fixture
def memory_cgroup():
    """A cgroup (v1) whose processes may use 200 MiB, so the kernel's out-of-memory killer
    stops one that wants more."""
    base = "/sys/fs/cgroup/memory"
    path = os.path.join(base, f"headwater-test-{uuid.uuid4().hex[:8]}")
    try:
        os.mkdir(path)
        with open(os.path.join(path, "memory.limit_in_bytes"), "w") as fh:
            fh.write(str(200 << 20))
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup (v1) here: {exc}")
    swap = os.path.join(path, "memory.memsw.limit_in_bytes")
    if os.path.exists(swap):  # no swapping out instead of dying
        with open(swap, "w") as fh:
            fh.write(str(200 << 20))
    try:
        yield path
    finally:
        wait_until(lambda: not _members(path), "the cgroup's processes are gone")
        os.rmdir(path)


def _members(cgroup: str) -> str:
    with open(os.path.join(cgroup, "cgroup.procs")) as fh:
        return fh.read().strip()


def test_a_step_the_out_of_memory_killer_stops_is_named_and_resume_finishes(tmp_path,
                                                                            memory_cgroup):
    proc = hw(FLOW, "run", cwd=tmp_path, CGROUP=memory_cgroup)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_clear(proc, "killed by SIGKILL", "the kernel's out-of-memory killer",
                 "dmesg | grep -i oom", "resume")
    proc = hw(FLOW, "resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert latest(tmp_path).successful
    assert_everything_reads_back(tmp_path)


# ------------------------------------------------- 4, 6. the datastore read-only or moved away


def gated(folder, *args: str, flow=GATE_FLOW, **env: str) -> tuple[LiveRun, str]:
    """A run whose ``work`` waits for the returned gate file; returns once it waits there."""
    gate = os.path.join(str(folder), "gate")
    live = LiveRun(flow, "run", *args, cwd=folder, GATE=gate, **env)
    try:
        live.wait_for(READY)
    except BaseException:
        live.kill()
        raise
    return live, gate


def open_gate_and_finish(live: LiveRun, gate: str) -> int:
    with open(gate, "w"):
        pass
    try:
        return live.finish()
    finally:
        live.kill()


def assert_gate_resume_finishes(folder, flow=GATE_FLOW, *args: str) -> None:
    proc = hw(flow, "resume", *args, cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = latest(folder, "GateFlow")
    assert run.successful and run["end"].task.stdout == "end read: made by start / made by work\n"
    assert_everything_reads_back(folder, "GateFlow")


@pytest.mark.skipif(not IS_ROOT, reason="a read-only bind mount needs root")
def test_a_datastore_made_read_only_mid_run_names_it_and_resume_finishes(tmp_path):
    # The blobs' folder made read-only under the run (a bind mount remounted read-only): the
    # tasks' writes fail; the scheduler's database, opened before, goes on being written.
    blobs = datastore(tmp_path) / "blobs"
    blobs.mkdir(parents=True)
    gate = str(tmp_path / "gate")
    live = LiveRun(FLOW, "run", cwd=tmp_path, GATE=gate, CHUNK="5000")
    try:
        live.wait_for(READY)
        subprocess.run(["mount", "--bind", str(blobs), str(blobs)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(blobs)], check=True)
            code = open_gate_and_finish(live, gate)
        finally:
            subprocess.run(["umount", "-l", str(blobs)], check=False)
    finally:
        live.kill()
    assert code == 1, live.output + live.stderr
    assert_clear(subprocess.CompletedProcess([], code, live.output, live.stderr),
                 "cannot save artifact 'chunk' of task ExhaustFlow/1/work/",
                 "Read-only file system", "remount it writable", "resume")
    assert latest(tmp_path).status == "failed"
    proc = hw(FLOW, "resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert latest(tmp_path).successful
    assert_everything_reads_back(tmp_path)


def test_a_datastore_moved_away_mid_run_is_named_and_resume_finishes_once_back(tmp_path):
    root = datastore(tmp_path)
    live, gate = gated(tmp_path)
    moved = tmp_path / "moved-away"
    os.rename(root, moved)
    code = open_gate_and_finish(live, gate)
    assert code == 1, live.output + live.stderr
    assert_clear(subprocess.CompletedProcess([], code, live.output, live.stderr),
                 f"the metadata database {root / 'meta.sqlite'} was deleted or replaced",
                 "put it back and resume the run")
    assert "succeeded" not in live.output
    shutil.rmtree(root, ignore_errors=True)  # what a task may have made in its old place
    os.rename(moved, root)
    assert latest(tmp_path, "GateFlow").status == "failed"  # its scheduler is gone
    assert_gate_resume_finishes(tmp_path)


# ------------------------------------------------------- 5. the SQLite write lock held a while

HOLD_LOCK = """
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("HELD", flush=True)
deadline = time.monotonic() + 900
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.05)
db.execute("COMMIT")
"""


def test_a_run_waiting_for_the_sqlite_write_lock_says_so_and_goes_on_once_free(tmp_path):
    # Past the bound the run fails clearly (test_meta_faults.py); within it, a wait of more than
    # two seconds is said once on stderr, naming the file and how to find the holder.
    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0  # the database exists
    path = datastore(tmp_path) / "meta.sqlite"
    release = tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), str(release)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "HELD\n"
        live = LiveRun(FLOW, "run", cwd=tmp_path, HEADWATER_SQLITE_BUSY_TIMEOUT_S="600")
        try:
            wait_until(lambda: "waiting for the metadata database" in live.stderr,
                       "the run says it waits for the lock")
            assert f"`fuser {path}`" in live.stderr and "giving up after 600 s" in live.stderr
            release.touch()
            assert live.finish() == 0, live.output + live.stderr
        finally:
            live.kill()
    finally:
        release.touch()
        holder.wait(DEADLINE_S)
        holder.stdout.close()
    assert no_headwater_traceback(live.stderr), live.stderr
    assert latest(tmp_path).successful


# ----------------------------------------------------------------- 7. no HOME, no usable TMPDIR


@pytest.mark.parametrize("how", ["no-home", "home-unwritable", "tmpdir-missing",
                                 "tmpdir-full"])
def test_no_home_and_an_unusable_tmpdir_still_run(tmp_path, how, request):
    env = env_for(tmp_path, WIDTH="4")
    if how == "no-home":
        env.pop("HOME", None)
    elif how == "home-unwritable":
        env["HOME"] = "/proc"  # no one may write there, root included
    elif how == "tmpdir-missing":
        env["TMPDIR"] = str(tmp_path / "no-such-folder")
    else:
        disk = request.getfixturevalue("small_disk")
        fill(disk)
        env["TMPDIR"] = str(disk)
    for executor in ("local", "spawn"):
        proc = subprocess.run([sys.executable, str(FLOW), "run", "--executor", executor],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=DEADLINE_S)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert latest(tmp_path).successful


# ------------------------------------------------------- 8. nobody reads the console any more


def test_a_run_whose_reader_left_goes_on_and_is_recorded_whole(tmp_path):
    # `python flow.py run | head -1`: the pipe closes after the first line
    proc = subprocess.Popen([sys.executable, str(FLOW), "run"], cwd=tmp_path,
                            env=env_for(tmp_path, WIDTH="30"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(DEADLINE_S) == 0, err
    assert first.startswith("headwater ")
    assert "the run's output can no longer be written (Broken pipe); the run goes on" in err
    assert no_headwater_traceback(err) and "Exception ignored" not in err, err
    run = latest(tmp_path)
    assert run.successful and run["end"].task.stdout == f"total {sum(range(30)) * 2}\n"
    logs = hw(FLOW, "logs", f"{run.id}/end", cwd=tmp_path)
    assert logs.stdout == f"total {sum(range(30)) * 2}\n"


def test_a_run_printing_to_a_full_disk_goes_on(tmp_path, small_disk):
    fill(small_disk)
    with open(small_disk / "filler", "ab") as out:  # `run >> log` on a disk with no room
        proc = subprocess.run([sys.executable, str(FLOW), "run"], cwd=tmp_path,
                              env=env_for(tmp_path, WIDTH="5"), stdout=out,
                              stderr=subprocess.PIPE, text=True, timeout=DEADLINE_S)
    assert proc.returncode == 0, proc.stderr
    assert "can no longer be written (No space left on device)" in proc.stderr
    assert no_headwater_traceback(proc.stderr), proc.stderr
    assert latest(tmp_path).successful


@pytest.mark.parametrize("closed", [(1,), (1, 2), (0, 1, 2)], ids=["out", "out-err", "all"])
def test_a_run_started_with_its_standard_streams_closed_runs_whole(tmp_path, closed):
    # `run >&-`: Python makes sys.stdout None, and the next file opened would take fd 1 (the
    # metadata database, written to by whatever writes to "stdout"): /dev/null takes it first.
    proc = subprocess.run([sys.executable, str(FLOW), "run"], cwd=tmp_path,
                          env=env_for(tmp_path, WIDTH="5"), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=DEADLINE_S,
                          preexec_fn=lambda: [os.close(fd) for fd in closed])  # noqa: PLW1509
    assert proc.returncode == 0
    run = latest(tmp_path)
    assert run.successful and run["end"].task.stdout == f"total {sum(range(5)) * 2}\n"
    assert_everything_reads_back(tmp_path)


# --------------------------------------------------- 9. the flow file deleted or edited mid-run


@pytest.mark.parametrize(("change", "phrase"), [
    ("delete", "was deleted, moved or made unreadable while the run went on"),
    ("edit", "was edited while the run went on"),
])
def test_a_flow_file_changed_under_spawned_tasks_fails_them_and_resume_finishes(tmp_path,
                                                                               change, phrase):
    flow = tmp_path / "gate_flow.py"
    shutil.copy(GATE_FLOW, flow)
    live, gate = gated(tmp_path, "--executor", "spawn", flow=flow)
    if change == "delete":
        flow.unlink()
    else:
        with open(flow, "a") as fh:
            fh.write("# edited\n")
    code = open_gate_and_finish(live, gate)
    assert code == 1, live.output + live.stderr
    assert_clear(subprocess.CompletedProcess([], code, live.output, live.stderr),
                 f"the flow file {flow} {phrase}", "resume", "--executor local")
    run = latest(tmp_path, "GateFlow")
    assert run["work"].task.successful and not run["end"].task.successful
    if change == "delete":
        shutil.copy(GATE_FLOW, flow)
    assert_gate_resume_finishes(tmp_path, flow, "--executor", "spawn")


def test_a_flow_file_deleted_under_forked_tasks_changes_nothing(tmp_path):
    flow = tmp_path / "gate_flow.py"
    shutil.copy(GATE_FLOW, flow)
    live, gate = gated(tmp_path, flow=flow)
    flow.unlink()  # the fork server imported it once, before the run
    assert open_gate_and_finish(live, gate) == 0, live.output + live.stderr
    assert latest(tmp_path, "GateFlow").successful
