"""The PostgreSQL metadata store against a real server: the SQLite suite again, and more.

A PostgreSQL 15 server is started once for the session (``pg_server`` in tests/conftest.py:
initdb + pg_ctl as the ``postgres`` user, loopback only, a throwaway data directory) and every
test gets a fresh database. The
backend-independent tests of test_meta_sqlite.py are imported and run here with the ``meta``,
``db_path`` and ``integrity_error`` fixtures pointing at PostgreSQL, so both backends answer
the same assertions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from test_meta_sqlite import (  # noqa: F401  (collected here, against PostgreSQL)
    V5_ATTEMPTS,
    V5_TASK,
    V6_TASKS,
    _many_tasks_some_caught,
    check_schema_6_upgraded,
    new_run,
    test_a_cached_task_is_found_by_flow_step_and_key,
    test_a_failed_attempt_that_stored_nothing_records_no_manifest,
    test_a_lookup_holding_a_nul_finds_nothing_on_every_backend,
    test_a_run_read_in_pages_and_some_tasks_details_answer_as_the_whole,
    test_a_run_records_its_code_package,
    test_an_attempt_a_retry_follows_keeps_its_own_manifest,
    test_attempts_retries_and_final_artifacts,
    test_caught_tasks_of_ten_thousand_come_back_alone_and_in_pages,
    test_clone_task_points_at_origin_blobs,
    test_delete_run_checks_inside_its_transaction_and_a_refusal_keeps_the_run,
    test_delete_run_removes_every_row_of_that_run_only,
    test_eight_processes_allocate_distinct_run_ids,
    test_final_failure_sets_task_failed,
    test_gc_frees_an_earlier_attempts_transient_artifacts_once_the_run_succeeded,
    test_inline_artifact_bytes_are_kept_in_rows_and_manifests,
    test_list_flows_and_namespace_filter,
    test_list_runs_filters_and_orders,
    test_listing_a_thousand_runs_is_one_cheap_query,
    test_live_scheduler_reads_running_and_finished_runs_are_untouched,
    test_new_run_records_everything,
    test_page_runs_counts_a_crashed_run_as_failed,
    test_page_runs_filters_orders_and_pages,
    test_readers_and_writers_in_other_processes_never_see_locked,
    test_readonly_store_refuses_to_write,
    test_referenced_blob_keys_name_every_kind_of_blob_a_run_uses,
    test_run_ids_count_up_per_flow,
    test_running_run_of_a_dead_local_scheduler_reads_failed,
    test_running_runs_lists_every_flows_running_runs_with_their_liveness,
    test_stale_heartbeat_reads_failed_on_any_host,
    test_steps_tasks_and_step_wide_details,
    test_store_pickles_and_survives_fork,
    test_tags_add_remove_and_validation,
    test_task_pages_changes_and_step_counts,
    test_task_started_writes_what_new_task_and_attempt_started_write,
    test_transaction_commits_once_and_rolls_back_on_error,
    test_writes_to_unknown_objects_are_errors,
)

import servers
from headwater.exceptions import HeadwaterException
from headwater.meta import open_metadata
from headwater.meta import postgres_sql as sql
from headwater.meta.postgres import PostgresMetadata
from servers import free_port

REPO = Path(__file__).resolve().parents[2]
@pytest.fixture
def db_path(pg_server: str):
    """The URL of a fresh, empty database (the name is the SQLite suite's)."""
    url = servers.fresh_database(pg_server, "hw")
    yield url
    servers.drop_database(pg_server, url)


@pytest.fixture
def meta(db_path: str):
    store = open_metadata(db_path)
    yield store
    store.close()


@pytest.fixture
def integrity_error() -> type[Exception]:
    return psycopg.IntegrityError


def _sql(url: str, statement: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


# -- PostgreSQL's own checks -----------------------------------------------------------------


def test_schema_is_created_and_versioned(meta, db_path):
    assert isinstance(meta, PostgresMetadata)
    assert meta.list_flows() == []  # first use creates the schema
    assert _sql(db_path, "SELECT version FROM headwater_schema") == [(sql.SCHEMA_VERSION,)]
    tables = {r[0] for r in _sql(
        db_path, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"flows", "runs", "run_tags", "tasks", "attempts", "artifacts"} <= tables
    again = open_metadata(db_path)  # reopening an existing database changes nothing
    assert again.list_flows() == []
    again.close()
    assert _sql(db_path, "SELECT COUNT(*) FROM headwater_schema") == [(1,)]


def test_readonly_store_on_empty_database_reads_empty_and_creates_nothing(db_path):
    reader = open_metadata(db_path, readonly=True)
    assert reader.list_flows() == []
    assert reader.list_runs("PetsFlow") == []
    assert reader.get_run("PetsFlow", "1") is None
    assert _sql(db_path, "SELECT to_regclass('headwater_schema') IS NULL") == [(True,)]
    writer = open_metadata(db_path)
    new_run(writer)
    assert reader.list_flows() == ["PetsFlow"]  # picks the schema up once it exists
    reader.close()
    writer.close()


def test_newer_schema_is_refused(meta, db_path):
    meta.list_flows()
    _sql(db_path, f"UPDATE headwater_schema SET version = {sql.SCHEMA_VERSION + 1}")
    for readonly in (True, False):
        store = open_metadata(db_path, readonly=readonly)
        with pytest.raises(HeadwaterException, match="newer"):
            store.list_flows()
        store.close()


@pytest.mark.parametrize("readonly", [True, False])
def test_a_database_of_the_first_schema_is_upgraded_on_open(db_path, readonly):
    """Schema 1 (no ``runs.code``), as an earlier headwater left it: readers and writers both
    upgrade it and read its runs."""
    with psycopg.connect(db_path, autocommit=True) as conn:
        conn.execute(sql.CREATE_VERSION_TABLE)
        for statement in sql.MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(sql.INSERT_VERSION, (1,))
        conn.execute("INSERT INTO flows (name, created_at, last_run_number) "
                     "VALUES ('OldFlow', 1, 1)")
        conn.execute("INSERT INTO runs (flow, run_id, run_number, username, status, created_at, "
                     "params) VALUES ('OldFlow', '1', 1, 'alice', 'succeeded', 1.0, '{}')")
    store = open_metadata(db_path, readonly=readonly)
    old = store.get_run("OldFlow", "1")
    assert old is not None and old.status == "succeeded" and old.code_json is None
    store.close()
    assert _sql(db_path, "SELECT version FROM headwater_schema") == [(sql.SCHEMA_VERSION,)]


@pytest.mark.parametrize("readonly", [True, False])
def test_a_database_of_schema_5_reads_its_attempts_after_the_upgrade(db_path, readonly):
    """Attempts an earlier headwater recorded (no ``attempts.artifacts``) read as having
    stored nothing of their own, for readers and writers alike."""
    with psycopg.connect(db_path, autocommit=True) as conn:
        conn.execute(sql.CREATE_VERSION_TABLE)
        for migration in sql.MIGRATIONS[:5]:
            for statement in migration:
                conn.execute(statement)
        conn.execute(sql.INSERT_VERSION, (5,))
        conn.execute("INSERT INTO flows (name, created_at, last_run_number) "
                     "VALUES ('OldFlow', 1, 1)")
        conn.execute("INSERT INTO runs (flow, run_id, run_number, username, status, created_at, "
                     "params) VALUES ('OldFlow', '1', 1, 'alice', 'succeeded', 1.0, '{}')")
        conn.execute(V5_TASK)
        conn.execute(V5_ATTEMPTS)
    store = open_metadata(db_path, readonly=readonly)
    first, second = store.list_attempts("OldFlow", "1", "start", "1")
    assert (first.status, first.own_artifacts, second.own_artifacts) == ("failed", {}, {})
    store.close()
    assert _sql(db_path, "SELECT version FROM headwater_schema") == [(sql.SCHEMA_VERSION,)]


@pytest.mark.parametrize("readonly", [True, False])
def test_a_database_of_schema_6_is_upgraded_in_place_with_the_caught_index(db_path, readonly):
    """The tasks an earlier headwater recorded are in the caught index once a reader or a
    writer has upgraded the database, and nothing is lost."""
    with psycopg.connect(db_path, autocommit=True) as conn:
        conn.execute(sql.CREATE_VERSION_TABLE)
        for migration in sql.MIGRATIONS[:6]:
            for statement in migration:
                conn.execute(statement)
        conn.execute(sql.INSERT_VERSION, (6,))
        conn.execute("INSERT INTO flows (name, created_at, last_run_number) "
                     "VALUES ('OldFlow', 1, 1)")
        conn.execute("INSERT INTO runs (flow, run_id, run_number, username, status, created_at, "
                     "params) VALUES ('OldFlow', '1', 1, 'alice', 'succeeded', 1.0, '{}')")
        conn.execute(V6_TASKS)
    store = open_metadata(db_path, readonly=readonly)
    check_schema_6_upgraded(store)
    store.close()
    assert _sql(db_path, "SELECT version FROM headwater_schema") == [(sql.SCHEMA_VERSION,)]
    assert _sql(db_path, "SELECT indexname FROM pg_indexes WHERE indexname = 'tasks_caught'") \
        == [("tasks_caught",)]


def test_caught_tasks_are_read_through_their_partial_index(meta, db_path):
    """PostgreSQL's planner, given the statements as the store sends them (their patterns
    doubled for psycopg), proves the partial index applies and takes it over the run's rows."""
    run_id = _many_tasks_some_caught(meta)
    with psycopg.connect(db_path, autocommit=True) as conn:
        conn.execute("ANALYZE tasks")
        for statement, args in ((sql.PAGE_RUN_CAUGHT_TASKS, ("PetsFlow", run_id, 10, 0)),
                                (sql.PAGE_STEP_CAUGHT_TASKS, ("PetsFlow", run_id, "work", 10, 0))):
            plan = " ".join(row[0] for row in conn.execute("EXPLAIN " + statement, args))
            assert "tasks_caught" in plan, plan


def test_open_metadata_urls_and_missing_driver(monkeypatch):
    for url in ("postgresql://u@db:5432/hw", "postgres://u:secret@db/hw"):
        store = open_metadata(url, readonly=True)  # opening does not connect
        assert isinstance(store, PostgresMetadata) and store.url == url and store.readonly
    assert "secret" not in repr(store)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "headwater.meta.postgres")
    with pytest.raises(HeadwaterException, match=r"pip install 'headwater\[postgres\]'"):
        open_metadata("postgresql://u@db/hw")


def test_unreachable_server_is_a_clear_error():
    store = open_metadata(f"postgresql://nobody@127.0.0.1:{free_port()}/hw?connect_timeout=5")
    with pytest.raises(HeadwaterException, match="cannot connect to the metadata database"):
        store.list_flows()


def test_linear_flow_end_to_end(db_path, tmp_path, monkeypatch):
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "linear_flow.py"), "--metadata", db_path, "run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / ".headwater" / "meta.sqlite").exists()  # metadata went to PostgreSQL
    from headwater import Flow
    from headwater.client import _context

    monkeypatch.setenv("HEADWATER_METADATA", db_path)
    _context.reset()
    try:
        run = Flow("LinearFlow").latest_run
        assert run.successful
        assert run.data.count == 2 and run.data.my_var == "hello world"
        assert {s.id for s in run} == {"start", "a", "end"}
    finally:
        _context.reset()


# -- no password in any message, repr or description --------------------------------------------

SECRET = "Sekr1t-pw-4c1"


def _with_password(url: str, form: str) -> str:
    """``url`` (postgresql://user@host:port/db) with SECRET in one of libpq's three places."""
    if form == "userinfo":
        return url.replace("postgres@", f"postgres:{SECRET}@", 1)
    return f"{url}?connect_timeout=5&{form}={SECRET}"


@pytest.mark.parametrize("form", ["userinfo", "password", "sslpassword"])
@pytest.mark.parametrize("fault", ["wrong port", "missing database"])
def test_a_connection_error_never_shows_the_password(pg_server, form, fault):
    base = pg_server.rsplit("/", 1)[0]
    if fault == "wrong port":
        base = base.rsplit(":", 1)[0] + f":{free_port()}"
    url = _with_password(f"{base}/no_such_db_{os.getpid()}", form)
    store = open_metadata(url)
    with pytest.raises(HeadwaterException) as info:
        store.list_flows()
    text = str(info.value)
    assert "cannot connect to the metadata database" in text
    assert SECRET not in text and SECRET not in repr(info.value)
    assert SECRET not in repr(store)
    if fault == "missing database":  # the server itself answered
        assert "does not exist" in text


@pytest.mark.parametrize("form", ["userinfo", "password", "sslpassword"])
def test_get_metadata_and_settings_never_show_the_password(db_path, form):
    from headwater.client._context import describe, settings_for

    settings = settings_for(_with_password(db_path, form))
    assert SECRET in settings.metadata_url  # kept for connecting
    assert describe(settings).startswith("postgresql@")
    assert SECRET not in describe(settings)
    assert SECRET not in repr(settings)


def test_the_runner_never_puts_a_metadata_password_on_the_command_line(db_path, tmp_path):
    # Any local user can read a process's argv (/proc/PID/cmdline, ps): the URL travels in the
    # child's environment instead. The server trusts loopback, so the password is only carried.
    from headwater import Runner

    flow = tmp_path / "argv_flow.py"
    flow.write_text(
        "import sys\n"
        "from headwater import FlowSpec, step\n"
        "class ArgvFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        print('ARGV', ' '.join(sys.argv))\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    ArgvFlow()\n"
    )
    url = _with_password(db_path, "userinfo")
    from headwater.client import _context

    try:
        with Runner(str(flow), show_output=False, cwd=str(tmp_path), metadata=url) as runner:
            done = runner.run()
            assert done.status == "successful", done.stderr
            assert "ARGV" in done.stdout
            assert SECRET not in done.stdout and SECRET not in done.stderr
            assert done.run.successful  # recorded in, and read back from, that database
    finally:
        # done.run switched this process's client to that database (as Metaflow's Runner
        # does): closed here, before the fixture drops the database under its session.
        _context.reset()


def test_a_spawned_task_never_gets_the_metadata_password_on_its_command_line(db_path, tmp_path):
    # --executor spawn starts a new interpreter per task; what it must know (the flow, the
    # datastore, the metadata URL with its password) was its last argument, which any local
    # user reads in `ps`. It travels in the task's environment, removed before the step runs.
    flow = tmp_path / "spawn_argv_flow.py"
    flow.write_text(
        "import os\n"
        "from headwater import FlowSpec, step\n"
        "class SpawnArgvFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        with open('/proc/self/cmdline', 'rb') as f:\n"
        "            print('ARGV', f.read().replace(b'\\0', b' ').decode())\n"
        "        print('LAUNCH_ENV', 'HEADWATER_TASK_LAUNCH' in os.environ)\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    SpawnArgvFlow()\n"
    )
    url = _with_password(db_path, "userinfo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "METAFLOW_"))}
    env.update(HEADWATER_METADATA=url, HEADWATER_USER="tester")
    done = subprocess.run([sys.executable, str(flow), "--executor", "spawn", "run"],  # noqa: S603
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    argv = next(line for line in done.stdout.splitlines() + done.stderr.splitlines()
                if "ARGV" in line)
    assert "spawn.task_process" in argv  # the spawned interpreter's own command line
    assert SECRET not in argv and "postgresql" not in argv
    assert "LAUNCH_ENV False" in done.stdout + done.stderr


def test_a_key_value_connection_string_is_refused_without_showing_the_password(tmp_path,
                                                                                monkeypatch):
    # Not accepted (it would become a SQLite file named after it): refused, password hidden.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HeadwaterException) as info:
        open_metadata(f"host=127.0.0.1 user=hw password={SECRET} dbname=hw")
    text = str(info.value)
    assert "is a key=value connection string" in text and "postgresql://" in text
    assert SECRET not in text and "password=***" in text
    assert list(tmp_path.iterdir()) == []


def test_an_exit_hook_process_never_gets_the_metadata_password_on_its_command_line(db_path,
                                                                                  tmp_path):
    # The hook runs in a process of its own after the run: it reads the run from the same
    # database, and its argv (readable by any local user) holds no password.
    flow = tmp_path / "hook_flow.py"
    flow.write_text(
        "import sys\n"
        "from headwater import FlowSpec, exit_hook, step\n"
        "def report(run=None):\n"
        "    print('HOOKARGV', ' '.join(sys.argv), 'RUN', run.pathspec, run.successful)\n"
        "@exit_hook(on_success=[report])\n"
        "class HookFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    HookFlow()\n"
    )
    env = {**os.environ, "HEADWATER_METADATA": _with_password(db_path, "userinfo")}
    done = subprocess.run([sys.executable, str(flow), "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    hook_line = next(line for line in done.stdout.splitlines() if "HOOKARGV" in line)
    assert "RUN HookFlow/1 True" in hook_line
    assert SECRET not in done.stdout + done.stderr


def test_a_password_typed_with_a_raw_at_or_slash_is_never_shown(pg_server):
    # libpq cuts such a password at the '@' or '/' and reads the rest as the host name; its
    # error would quote that piece. The user is told to percent-encode instead.
    base = pg_server.rsplit("/", 1)[0].replace("postgresql://", "")
    user_at = base.split("@", 1)[0].split(":", 1)[0]
    host = base.split("@", 1)[-1]
    for password in (f"{SECRET}@{SECRET}", f"{SECRET}/{SECRET}", f"ab@{SECRET}"):
        url = f"postgresql://{user_at}:{password}@{host}/hw"
        with pytest.raises(HeadwaterException) as info:
            open_metadata(url).list_flows()
        text = str(info.value)
        assert SECRET not in text and SECRET not in repr(info.value)
        assert "percent-encode" in text
