"""Every SQL statement of the PostgreSQL backend: the shared ones rendered with ``%s``, and
the few only PostgreSQL writes its own way.

The rule (see :mod:`.shared_sql`): a statement both dialects can run as the same text is written
once there; this module keeps only what PostgreSQL really does differently: the tables of
schema version 1 (``DOUBLE PRECISION`` times, as ``REAL`` is 4 bytes here; ``BIGINT`` counters
and sizes; an identity column; the later versions only add columns and are written once, in
:func:`.shared_sql.later_migrations`), the schema version in table ``headwater_schema`` under an advisory
lock, ``LOCK TABLE`` when deleting runs and ``LIMIT NULL`` for "all rows". Text is ordered with
``COLLATE "C"`` (byte order, like SQLite) whatever the database's locale.

Schema versions: table ``headwater_schema`` holds one row with the version; ``MIGRATIONS[v]``
upgrades a database from version ``v`` to ``v + 1``, under an advisory lock so that many
processes opening a new database at once create it once. Never edit a shipped migration.
"""

from __future__ import annotations

from headwater.meta import shared_sql

_V1 = (
    """CREATE TABLE flows (
        name            TEXT PRIMARY KEY,
        created_at      DOUBLE PRECISION NOT NULL,
        last_run_number BIGINT NOT NULL DEFAULT 0  -- never reused, even if runs are deleted
    )""",
    """CREATE TABLE runs (
        flow          TEXT NOT NULL,
        run_id        TEXT NOT NULL,
        run_number    BIGINT NOT NULL,
        username      TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        created_at    DOUBLE PRECISION NOT NULL,
        finished_at   DOUBLE PRECISION,
        heartbeat_at  DOUBLE PRECISION,
        pid           BIGINT,
        host          TEXT,
        origin_run_id TEXT,
        params        TEXT NOT NULL,  -- JSON: name -> ArtifactRef fields
        PRIMARY KEY (flow, run_id)
    )""",
    "CREATE UNIQUE INDEX runs_newest ON runs (flow, run_number)",
    """CREATE TABLE run_tags (
        flow    TEXT NOT NULL,
        run_id  TEXT NOT NULL,
        tag     TEXT NOT NULL,
        system  INTEGER NOT NULL,  -- 1 for system tags (user:..., runtime:...), 0 for user tags
        PRIMARY KEY (flow, run_id, tag, system)
    )""",
    "CREATE INDEX run_tags_by_tag ON run_tags (tag, flow)",
    """CREATE TABLE tasks (
        seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- registration order
        flow            TEXT NOT NULL,
        run_id          TEXT NOT NULL,
        step            TEXT NOT NULL,
        task_id         TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        created_at      DOUBLE PRECISION NOT NULL,
        finished_at     DOUBLE PRECISION,
        frames          TEXT NOT NULL,  -- JSON: list of Frame fields
        parents         TEXT NOT NULL,  -- JSON: list of "step/task_id"
        origin_pathspec TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        transition      TEXT  -- JSON: next_steps, foreach_count, foreach_items_key
    )""",
    "CREATE UNIQUE INDEX tasks_key ON tasks (flow, run_id, step, task_id)",
    """CREATE TABLE attempts (
        flow        TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        step        TEXT NOT NULL,
        task_id     TEXT NOT NULL,
        attempt     INTEGER NOT NULL,
        status      TEXT NOT NULL,
        started_at  DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        failure     TEXT,  -- JSON: type_name, message, traceback
        stdout_key  TEXT,
        stderr_key  TEXT,
        PRIMARY KEY (flow, run_id, step, task_id, attempt)
    )""",
    """CREATE TABLE artifacts (
        flow      TEXT NOT NULL,
        run_id    TEXT NOT NULL,
        step      TEXT NOT NULL,
        task_id   TEXT NOT NULL,
        name      TEXT NOT NULL,
        key       TEXT NOT NULL,
        size      BIGINT NOT NULL,
        type_name TEXT NOT NULL,
        encoding  TEXT NOT NULL,
        PRIMARY KEY (flow, run_id, step, task_id, name)
    )""",
)

# v2 onwards are the same in both dialects but for the type of bytes
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, *shared_sql.later_migrations("BYTEA"))
SCHEMA_VERSION = len(MIGRATIONS)

# -- schema version --------------------------------------------------------------------------

# Any 64-bit number only headwater uses: serializes schema creation across processes.
SCHEMA_LOCK_KEY = 0x6865616477617472  # "headwatr"
TAKE_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(%s)"
HAS_VERSION_TABLE = "SELECT to_regclass('headwater_schema') IS NOT NULL"
CREATE_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS headwater_schema (version INTEGER NOT NULL)"
GET_VERSION = "SELECT version FROM headwater_schema"
INSERT_VERSION = "INSERT INTO headwater_schema (version) VALUES (%s)"
SET_VERSION = "UPDATE headwater_schema SET version = %s"
SET_READONLY = "SET default_transaction_read_only = on"

# -- what PostgreSQL writes its own way ------------------------------------------------------

NO_LIMIT = None  # LIMIT NULL: all rows
# Taken by a deleting transaction before it checks the run may go: no run can be registered
# between that check and the delete (a resume registering from the origin being deleted).
LOCK_RUNS: tuple[str, ...] = ("LOCK TABLE runs IN EXCLUSIVE MODE",)  # no new run meanwhile; reads go on

# -- the shared statements, in PostgreSQL's dialect (rendered once, here) -----------------------

globals().update(shared_sql.render(
    placeholder="%s",
    tags_of_run="""(SELECT string_agg(t.system::text || t.tag, chr(31)) FROM run_tags t
    WHERE t.flow = r.flow AND t.run_id = r.run_id)""",
    greatest="GREATEST",
    text_order=' COLLATE "C"',
))
