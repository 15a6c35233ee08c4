"""The SQLite metadata store: schema, run ids under concurrency, recording, queries, liveness.

Every test below that only goes through ``meta`` / ``db_path`` (a path or URL for
``open_metadata``) / ``integrity_error`` is backend-independent: test_meta_postgres.py imports
them and runs them again against a real PostgreSQL server by overriding those fixtures.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater.exceptions import HeadwaterException, NotFoundError
from headwater.meta import open_metadata
from headwater.meta import sqlite_sql as sql
from headwater.meta.liveness import HEARTBEAT_TIMEOUT, pid_alive, this_host
from headwater.meta.sqlite import SQLiteMetadata
from headwater.records import (
    CAUGHT_CRASH_FACT,
    CAUGHT_RAISE_FACT,
    ArtifactRef,
    Frame,
    TaskFailure,
    TaskResult,
    replace,
)

REF_A = ArtifactRef("a" * 32, 10, "builtins.int")
REF_B = ArtifactRef("b" * 32, 20, "builtins.list")


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "root" / "meta.sqlite")


@pytest.fixture
def meta(db_path: str):
    store = open_metadata(db_path)
    yield store
    store.close()


@pytest.fixture
def integrity_error() -> type[Exception]:
    """What a duplicate key raises: the driver's own IntegrityError."""
    return sqlite3.IntegrityError


def _ctx() -> mp.context.BaseContext:
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def new_run(
    meta, flow: str = "PetsFlow", *, user: str = "alice", tags=(), pid=None, host=None, params=None
) -> str:
    return meta.new_run(
        flow,
        user=user,
        tags=list(tags),
        system_tags=["runtime:local"],
        params=params or {},
        origin_run_id=None,
        pid=os.getpid() if pid is None else pid,
        host=host or this_host(),
    )


def finish_task(
    meta, run_id, step, task_id, manifest=None, *, ok=True, attempt=0, final=True, flow="PetsFlow"
):
    failure = None if ok else TaskFailure("ValueError", "bad", "Traceback ...")
    result = TaskResult(
        manifest=manifest or {}, failure=failure, started_at=time.time(), finished_at=time.time()
    )
    meta.attempt_finished(
        flow,
        run_id,
        step,
        task_id,
        attempt,
        result,
        stdout_key=f"out{attempt}",
        stderr_key=None,
        final=final,
    )


# -- schema ------------------------------------------------------------------------------------


def test_schema_is_created_in_wal_mode_and_versioned(meta, db_path):
    assert meta.list_flows() == []  # first use creates the file and its schema
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sql.SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"flows", "runs", "run_tags", "tasks", "attempts", "artifacts"} <= tables
    conn.close()
    again = open_metadata(db_path)  # reopening an existing database changes nothing
    assert again.list_flows() == []
    again.close()


def test_readonly_store_on_missing_file_reads_empty_and_creates_nothing(tmp_path):
    path = tmp_path / "nothing" / "meta.sqlite"
    reader = open_metadata(str(path), readonly=True)
    assert reader.list_flows() == []
    assert reader.list_runs("PetsFlow") == []
    assert reader.get_run("PetsFlow", "1") is None
    assert not path.exists() and not path.parent.exists()
    writer = open_metadata(str(path))
    new_run(writer)
    assert reader.list_flows() == ["PetsFlow"]  # picks the file up once it exists
    reader.close()
    writer.close()


def test_readonly_store_refuses_to_write(meta, db_path):
    new_run(meta)
    reader = open_metadata(db_path, readonly=True)
    with pytest.raises(HeadwaterException, match="read-only"):
        reader.heartbeat("PetsFlow", "1", time.time())
    reader.close()


def test_newer_schema_is_refused(meta, db_path):
    meta.list_flows()
    # Closed first: SQLite keeps a closed connection's descriptor while another connection of
    # the process holds the file (closing it would drop that one's POSIX locks).
    meta.close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {sql.SCHEMA_VERSION + 1}")
    conn.close()
    held = _descriptors_of(db_path)
    for readonly in (True, False):
        with open_metadata(db_path, readonly=readonly) as refusing:
            with pytest.raises(HeadwaterException, match="newer") as refused:
                refusing.list_flows()
            # The refused connection is closed at once, not left to the garbage collector
            # (the traceback, still alive here, holds the frame that opened it).
            assert refused.traceback
            assert _descriptors_of(db_path) == held, f"readonly={readonly}"


def _descriptors_of(path) -> int:
    """How many of this process's file descriptors are open on ``path``."""
    target, count = os.path.realpath(path), 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == target
        except OSError:
            pass
    return count


V1_RUN = """INSERT INTO runs (flow, run_id, run_number, username, status, created_at, params)
    VALUES ('OldFlow', '1', 1, 'alice', 'succeeded', 1.0, '{}')"""


@pytest.mark.parametrize("readonly", [True, False])
def test_a_database_of_the_first_schema_is_upgraded_on_open(tmp_path, readonly):
    """A project's database from an earlier headwater (schema 1, no ``runs.code``) still reads,
    for the client (read-only) and for a new run alike."""
    path = str(tmp_path / "meta.sqlite")
    conn = sqlite3.connect(path)
    for statement in sql.MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO flows (name, created_at, last_run_number) VALUES ('OldFlow', 1, 1)")
    conn.execute(V1_RUN)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = open_metadata(path, readonly=readonly)
    old = store.get_run("OldFlow", "1")
    assert old is not None and old.status == "succeeded" and old.code_json is None
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sql.SCHEMA_VERSION
    conn.close()


V5_TASK = """INSERT INTO tasks (flow, run_id, step, task_id, status, created_at, finished_at,
    frames, parents, attempts) VALUES ('OldFlow', '1', 'start', '1', 'succeeded', 1.0, 2.0,
    '[]', '[]', 2)"""
V5_ATTEMPTS = """INSERT INTO attempts (flow, run_id, step, task_id, attempt, status, started_at,
    finished_at, failure, stdout_key, stderr_key) VALUES
    ('OldFlow', '1', 'start', '1', 0, 'failed', 1.0, 1.5, NULL, NULL, NULL),
    ('OldFlow', '1', 'start', '1', 1, 'succeeded', 1.5, 2.0, NULL, NULL, NULL)"""


@pytest.mark.parametrize("readonly", [True, False])
def test_a_database_of_schema_5_reads_its_attempts_after_the_upgrade(tmp_path, readonly):
    """Attempts recorded before attempts kept their own artifacts read as having stored none:
    an earlier attempt of an old run shows nothing of the task's final artifacts."""
    path = str(tmp_path / "meta.sqlite")
    conn = sqlite3.connect(path)
    for migration in sql.MIGRATIONS[:5]:
        for statement in migration:
            conn.execute(statement)
    conn.execute("INSERT INTO flows (name, created_at, last_run_number) VALUES ('OldFlow', 1, 1)")
    for statement in (V1_RUN, V5_TASK, V5_ATTEMPTS):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    store = open_metadata(path, readonly=readonly)
    first, second = store.list_attempts("OldFlow", "1", "start", "1")
    assert (first.status, first.own_artifacts, second.own_artifacts) == ("failed", {}, {})
    store.close()


def test_open_metadata_urls(tmp_path):
    path = tmp_path / "m.sqlite"
    store = open_metadata(f"sqlite://{path}")
    assert isinstance(store, SQLiteMetadata) and store.path == str(path)
    with pytest.raises(ValueError, match="postgresql://"):
        open_metadata("mysql://db/headwater")


# -- run ids -----------------------------------------------------------------------------------


def test_a_run_records_its_code_package(meta):
    code = {"key": "ab" * 16, "path": "flow.py", "module": "__main__", "class": "PetsFlow"}
    run_id = meta.new_run("PetsFlow", user="alice", tags=[], system_tags=[], params={},
                          origin_run_id=None, pid=os.getpid(), host=this_host(), code=code)
    assert json.loads(meta.get_run("PetsFlow", run_id).code_json) == code
    assert meta.get_run("PetsFlow", new_run(meta)).code_json is None  # local runs have none
    assert [r.code_json is None for r in meta.list_runs("PetsFlow")] == [True, False]


def test_inline_artifact_bytes_are_kept_in_rows_and_manifests(meta):
    """A small artifact's bytes live in its metadata row (artifacts) and in the run's parameter
    manifest (runs.params), and come back as bytes from either."""
    small = ArtifactRef("ab" * 16, 9, "builtins.int", "pickle5", inline=b"HW\x01\x00\x80\x05K\x07.")
    run_id = new_run(meta, params={"alpha": small})
    assert meta.get_run("PetsFlow", run_id).params == {"alpha": small}
    meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    meta.attempt_started("PetsFlow", run_id, "start", "1", 0, time.time())
    finish_task(meta, run_id, "start", "1", {"small": small, "big": REF_A})
    got = meta.get_artifacts("PetsFlow", run_id, "start", "1")
    assert got == {"small": small, "big": REF_A}
    assert isinstance(got["small"].inline, bytes) and got["big"].inline is None
    assert meta.get_step_artifacts("PetsFlow", run_id, "start") == {"1": got}


def test_run_ids_count_up_per_flow(meta):
    assert [new_run(meta) for _ in range(3)] == ["1", "2", "3"]
    assert new_run(meta, "OtherFlow") == "1"
    assert new_run(meta) == "4"


def _allocate_runs(path: str, count: int, barrier, out) -> None:
    store = open_metadata(path)
    barrier.wait()
    ids = [new_run(store, "RaceFlow", user=f"u{os.getpid()}") for _ in range(count)]
    out.put(ids)
    store.close()


def test_eight_processes_allocate_distinct_run_ids(db_path):
    # The database does not exist yet: schema creation races too.
    ctx, procs, per_process = _ctx(), 8, 15
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=_allocate_runs, args=(db_path, per_process, barrier, out))
        for _ in range(procs)
    ]
    for w in workers:
        w.start()
    ids = [run_id for _ in workers for run_id in out.get(timeout=120)]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert sorted(ids, key=int) == [str(i) for i in range(1, procs * per_process + 1)]
    reader = open_metadata(db_path, readonly=True)
    assert len(reader.list_runs("RaceFlow")) == procs * per_process
    reader.close()


# -- recording ---------------------------------------------------------------------------------


def test_new_run_records_everything(meta):
    run_id = meta.new_run(
        "PetsFlow",
        user="alice",
        tags=["exp", "exp"],
        system_tags=["runtime:local"],
        params={"alpha": REF_A},
        origin_run_id="7",
        pid=123,
        host="box",
    )
    row = meta.get_run("PetsFlow", run_id)
    assert (row.flow, row.run_id, row.run_number, row.user) == ("PetsFlow", "1", 1, "alice")
    assert (row.status, row.finished_at, row.pid, row.host) == ("running", None, 123, "box")
    assert row.origin_run_id == "7"
    assert row.params == {"alpha": REF_A}
    assert row.tags == ("exp",)
    assert row.system_tags == ("runtime:local", "user:alice")  # user tag always added
    assert row.heartbeat_at == row.created_at
    assert row.pathspec == "PetsFlow/1"


def test_attempts_retries_and_final_artifacts(meta):
    run_id = new_run(meta)
    frames = [Frame("start", "1", 1, 3, is_foreach=True)]
    meta.new_task("PetsFlow", run_id, "work", "5", frames=frames, parents=["start/1"])
    meta.attempt_started("PetsFlow", run_id, "work", "5", 0, 100.0)
    finish_task(meta, run_id, "work", "5", {"x": REF_A}, ok=False, attempt=0, final=False)
    task = meta.get_task("PetsFlow", run_id, "work", "5")
    assert (task.status, task.attempts) == ("running", 1)
    assert meta.get_artifacts("PetsFlow", run_id, "work", "5") == {}  # not final: not recorded
    meta.attempt_started("PetsFlow", run_id, "work", "5", 1, 200.0)
    finish_task(meta, run_id, "work", "5", {"x": REF_A, "y": REF_B}, attempt=1)
    task = meta.get_task("PetsFlow", run_id, "work", "5")
    assert (task.status, task.attempts) == ("succeeded", 2)
    assert task.frames == tuple(frames) and task.parents == ("start/1",)
    assert task.foreach_index == 1 and task.finished_at is not None
    assert meta.get_artifacts("PetsFlow", run_id, "work", "5") == {"x": REF_A, "y": REF_B}
    first, second = meta.list_attempts("PetsFlow", run_id, "work", "5")
    assert (first.attempt, first.status, first.started_at) == (0, "failed", 100.0)
    assert first.failure == TaskFailure("ValueError", "bad", "Traceback ...")
    assert (first.stdout_key, first.stderr_key) == ("out0", None)
    assert (second.attempt, second.status, second.failure) == (1, "succeeded", None)


def test_an_attempt_a_retry_follows_keeps_its_own_manifest(meta):
    """A failed attempt's manifest stays on its attempt row (the client's Task(..., attempt=N)),
    not in the task's artifacts; gc counts its blobs; restarting the attempt forgets it."""
    run_id = new_run(meta)
    meta.task_started("PetsFlow", run_id, "work", "5", frames=[], parents=[], started_at=1.0)
    inline = ArtifactRef("c" * 32, 3, "builtins.int", inline=b"abc")
    finish_task(meta, run_id, "work", "5", {"x": REF_A, "small": inline}, ok=False, final=False)
    meta.attempt_started("PetsFlow", run_id, "work", "5", 1, 2.0)
    finish_task(meta, run_id, "work", "5", {"x": REF_B}, attempt=1)
    first, second = meta.list_attempts("PetsFlow", run_id, "work", "5")
    assert first.own_artifacts == {"x": REF_A, "small": inline}
    assert second.artifacts_json is None and second.own_artifacts == {}
    assert meta.get_artifacts("PetsFlow", run_id, "work", "5") == {"x": REF_B}
    assert meta.list_step_attempts("PetsFlow", run_id, "work")["5"][0] == first
    assert {REF_A.key, REF_B.key} <= meta.referenced_blob_keys()
    assert "c" * 32 not in meta.referenced_blob_keys()  # inline: no blob of its own
    meta.attempt_started("PetsFlow", run_id, "work", "5", 0, 3.0)  # the same attempt again
    assert meta.list_attempts("PetsFlow", run_id, "work", "5")[0].own_artifacts == {}


def test_gc_frees_an_earlier_attempts_transient_artifacts_once_the_run_succeeded(meta):
    """@transient holds for an attempt's own manifest as for the task's: freed once the run
    succeeded, kept while it may be resumed."""
    run_id = meta.new_run("PetsFlow", user="alice", tags=[], system_tags=["transient:scratch"],
                          params={}, origin_run_id=None, pid=os.getpid(), host=this_host())
    meta.task_started("PetsFlow", run_id, "work", "5", frames=[], parents=[], started_at=1.0)
    finish_task(meta, run_id, "work", "5", {"scratch": REF_A, "kept": REF_B}, ok=False,
                final=False)
    meta.attempt_started("PetsFlow", run_id, "work", "5", 1, 2.0)
    finish_task(meta, run_id, "work", "5", {}, attempt=1)
    assert {REF_A.key, REF_B.key} <= meta.referenced_blob_keys()  # the run may be resumed
    meta.run_finished("PetsFlow", run_id, "succeeded", 3.0)
    keys = meta.referenced_blob_keys()
    assert REF_B.key in keys and REF_A.key not in keys


def test_a_failed_attempt_that_stored_nothing_records_no_manifest(meta):
    run_id = new_run(meta)
    meta.task_started("PetsFlow", run_id, "work", "5", frames=[], parents=[], started_at=1.0)
    finish_task(meta, run_id, "work", "5", {}, ok=False, final=False)
    (first,) = meta.list_attempts("PetsFlow", run_id, "work", "5")
    assert first.artifacts_json is None and first.own_artifacts == {}


def test_task_started_writes_what_new_task_and_attempt_started_write(meta, integrity_error):
    run_id = new_run(meta)
    frames = [Frame("start", "1", 0, 2, is_foreach=True)]
    meta.new_task("PetsFlow", run_id, "work", "2", frames=frames, parents=["start/1"])
    meta.attempt_started("PetsFlow", run_id, "work", "2", 0, 100.0)
    meta.task_started("PetsFlow", run_id, "work", "3", frames=frames, parents=["start/1"],
                      started_at=100.0)
    two, three = (meta.get_task("PetsFlow", run_id, "work", t) for t in ("2", "3"))
    assert (three.status, three.attempts, three.frames, three.parents, three.origin_pathspec,
            three.finished_at, three.transition) == (
        two.status, two.attempts, two.frames, two.parents, two.origin_pathspec,
        two.finished_at, two.transition) == ("running", 1, tuple(frames), ("start/1",), None,
                                             None, None)
    [attempt] = meta.list_attempts("PetsFlow", run_id, "work", "3")
    assert (attempt.attempt, attempt.status, attempt.started_at) == (0, "running", 100.0)
    assert meta.list_attempts("PetsFlow", run_id, "work", "2") == [
        replace(attempt, task_id="2")]
    finish_task(meta, run_id, "work", "3", {"x": REF_A}, attempt=0)
    three = meta.get_task("PetsFlow", run_id, "work", "3")
    assert (three.status, three.attempts) == ("succeeded", 1)
    for final in (True, False):  # an unknown task is named, final or not
        with pytest.raises(NotFoundError, match=f"PetsFlow/{run_id}/work/9"):
            finish_task(meta, run_id, "work", "9", attempt=0, final=final)
    assert meta.list_attempts("PetsFlow", run_id, "work", "9") == []
    with pytest.raises(integrity_error):  # registered once only, as with new_task
        meta.task_started("PetsFlow", run_id, "work", "3", frames=[], parents=[],
                          started_at=1.0)


def test_final_failure_sets_task_failed(meta):
    run_id = new_run(meta)
    meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    meta.attempt_started("PetsFlow", run_id, "start", "1", 0, time.time())
    finish_task(meta, run_id, "start", "1", ok=False)
    assert meta.get_task("PetsFlow", run_id, "start", "1").status == "failed"


def test_clone_task_points_at_origin_blobs(meta):
    run_id = new_run(meta)
    meta.clone_task(
        "PetsFlow",
        run_id,
        "start",
        "9",
        origin_pathspec="PetsFlow/1/start/1",
        frames=[],
        parents=[],
        manifest={"x": REF_A},
        stdout_key="o",
        stderr_key="e",
    )
    task = meta.get_task("PetsFlow", run_id, "start", "9")
    assert (task.status, task.origin_pathspec, task.attempts) == (
        "succeeded",
        "PetsFlow/1/start/1",
        1,
    )
    assert meta.get_artifacts("PetsFlow", run_id, "start", "9") == {"x": REF_A}
    (attempt,) = meta.list_attempts("PetsFlow", run_id, "start", "9")
    assert (attempt.status, attempt.stdout_key, attempt.stderr_key) == ("succeeded", "o", "e")


def test_a_cached_task_is_found_by_flow_step_and_key(meta):
    def task(run_id, step, task_id, key, ok=True):
        meta.new_task("PetsFlow", run_id, step, task_id, frames=[], parents=[])
        finish_task(meta, run_id, step, task_id, {"x": REF_A}, ok=ok)
        meta.set_cache_key("PetsFlow", run_id, step, task_id, key)

    first, second = new_run(meta), new_run(meta)
    task(first, "train", "2", "k1")
    task(first, "train", "3", "k2", ok=False)  # a failed task is never reused
    assert meta.find_cached_task("PetsFlow", "train", "k1").pathspec == f"PetsFlow/{first}/train/2"
    task(second, "train", "2", "k1")
    assert meta.find_cached_task("PetsFlow", "train", "k1").pathspec == f"PetsFlow/{second}/train/2"
    assert meta.find_cached_task("PetsFlow", "train", "k2") is None
    assert meta.find_cached_task("PetsFlow", "score", "k1") is None
    assert meta.find_cached_task("OtherFlow", "train", "k1") is None
    with pytest.raises(NotFoundError):
        meta.set_cache_key("PetsFlow", second, "train", "99", "k3")


def test_the_cache_lookup_uses_its_index(meta, db_path):
    new_run(meta)  # the file exists from the first write on
    conn = sqlite3.connect(db_path)
    plan = conn.execute("EXPLAIN QUERY PLAN " + sql.FIND_CACHED_TASK, ("F", "s", "k")).fetchall()
    conn.close()
    assert "tasks_by_cache_key" in " ".join(str(row) for row in plan)


def test_writes_to_unknown_objects_are_errors(meta, integrity_error):
    run_id = new_run(meta)
    with pytest.raises(NotFoundError, match="PetsFlow/1/start/1"):
        meta.attempt_started("PetsFlow", run_id, "start", "1", 0, time.time())
    with pytest.raises(NotFoundError, match="PetsFlow/99"):
        meta.heartbeat("PetsFlow", "99", time.time())
    with pytest.raises(ValueError, match="succeeded"):
        meta.run_finished("PetsFlow", run_id, "done", time.time())
    meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    with pytest.raises(integrity_error):
        meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])


def test_transaction_commits_once_and_rolls_back_on_error(meta, db_path):
    with meta.transaction():
        run_id = new_run(meta)
        meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    assert meta.list_steps("PetsFlow", run_id) == ["start"]
    with pytest.raises(RuntimeError), meta.transaction():
        new_run(meta)
        raise RuntimeError("scheduler crashed mid-batch")
    assert [r.run_id for r in meta.list_runs("PetsFlow")] == ["1"]
    assert new_run(meta) == "2"  # the rolled-back id is allocated again


def test_tags_add_remove_and_validation(meta):
    run_id = new_run(meta, tags=["a"])
    meta.add_tags("PetsFlow", run_id, ["b", "c"])
    meta.remove_tags("PetsFlow", run_id, ["a", "runtime:local", "absent"])
    row = meta.get_run("PetsFlow", run_id)
    assert row.tags == ("b", "c")
    assert "runtime:local" in row.system_tags  # system tags are never removed
    for bad in ["", "x" * 513, "tab\there"]:
        with pytest.raises(ValueError):
            meta.add_tags("PetsFlow", run_id, [bad])
    with pytest.raises(TypeError):
        meta.add_tags("PetsFlow", run_id, "abc")
    with pytest.raises(NotFoundError):
        meta.add_tags("PetsFlow", "77", ["x"])


# -- readers -----------------------------------------------------------------------------------


def test_list_runs_filters_and_orders(meta):
    for i in range(6):
        new_run(meta, user="alice" if i % 2 else "bob", tags=["even"] if i % 2 == 0 else [])
    meta.run_finished("PetsFlow", "2", "succeeded", time.time())
    meta.run_finished("PetsFlow", "4", "succeeded", time.time())
    meta.run_finished("PetsFlow", "6", "failed", time.time())
    assert [r.run_id for r in meta.list_runs("PetsFlow")] == ["6", "5", "4", "3", "2", "1"]
    assert [r.run_id for r in meta.list_runs("PetsFlow", limit=2)] == ["6", "5"]
    assert [r.run_id for r in meta.list_runs("PetsFlow", tags=["user:alice"])] == ["6", "4", "2"]
    assert [r.run_id for r in meta.list_runs("PetsFlow", tags=["user:bob", "even"])] == [
        "5",
        "3",
        "1",
    ]
    assert [r.run_id for r in meta.list_runs("PetsFlow", user="alice")] == ["6", "4", "2"]
    assert meta.list_runs("PetsFlow", tags=["nope"]) == []
    assert meta.latest_successful_run("PetsFlow").run_id == "4"
    assert meta.latest_successful_run("PetsFlow", tags=["user:bob"]) is None
    assert meta.list_runs("NoSuchFlow") == []


def test_list_flows_and_namespace_filter(meta):
    new_run(meta, "B", user="alice")
    new_run(meta, "A", user="bob", tags=["x"])
    new_run(meta, "C", user="bob")
    assert meta.list_flows() == ["A", "B", "C"]
    assert meta.list_flows(tags=["user:bob"]) == ["A", "C"]
    assert meta.list_flows(tags=["user:bob", "x"]) == ["A"]
    assert meta.list_flows(tags=["user:alice", "x"]) == []
    assert meta.get_flow("A").name == "A" and meta.get_flow("Z") is None


def test_steps_tasks_and_step_wide_details(meta):
    run_id = new_run(meta)
    meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    finish_task(meta, run_id, "start", "1", {"x": REF_A})
    for i, task_id in enumerate(["2", "3"]):
        meta.new_task(
            "PetsFlow",
            run_id,
            "work",
            task_id,
            frames=[Frame("start", "1", i, 2, is_foreach=True)],
            parents=["start/1"],
        )
    meta.new_task("PetsFlow", run_id, "end", "4", frames=[], parents=["work/2", "work/3"])
    finish_task(meta, run_id, "work", "2", {"y": REF_B})
    assert meta.list_steps("PetsFlow", run_id) == ["start", "work", "end"]
    work = meta.get_step("PetsFlow", run_id, "work")
    assert (work.num_tasks, work.finished_at) == (2, None)  # task 3 still running
    finish_task(meta, run_id, "work", "3", {"y": REF_A})
    assert meta.get_step("PetsFlow", run_id, "work").finished_at is not None
    assert meta.get_step("PetsFlow", run_id, "nope") is None
    assert [t.task_id for t in meta.list_tasks("PetsFlow", run_id)] == ["1", "2", "3", "4"]
    assert [t.task_id for t in meta.list_tasks("PetsFlow", run_id, "work")] == ["2", "3"]
    assert [t.task_id for t in meta.list_tasks("PetsFlow", run_id, "work", limit=1)] == ["2"]
    assert meta.get_step_artifacts("PetsFlow", run_id, "work") == {
        "2": {"y": REF_B},
        "3": {"y": REF_A},
    }
    attempts = meta.list_step_attempts("PetsFlow", run_id, "work")
    assert sorted(attempts) == ["2", "3"] and attempts["2"][0].stdout_key == "out0"
    assert [s.step for s in meta.list_step_rows("PetsFlow", run_id)] == ["start", "work", "end"]



def test_a_run_read_in_pages_and_some_tasks_details_answer_as_the_whole(meta):
    """iter_tasks gives every task of a run once, whatever the page size; the details of some
    tasks of a step are those of the whole step's, for those tasks (resume reads them so)."""
    run_id = new_run(meta)
    other = new_run(meta)  # another run's rows are never part of the answer
    meta.new_task("PetsFlow", other, "work", "1", frames=[], parents=[])
    meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    finish_task(meta, run_id, "start", "1", {"x": REF_A})
    ids = [str(n) for n in range(2, 102)]  # "10" sorts before "9" as text: pages use the key
    for i, task_id in enumerate(ids):
        meta.new_task("PetsFlow", run_id, "work", task_id,
                      frames=[Frame("start", "1", i, len(ids), is_foreach=True)],
                      parents=["start/1"])
        own = ArtifactRef(task_id.rjust(32, "0"), 1, "builtins.int", inline=task_id.encode())
        finish_task(meta, run_id, "work", task_id, {"items": REF_B, "out": own}, ok=i % 7 > 0)
    listed = meta.list_tasks("PetsFlow", run_id)
    # a listing (rows decoded together) gives what reading each task alone gives
    assert listed == [meta.get_task("PetsFlow", run_id, t.step, t.task_id) for t in listed]
    assert [t.frames[0].index for t in listed[1:]] == list(range(len(ids)))
    whole = {(t.step, t.task_id): t for t in listed}
    for page in (1, 3, 64, 1000):
        paged = list(meta.iter_tasks("PetsFlow", run_id, page=page))
        assert len(paged) == len(whole) == 101
        assert {(t.step, t.task_id): t for t in paged} == whole
    manifests = meta.get_step_artifacts("PetsFlow", run_id, "work")
    attempts = meta.list_step_attempts("PetsFlow", run_id, "work")
    for some in (["2"], ["9", "10", "11", "nope"], ids[5:70], ids, ids + ids):
        found = meta.get_tasks_artifacts("PetsFlow", run_id, "work", some)
        assert found == {t: manifests[t] for t in some if t in manifests}
        assert list(found.get("9", {})) == list(manifests["9"]) if "9" in some else True
        assert meta.list_tasks_attempts("PetsFlow", run_id, "work", some) == {
            t: list(attempts[t]) for t in some if t in attempts}
    assert meta.get_tasks_artifacts("PetsFlow", run_id, "work", []) == {}
    assert meta.list_tasks_attempts("PetsFlow", run_id, "nope", ids) == {}
    shared = meta.get_tasks_artifacts("PetsFlow", run_id, "work", ids)
    assert len({id(m["items"]) for m in shared.values()}) == 1


def test_step_artifacts_hold_a_shared_reference_once(meta):
    """A step's manifests name one object per distinct reference, whatever the task count."""
    run_id = new_run(meta)
    for task_id in ("2", "3", "4"):
        meta.new_task("PetsFlow", run_id, "work", task_id, frames=[], parents=[])
        own = ArtifactRef(task_id * 32, 1, "builtins.int", inline=task_id.encode())
        finish_task(meta, run_id, "work", task_id, {"items": REF_B, "out": own})
    manifests = meta.get_step_artifacts("PetsFlow", run_id, "work")
    assert len({id(m["items"]) for m in manifests.values()}) == 1
    assert len({id(m["out"]) for m in manifests.values()}) == 3
    assert manifests["3"] == {"items": REF_B,
                              "out": ArtifactRef("3" * 32, 1, "builtins.int", inline=b"3")}

def _thousand_runs(meta) -> None:
    with meta.transaction():
        for i in range(1000):
            new_run(meta, tags=[f"t{i % 3}"], params={"alpha": REF_A})


def test_listing_a_thousand_runs_is_one_cheap_query(meta):
    _thousand_runs(meta)
    rows = meta.list_runs("PetsFlow", tags=["user:alice"])
    assert len(rows) == 1000 and rows[0].run_id == "1000" and rows[-1].tags == ("t0",)


def test_listing_runs_takes_a_fixed_number_of_statements(meta):
    # SQLite only (it can trace statements): the shape, not a timing. The runs, their tags and
    # parameters come from a fixed number of statements, never one per run.
    _thousand_runs(meta)
    statements: list[str] = []
    meta._db.connection().set_trace_callback(statements.append)
    rows = meta.list_runs("PetsFlow", tags=["user:alice"])
    meta._db.connection().set_trace_callback(None)
    assert len(rows) == 1000
    assert 0 < len(statements) <= 5, statements


def test_store_pickles_and_survives_fork(meta, db_path):
    run_id = new_run(meta)
    with pickle.loads(pickle.dumps(meta)) as clone:  # a store of its own, closed like any
        assert clone.get_run("PetsFlow", run_id).run_id == run_id
    if not hasattr(os, "fork"):
        return
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=lambda: out.put(new_run(meta)))  # uses the inherited object
    child.start()
    assert out.get(timeout=60) == "2"
    child.join(timeout=60)
    assert child.exitcode == 0
    assert meta.get_run("PetsFlow", "2") is not None  # parent's connection still fine


# -- liveness ----------------------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_running_run_of_a_dead_local_scheduler_reads_failed(meta):
    pid = _dead_pid()
    assert not pid_alive(pid)
    run_id = new_run(meta, pid=pid)
    row = meta.get_run("PetsFlow", run_id)
    assert row.status == "running"  # recorded
    assert row.crashed and row.live_status == "failed"  # believed


def test_live_scheduler_reads_running_and_finished_runs_are_untouched(meta):
    alive = new_run(meta)  # this test process is the "scheduler"
    assert meta.get_run("PetsFlow", alive).live_status == "running"
    done = new_run(meta, pid=_dead_pid())
    meta.run_finished("PetsFlow", done, "succeeded", time.time())
    assert meta.get_run("PetsFlow", done).live_status == "succeeded"


def test_stale_heartbeat_reads_failed_on_any_host(meta):
    remote = new_run(meta, pid=1, host="some-other-host")
    assert meta.get_run("PetsFlow", remote).live_status == "running"
    meta.heartbeat("PetsFlow", remote, time.time() - HEARTBEAT_TIMEOUT - 1)
    assert meta.get_run("PetsFlow", remote).live_status == "failed"
    meta.heartbeat("PetsFlow", remote, time.time())
    assert meta.get_run("PetsFlow", remote).live_status == "running"


def test_zombie_counts_as_dead():
    if not hasattr(os, "fork"):
        pytest.skip("no zombies without fork")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    while pid_alive(proc.pid) and time.time() < deadline:
        time.sleep(0.01)  # exited but not reaped: a zombie
    assert not pid_alive(proc.pid)
    proc.wait()


# -- concurrency: readers never see "database is locked" ---------------------------------------


def _write_loop(path: str, flow: str, seconds: float, out) -> None:
    try:
        store = open_metadata(path)
        run_id = new_run(store, flow)
        end, n = time.time() + seconds, 0
        while time.time() < end:
            with store.transaction():
                store.new_task(flow, run_id, "work", str(n), frames=[], parents=[])
                finish_task(store, run_id, "work", str(n), {"x": REF_A}, flow=flow)
                store.heartbeat(flow, run_id, time.time())
            n += 1
        out.put(("ok", n))
    except BaseException as exc:  # report, don't hang the test
        out.put(("error", repr(exc)))


def _read_loop(path: str, seconds: float, out) -> None:
    try:
        store = open_metadata(path, readonly=True)
        end, reads, seen = time.time() + seconds, 0, 0
        while time.time() < end:
            for flow in ("W1", "W2"):
                for row in store.list_runs(flow):
                    seen = max(seen, len(store.list_tasks(flow, row.run_id, "work")))
                    store.get_step_artifacts(flow, row.run_id, "work")
            reads += 1
        out.put(("ok", reads, seen))
    except BaseException as exc:
        out.put(("error", repr(exc)))


def test_readers_and_writers_in_other_processes_never_see_locked(db_path):
    with open_metadata(db_path) as creator:
        creator.list_flows()  # create the file
    ctx, seconds = _ctx(), 1.5
    out = ctx.Queue()
    procs = [ctx.Process(target=_write_loop, args=(db_path, f"W{i}", seconds, out)) for i in (1, 2)]
    procs += [ctx.Process(target=_read_loop, args=(db_path, seconds, out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [r for r in results if r[0] == "error"]
    assert not errors, errors
    writes = [r[1] for r in results if len(r) == 2]
    reads = [r for r in results if len(r) == 3]
    assert len(writes) == 2 and all(n > 0 for n in writes)
    assert len(reads) == 3 and all(r[1] > 0 for r in reads)


def _key(c: str) -> str:
    return c * 32


def test_referenced_blob_keys_name_every_kind_of_blob_a_run_uses(meta):
    """Artifacts, parameters (IncludeFile), code package, logs, foreach items (transition and
    split frames) and cards; inline values have no blob and are left out."""
    params = {"notes": ArtifactRef(_key("1"), 5000, "builtins.str"),
              "alpha": ArtifactRef(_key("2"), 5, "builtins.int", inline=b"small")}
    run_id = meta.new_run("PetsFlow", user="alice", tags=[], system_tags=[], params=params,
                          origin_run_id=None, pid=os.getpid(), host=this_host(),
                          code={"key": _key("3"), "path": "f.py", "module": "f", "class": "F"})
    meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    meta.attempt_started("PetsFlow", run_id, "start", "1", 0, time.time())
    result = TaskResult(manifest={"x": ArtifactRef(_key("4"), 9000, "builtins.list"),
                                  "n": ArtifactRef(_key("5"), 3, "builtins.int", inline=b"abc")},
                        next_steps=("each",), foreach_count=2, foreach_items_key=_key("6"),
                        cards=[{"index": 0, "type": "default", "id": None, "key": _key("7"),
                                "size": 10}])
    meta.attempt_finished("PetsFlow", run_id, "start", "1", 0, result, stdout_key=_key("8"),
                          stderr_key=_key("9"), final=True)
    frame = Frame("start", "1", 0, 2, is_foreach=True, items_key=_key("a"))
    meta.new_task("PetsFlow", run_id, "each", "2", frames=[frame], parents=["start/1"])
    assert meta.referenced_blob_keys() == {_key(c) for c in "1346789a"}


def test_delete_run_removes_every_row_of_that_run_only(meta):
    kept, gone = new_run(meta, tags=["keep"]), new_run(meta, tags=["go"])
    for run_id in (kept, gone):
        meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
        meta.attempt_started("PetsFlow", run_id, "start", "1", 0, time.time())
        finish_task(meta, run_id, "start", "1", {"x": REF_A if run_id == kept else REF_B})
        meta.run_finished("PetsFlow", run_id, "succeeded", time.time())
    meta.delete_run("PetsFlow", gone)
    assert meta.get_run("PetsFlow", gone) is None
    assert [r.run_id for r in meta.list_runs("PetsFlow")] == [kept]
    assert meta.list_tasks("PetsFlow", gone) == [] and meta.list_steps("PetsFlow", gone) == []
    assert meta.get_artifacts("PetsFlow", gone, "start", "1") == {}
    assert meta.list_attempts("PetsFlow", gone, "start", "1") == []
    assert meta.list_flows(tags=["go"]) == [] and meta.list_flows(tags=["keep"]) == ["PetsFlow"]
    assert meta.referenced_blob_keys() == {REF_A.key, "out0"}  # its artifact and its log
    assert meta.run_ids() == {("PetsFlow", kept)}
    with pytest.raises(NotFoundError, match=f"PetsFlow/{gone}"):
        meta.delete_run("PetsFlow", gone)
    assert new_run(meta) == str(int(gone) + 1)  # a deleted run's number is not reused


def test_running_runs_lists_every_flows_running_runs_with_their_liveness(meta):
    live = new_run(meta, "AFlow")
    dead = new_run(meta, "BFlow", pid=2**22 + 12345)  # no such process on this host
    done = new_run(meta, "AFlow")
    meta.run_finished("AFlow", done, "succeeded", time.time())
    rows = {(r.flow, r.run_id): r.live_status for r in meta.running_runs()}
    assert rows == {("AFlow", live): "running", ("BFlow", dead): "failed"}


def test_delete_run_checks_inside_its_transaction_and_a_refusal_keeps_the_run(meta):
    run_id = new_run(meta)
    meta.run_finished("PetsFlow", run_id, "succeeded", time.time())
    seen = []

    def refuse() -> None:
        seen.append(meta.get_run("PetsFlow", run_id) is not None)  # readers go on meanwhile
        raise NotFoundError("refused by the check")

    with pytest.raises(NotFoundError, match="refused by the check"):
        meta.delete_run("PetsFlow", run_id, check=refuse)
    assert seen == [True] and meta.get_run("PetsFlow", run_id) is not None
    meta.delete_run("PetsFlow", run_id, check=lambda: seen.append("ok"))
    assert seen == [True, "ok"] and meta.get_run("PetsFlow", run_id) is None


def test_page_runs_filters_orders_and_pages(meta):
    for i in range(5):
        new_run(meta, "A", user="alice" if i % 2 else "bob", tags=["nightly"] if i == 3 else [])
    new_run(meta, "B", user="carol")
    meta.run_finished("A", "2", "failed", time.time())
    meta.run_finished("A", "1", "succeeded", time.time())
    rows, more = meta.page_runs(flow="A", limit=2)
    assert [r.run_id for r in rows] == ["5", "4"] and more
    rows, more = meta.page_runs(flow="A", limit=2, offset=4)
    assert [r.run_id for r in rows] == ["1"] and not more
    rows, _ = meta.page_runs(limit=10)
    assert [r.pathspec for r in rows][0] == "B/1" and len(rows) == 6  # every flow, newest first
    assert [r.run_id for r in meta.page_runs(flow="A", user="alice")[0]] == ["4", "2"]
    assert [r.run_id for r in meta.page_runs(tags=["nightly"])[0]] == ["4"]
    assert [r.run_id for r in meta.page_runs(flow="A", status="failed")[0]] == ["2"]
    assert [r.run_id for r in meta.page_runs(flow="A", status="succeeded")[0]] == ["1"]
    assert [r.run_id for r in meta.page_runs(flow="A", status="running")[0]] == ["5", "4", "3"]


def test_page_runs_counts_a_crashed_run_as_failed(meta):
    new_run(meta, "A", pid=2**22 + 12345, host=this_host())  # no such process: crashed
    assert [r.run_id for r in meta.page_runs(flow="A", status="failed")[0]] == ["1"]
    assert meta.page_runs(flow="A", status="running")[0] == []



def test_latest_runs_names_each_flows_newest_run_in_one_answer(meta):
    for flow in ("A", "B", "A", "C", "A"):
        new_run(meta, flow, tags=("t",) if flow == "A" else ())
    new_run(meta, "C", pid=2**22 + 12345, host=this_host())  # no such process: crashed
    latest = meta.latest_runs()
    assert {flow: row.run_id for flow, row in latest.items()} == {"A": "3", "B": "1", "C": "2"}
    assert latest["A"].tags == ("t",)
    assert latest["C"].live_status == "failed"  # its liveness checked like any run read


def test_task_pages_changes_and_step_counts(meta):
    run_id = new_run(meta)
    meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    finish_task(meta, run_id, "start", "1")
    for i in range(5):
        meta.new_task("PetsFlow", run_id, "work", str(i + 2),
                      frames=[Frame("start", "1", i, 5, is_foreach=True)], parents=["start/1"])
    finish_task(meta, run_id, "work", "2")
    finish_task(meta, run_id, "work", "3", ok=False)
    page = meta.page_tasks("PetsFlow", run_id, "work", limit=2, offset=3)
    assert [t.task_id for t in page] == ["5", "6"]
    assert [t.task_id for t in meta.page_tasks("PetsFlow", run_id, limit=2)] == ["1", "2"]
    # one status: the page is cut among that status's tasks, of a step or of the run
    running = meta.page_tasks("PetsFlow", run_id, "work", limit=2, offset=1, status="running")
    assert [t.task_id for t in running] == ["5", "6"]
    assert [t.task_id for t in meta.page_tasks("PetsFlow", run_id, status="succeeded")] == \
        ["1", "2"]
    assert [t.task_id for t in meta.page_tasks("PetsFlow", run_id, status="failed")] == ["3"]
    # either of two statuses (a killed run's failed and interrupted tasks), cut in the query
    either = meta.page_tasks("PetsFlow", run_id, "work", limit=2, offset=1,
                             status=("failed", "running"))
    assert [t.task_id for t in either] == ["4", "5"]
    assert [t.task_id for t in meta.page_tasks("PetsFlow", run_id, status=("failed", "running"))
            ] == ["3", "4", "5", "6"]
    counts = {(step, status): (n, ended) for step, status, n, _, _, ended, *_ in
              meta.step_status_counts("PetsFlow", run_id)}
    assert counts == {("start", "succeeded"): (1, 1), ("work", "succeeded"): (1, 1),
                      ("work", "failed"): (1, 1), ("work", "running"): (3, 0)}
    later = time.time() + 3600
    assert sorted(t.task_id for t in meta.task_changes("PetsFlow", run_id, later)) == \
        ["4", "5", "6"]  # only the running ones
    assert len(meta.task_changes("PetsFlow", run_id, 0.0)) == 6
    assert [t.task_id for t in meta.failed_tasks("PetsFlow", run_id)] == ["3"]
    assert meta.failed_tasks("PetsFlow", run_id, limit=0) == []


def _many_tasks_some_caught(meta, width: int = 10_000) -> str:
    """A run of a start and ``width`` foreach tasks, four of them succeeded records whose step
    @catch caught (three raised, one crashed), one more that merely says the words."""
    run_id = new_run(meta)
    caught = {"7": {CAUGHT_RAISE_FACT: "0"}, "4001": {CAUGHT_CRASH_FACT: "1"},
              "9998": {CAUGHT_RAISE_FACT: "2"}, "10001": {CAUGHT_RAISE_FACT: "0"}}
    with meta.transaction():
        meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
        finish_task(meta, run_id, "start", "1")
        for i in range(width):
            task_id = str(i + 2)
            meta.new_task("PetsFlow", run_id, "work", task_id,
                          frames=[Frame("start", "1", i, width, is_foreach=True)],
                          parents=["start/1"])
            facts = caught.get(task_id, {"note": f'"{CAUGHT_RAISE_FACT}": "0"'}
                               if task_id == "500" else {})
            meta.attempt_finished("PetsFlow", run_id, "work", task_id, 0,
                                  TaskResult(metadata=facts, started_at=1.0, finished_at=2.0),
                                  stdout_key=None, stderr_key=None, final=True)
    return run_id


def test_caught_tasks_of_ten_thousand_come_back_alone_and_in_pages(meta):
    """The UI's "Errors @catch caught" list: only the tasks @catch stood in for, in
    registration order, a page at a time, of the run or of a step, without the run's other
    ten thousand (a fact's value holding the same words is not a mark)."""
    run_id = _many_tasks_some_caught(meta)
    every = meta.caught_tasks("PetsFlow", run_id)
    assert [t.task_id for t in every] == ["7", "4001", "9998", "10001"]
    assert all(t.status == "succeeded" for t in every)
    assert [t.task_id for t in meta.caught_tasks("PetsFlow", run_id, limit=2, offset=1)] == \
        ["4001", "9998"]
    assert [t.task_id for t in meta.caught_tasks("PetsFlow", run_id, "work", offset=3)] == \
        ["10001"]
    assert meta.caught_tasks("PetsFlow", run_id, "start") == []
    assert meta.caught_tasks("PetsFlow", run_id, limit=0) == []


def test_caught_tasks_are_one_statement_returning_only_them(meta, db_path):
    # SQLite only (it can trace statements, their parameters filled in): the shape, not a
    # timing. One statement, and run again on a connection of its own it returns the caught
    # rows alone, not the run's ten thousand for Python to sift.
    run_id = _many_tasks_some_caught(meta)
    statements: list[str] = []
    meta._db.connection().set_trace_callback(statements.append)
    rows = meta.caught_tasks("PetsFlow", run_id, limit=10)
    meta._db.connection().set_trace_callback(None)
    assert [t.task_id for t in rows] == ["7", "4001", "9998", "10001"]
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, statements
    with sqlite3.connect(db_path) as conn:
        assert len(conn.execute(selects[0]).fetchall()) == 4


def test_caught_tasks_are_read_through_their_partial_index(meta, db_path):
    # SQLite only (PostgreSQL: test_meta_postgres.py). The planner's own account of both
    # statements: the partial index tasks_caught, which holds the caught rows alone, not a
    # visit of the run's (or step's) rows through tasks_key.
    _many_tasks_some_caught(meta)
    with sqlite3.connect(db_path) as conn:
        for statement, args in ((sql.PAGE_RUN_CAUGHT_TASKS, ("PetsFlow", "1", 10, 0)),
                                (sql.PAGE_STEP_CAUGHT_TASKS, ("PetsFlow", "1", "work", 10, 0))):
            plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + statement,
                                                             args))
            assert "USING INDEX tasks_caught" in plan, plan
        assert conn.execute("SELECT COUNT(*) FROM tasks INDEXED BY tasks_caught WHERE "
                            "flow = 'PetsFlow' AND status = 'succeeded' AND (transition LIKE "
                            "'%\"catch-attempt\":%' OR transition LIKE '%\"catch-fallback\":%')"
                            ).fetchone() == (4,)


def test_the_caught_index_names_the_marks_records_writes():
    """The index's condition is written out (a shipped migration never changes): it must name
    the very keys @catch's facts are recorded under."""
    from headwater.meta import shared_sql

    for fact in (CAUGHT_RAISE_FACT, CAUGHT_CRASH_FACT):
        assert f"""LIKE '%"{fact}":%'""" in shared_sql._CAUGHT
        assert f"""LIKE '%"{fact}":%'""" in sql.MIGRATIONS[6][0]


# Tasks as a headwater of schema 6 recorded them: one @catch stood in for after a raise, one
# after a crash, one that only says the words in a fact's value, one plain, one failed.
V6_TASKS = """INSERT INTO tasks (flow, run_id, step, task_id, status, created_at, finished_at,
    frames, parents, attempts, transition) VALUES
    ('OldFlow', '1', 'work', '2', 'succeeded', 1.0, 2.0, '[]', '[]', 1,
     '{"next_steps": ["join"], "metadata": {"catch-attempt": "0"}}'),
    ('OldFlow', '1', 'work', '3', 'succeeded', 1.0, 2.0, '[]', '[]', 1,
     '{"next_steps": ["join"], "metadata": {"note": "\\"catch-attempt\\": 0"}}'),
    ('OldFlow', '1', 'work', '4', 'succeeded', 1.0, 2.0, '[]', '[]', 1,
     '{"next_steps": ["join"]}'),
    ('OldFlow', '1', 'work', '5', 'succeeded', 1.0, 2.0, '[]', '[]', 2,
     '{"next_steps": ["join"], "metadata": {"catch-fallback": "1"}}'),
    ('OldFlow', '1', 'work', '6', 'failed', 1.0, 2.0, '[]', '[]', 1, NULL)"""


def check_schema_6_upgraded(store) -> None:
    """What a database of schema 6 (``V6_TASKS``) answers once upgraded: its caught tasks
    found (through the new index), every task still there."""
    assert [t.task_id for t in store.caught_tasks("OldFlow", "1")] == ["2", "5"]
    assert [t.task_id for t in store.caught_tasks("OldFlow", "1", "work", offset=1)] == ["5"]
    assert [t.task_id for t in store.page_tasks("OldFlow", "1")] == ["2", "3", "4", "5", "6"]


@pytest.mark.parametrize("readonly", [True, False])
def test_a_database_of_schema_6_is_upgraded_in_place_with_the_caught_index(tmp_path, readonly):
    """A project's database from the headwater before the caught index: opened by the UI
    (read-only) or a new run, it is upgraded where it lies; the index covers the tasks already
    recorded and nothing is lost."""
    path = str(tmp_path / "meta.sqlite")
    conn = sqlite3.connect(path)
    for migration in sql.MIGRATIONS[:6]:
        for statement in migration:
            conn.execute(statement)
    conn.execute("INSERT INTO flows (name, created_at, last_run_number) VALUES ('OldFlow', 1, 1)")
    for statement in (V1_RUN, V6_TASKS):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    store = open_metadata(path, readonly=readonly)
    check_schema_6_upgraded(store)
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sql.SCHEMA_VERSION == 7
    assert conn.execute("SELECT task_id FROM tasks INDEXED BY tasks_caught WHERE status = "
                        "'succeeded' AND (transition LIKE '%\"catch-attempt\":%' OR transition "
                        "LIKE '%\"catch-fallback\":%') ORDER BY seq").fetchall() == [("2",), ("5",)]
    conn.close()


def test_a_lookup_holding_a_nul_finds_nothing_on_every_backend(meta):
    """No name headwater stores holds a NUL (tags refuse it, flows and steps are identifiers),
    so a pathspec or tag filter holding one names nothing. PostgreSQL refuses a NUL in any text
    it is sent: before, ``Run('PetsFlow/1\\x00')`` raised psycopg's DataError there."""
    run_id = new_run(meta, tags=["t1"])
    meta.new_task("PetsFlow", run_id, "start", "1", frames=[], parents=[])
    assert meta.get_flow("PetsFlow\x00") is None
    assert meta.get_run("PetsFlow", run_id + "\x00") is None
    assert meta.get_step("PetsFlow", run_id, "start\x00") is None
    assert meta.get_task("PetsFlow", run_id, "start", "1\x00") is None
    assert meta.list_runs("PetsFlow", tags=["t1\x00"]) == []
    assert meta.list_flows(tags=["t\x00"]) == []
    assert [r.run_id for r in meta.list_runs("PetsFlow", tags=["t1"])] == [run_id]
