"""Faults around the metadata: who is still running, a database that goes away, refuses, fills
its disk, is damaged or deleted, a datastore shared read-only, and leftovers of killed writers.

Everything is real: schedulers in another PID namespace (``unshare``), a PostgreSQL server
restarted mid-run, a SQLite write lock held by another process, a full tmpfs, a read-only bind
mount and another user. The flow is ``flows/faults/gate_flow.py``: its ``work`` step waits for a
gate file, so a test acts while the run is in flight and then lets it go on.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from headwater import Flow, Run
from headwater.exceptions import MetadataError
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


# ------------------------------------------------- 9. the metadata store fails under a run


def assert_failed_clearly(live: LiveRun, *phrases: str) -> None:
    """The run ended with exit code 1 and one clear error (no traceback, never "succeeded")."""
    code = live.finish()
    text = live.output + live.stderr
    assert code == 1, text
    assert "Metadata error:" in live.stderr, text
    for phrase in phrases:
        assert phrase in live.stderr, text
    assert "fix:" in live.stderr
    assert no_headwater_traceback(text) and "Traceback" not in text, text
    assert "succeeded" not in live.output


def test_a_sqlite_write_lock_held_past_the_busy_timeout_fails_clearly_and_resume_finishes(
        tmp_path):
    # 2 s instead of 30 s, so the test need not wait long (HEADWATER_SQLITE_BUSY_TIMEOUT_S).
    live, gate = gated(tmp_path, HEADWATER_SQLITE_BUSY_TIMEOUT_S="2")
    path = datastore(tmp_path) / "meta.sqlite"
    holder = subprocess.Popen(  # another process takes the write lock and keeps it
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        open_gate(gate)  # `work` ends: the scheduler must record it, and cannot
        assert_failed_clearly(live, f"the metadata database {path} stayed locked",
                              "HEADWATER_SQLITE_BUSY_TIMEOUT_S", "resume")
    finally:
        live.kill()
        holder.stdin.close()
        holder.wait(DEADLINE_S)
        holder.stdout.close()
    origin = latest(tmp_path)
    assert origin.status == "failed" and origin["start"].task.successful
    assert_resume_finishes(tmp_path, origin)



@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs: a real filesystem that fills up (mounting needs root)."""
    if not IS_ROOT:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder) -> str:
    """Write zeros into ``folder`` until its filesystem is full; the filler's path."""
    filler = os.path.join(str(folder), "filler")
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(chunk)
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC
    with open(filler, "ab", buffering=0) as fh:
        try:  # the last partial chunk may have left room for less than a chunk
            while True:
                fh.write(b"\0" * 512)
        except OSError as exc:
            assert exc.errno == 28, exc
    return filler


def test_a_full_disk_under_the_sqlite_metadata_fails_clearly_and_resume_finishes(
        tmp_path, small_disk):
    path = small_disk / "meta.sqlite"
    env = {"HEADWATER_METADATA": str(path)}
    live, gate = gated(tmp_path, **env)
    try:
        filler = fill(small_disk)
        open_gate(gate)  # `work` ends: recording it needs room the disk no longer has
        assert_failed_clearly(live, f"no space left on the disk holding the metadata database "
                              f"{path}", "df -h")
    finally:
        live.kill()
    os.unlink(filler)  # room again
    meta = open_metadata(str(path), readonly=True)
    try:
        row = meta.list_runs("GateFlow")[0]
    finally:
        meta.close()
    assert row.live_status == "failed"  # its scheduler is gone; nothing says it still runs
    proc = hw(FLOW, "resume", cwd=tmp_path, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(cloned(proc.stdout).values()) == [f"GateFlow/{row.run_id}/start/1"]


def test_a_full_disk_before_the_first_run_and_under_readers_is_one_clear_line(tmp_path,
                                                                            small_disk):
    # The metadata file cannot even be created: one clear line, and no private half-built
    # copy left behind. Then, with a database in place, a full disk that also cut its -shm
    # index short: the run and the readers name the full disk, never "disk I/O error".
    path = small_disk / "meta.sqlite"
    env = {"HEADWATER_METADATA": str(path)}
    filler = fill(small_disk)
    proc = hw(FLOW, "run", cwd=tmp_path, **env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"no space left on the disk holding the metadata database {path}" in proc.stderr
    assert no_headwater_traceback(proc.stderr), proc.stderr
    assert sorted(os.listdir(small_disk)) == ["filler"]  # no .meta.sqlite.PID.TID left
    os.unlink(filler)
    assert hw(FLOW, "run", cwd=tmp_path, **env).returncode == 0
    with open(f"{path}-shm", "wb") as shm:  # as a full disk leaves it: a few bytes
        shm.write(b"\0\0\0")
    filler = fill(small_disk)
    for command in (("run",), ("dump", "1/start")):
        proc = hw(FLOW, *command, cwd=tmp_path, **env)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "no space left on the disk holding the metadata database" in proc.stderr, \
            proc.stderr
        assert no_headwater_traceback(proc.stderr), proc.stderr


@pytest.fixture
def own_pg_server():
    """A PostgreSQL server of this test's own, since the test restarts it."""
    import servers

    with servers.postgres() as url:
        yield url


def test_a_postgres_restart_mid_run_is_survived(tmp_path, own_pg_server):
    import servers

    env = {"HEADWATER_METADATA": own_pg_server}
    live, gate = gated(tmp_path, **env)
    try:
        servers.restart_postgres(own_pg_server)  # every session of the scheduler is cut
        open_gate(gate)  # `work` ends: the scheduler records it over a new connection
        assert live.finish() == 0, live.output + live.stderr
    finally:
        live.kill()
    assert "Done! Run GateFlow/1 succeeded." in live.output
    meta = open_metadata(own_pg_server, readonly=True)
    try:
        run = meta.get_run("GateFlow", "1")
        assert run.status == "succeeded"
        assert [t.status for t in meta.list_tasks("GateFlow", "1")] == ["succeeded"] * 3
    finally:
        meta.close()


def test_a_postgres_server_that_stays_down_fails_the_run_clearly(tmp_path, own_pg_server):
    import servers

    env = {"HEADWATER_METADATA": own_pg_server, "HEADWATER_METADATA_RECONNECT_S": "1"}
    live, gate = gated(tmp_path, **env)
    try:
        servers.stop_postgres(own_pg_server)
        open_gate(gate)
        assert_failed_clearly(live, "lost the connection to the metadata database",
                              "could not reconnect within 1 s", "resume")
    finally:
        live.kill()
    servers.start_postgres(own_pg_server)
    meta = open_metadata(own_pg_server, readonly=True)
    try:
        origin = meta.get_run("GateFlow", "1")
    finally:
        meta.close()
    assert origin.live_status == "failed"  # its scheduler is gone (same host and namespace)
    proc = hw(FLOW, "resume", cwd=tmp_path, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(cloned(proc.stdout).values()) == ["GateFlow/1/start/1"]


# ------------------------------------------------------- 10. a datastore shared read-only

READER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "readonly_reader.py")


def _read_only_mount(source: str, target: str) -> None:
    os.makedirs(target)
    for argv in (["mount", "--bind", source, target],
                 ["mount", "-o", "remount,ro,bind", target]):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", target], capture_output=True)
            pytest.skip(f"cannot make a read-only bind mount here: {done.stderr.strip()}")


@pytest.mark.skipif(not IS_ROOT, reason="needs root to mount or to act as another user")
@pytest.mark.parametrize("how", ["read-only mount", "another user"])
def test_a_datastore_shared_read_only_can_be_read(tmp_path_factory, how):
    # Not under pytest's tmp root: that is private to root, and "another user" must get in.
    import tempfile

    folder = tempfile.mkdtemp(prefix="headwater-shared-")
    os.chmod(folder, 0o755)
    mounted = os.path.join(folder, "mounted")
    try:
        proc = hw(FLOW, "run", cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        store = str(datastore(folder))
        assert not [n for n in os.listdir(store) if n.endswith(("-wal", "-shm"))]
        if how == "read-only mount":
            _read_only_mount(store, mounted)
            store, user = mounted, ""
        else:  # files readable by all, writable by nobody but root, read as user `nobody`
            subprocess.run(["chmod", "-R", "a+rX,a-w", store], check=True)
            user = "nobody"
        before = sorted(os.listdir(store))
        read = subprocess.run(
            [sys.executable, READER, user, str(FLOW), "1"], cwd=folder,
            env={**os.environ, "HEADWATER_DATASTORE_ROOT": store, "HEADWATER_USER": "tester"},
            capture_output=True, text=True, timeout=DEADLINE_S)
        out = read.stdout + read.stderr
        assert read.returncode == 0, out
        assert "CLIENT True made by start | end read: made by start / made by work" in read.stdout
        assert "end read: made by start / made by work" in read.stdout.split("CLIENT", 1)[1]
        assert "EXIT logs 0" in read.stdout and "EXIT dump 0" in read.stdout, out
        # dump showed the artifact (as str shows it, as Metaflow's dump does)
        assert re.search(r"made +builtins\.str +\d+ bytes  made by start", read.stdout), out
        assert "readonly" not in out and "unable to open" not in out, out
        assert sorted(os.listdir(store)) == before  # nothing was created there
        if how == "read-only mount":  # even root may not write there: a run says so plainly
            proc = hw(FLOW, "run", cwd=folder, HEADWATER_DATASTORE_ROOT=store)
            assert proc.returncode == 1, proc.stdout + proc.stderr
            assert "is read-only for this user, or on a read-only mount" in proc.stderr, \
                proc.stderr
            assert no_headwater_traceback(proc.stderr), proc.stderr
    finally:
        subprocess.run(["umount", mounted], capture_output=True)
        subprocess.run(["chmod", "-R", "u+w", folder], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------- 11. a damaged or deleted metadata file


_KEPT = {"half": lambda size: size // 2, "50 bytes": lambda size: 50,
         "nothing": lambda size: 0}  # `: > meta.sqlite` must not read as a new, empty history


@pytest.mark.parametrize("keep", list(_KEPT))
def test_a_truncated_metadata_file_is_one_clear_error_naming_it(tmp_path, keep):
    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0
    path = datastore(tmp_path) / "meta.sqlite"
    size = path.stat().st_size
    os.truncate(path, _KEPT[keep](size))

    client(tmp_path)
    with pytest.raises(MetadataError) as err:
        Flow("GateFlow").latest_run  # noqa: B018
    assert f"the metadata database {path} is damaged" in str(err.value)
    assert "restore it from a backup" in str(err.value) and "move it aside" in str(err.value)

    for args in (("run",), ("logs", "1/end"), ("resume",)):
        proc = hw(FLOW, *args, cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"the metadata database {path} is damaged" in proc.stderr, proc.stderr
        assert "fix:" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert "succeeded" not in proc.stdout
    assert path.stat().st_size == _KEPT[keep](size)  # left as it was


def test_a_metadata_file_deleted_mid_run_fails_the_run_and_never_reads_succeeded(tmp_path):
    live, gate = gated(tmp_path)
    path = datastore(tmp_path) / "meta.sqlite"
    try:
        path.unlink()  # `rm .headwater/meta.sqlite` while the run goes
        open_gate(gate)
        assert_failed_clearly(live, f"the metadata database {path} was deleted or replaced")
    finally:
        live.kill()
    assert "Done!" not in live.output


# --------------------------------------------------- 13. leftovers of killed writers


def test_a_run_sweeps_stale_temp_files_once_a_day_and_spares_live_ones(tmp_path):
    from headwater.store.storage import TEMP_PREFIX
    from headwater.store.temp_sweep import MARKER, STALE_AFTER_S

    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0
    store = datastore(tmp_path)
    folder = next(p for p in (store / "blobs").iterdir() if p.is_dir())
    marker = store / MARKER
    assert marker.exists()  # the first run started the daily clock (nothing to remove yet)

    def leftover(name: str, age_s: float):
        path = folder / f"{TEMP_PREFIX}{name}.4242.deadbeef"
        path.write_bytes(b"half a blob")
        then = path.stat().st_mtime - age_s
        os.utime(path, (then, then))
        return path

    stale = leftover("stale", STALE_AFTER_S + 3600)  # its writer was killed a day ago
    live = leftover("live", 60)  # a writer still at it: written to a minute ago
    nested = store / f"{TEMP_PREFIX}top"  # anywhere in the datastore
    nested.write_bytes(b"x")
    os.utime(nested, (0, 0))

    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0
    assert stale.exists(), "swept twice in a day"  # once a day per datastore

    a_day_ago = marker.stat().st_mtime - STALE_AFTER_S - 60
    os.utime(marker, (a_day_ago, a_day_ago))
    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0
    assert not stale.exists() and not nested.exists()
    assert live.exists()  # a live writer's file is never taken from under it
    assert latest(tmp_path).successful


def test_a_metadata_file_deleted_between_runs_is_one_clear_error_naming_it(tmp_path):
    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0
    path = datastore(tmp_path) / "meta.sqlite"
    path.unlink()

    client(tmp_path)
    with pytest.raises(MetadataError) as err:
        Flow("GateFlow")
    assert f"the metadata database {path} is missing" in str(err.value)
    assert "restore it from a backup" in str(err.value)

    proc = hw(FLOW, "run", cwd=tmp_path)  # no new history silently started over the lost one
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"the metadata database {path} is missing" in proc.stderr
    assert "Traceback" not in proc.stderr and not path.exists()

    shutil.rmtree(datastore(tmp_path) / "run-locks")  # the fix, for a fresh start on purpose
    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0
