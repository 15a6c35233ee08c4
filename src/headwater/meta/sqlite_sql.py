"""Every SQL statement of the SQLite backend: the shared ones rendered with ``?``, and the few
only SQLite writes its own way.

The rule (see :mod:`.shared_sql`): a statement both dialects can run as the same text is written
once there; this module keeps only what SQLite really does differently: the tables of schema
version 1 (``REAL``/``INTEGER``, ``WITHOUT ROWID``; the later versions only add columns and are
written once, in :func:`.shared_sql.later_migrations`), the pragmas of a connection, the schema
version in ``PRAGMA user_version``, locking (``BEGIN IMMEDIATE`` already keeps writers out) and
``LIMIT -1`` for "all rows".

Schema versions: ``PRAGMA user_version`` holds the version; ``MIGRATIONS[v]`` upgrades a database
from version ``v`` to ``v + 1``. Never edit a shipped migration: append a new one.

Column ``username`` (not ``user``) because USER is reserved in PostgreSQL.
"""

from __future__ import annotations

from headwater.meta import shared_sql

_V1 = (
    """CREATE TABLE flows (
        name            TEXT PRIMARY KEY,
        created_at      REAL NOT NULL,
        last_run_number INTEGER NOT NULL DEFAULT 0  -- never reused, even if runs are deleted
    )""",
    """CREATE TABLE runs (
        flow          TEXT NOT NULL,
        run_id        TEXT NOT NULL,
        run_number    INTEGER NOT NULL,
        username      TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        created_at    REAL NOT NULL,
        finished_at   REAL,
        heartbeat_at  REAL,
        pid           INTEGER,
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
    ) WITHOUT ROWID""",
    "CREATE INDEX run_tags_by_tag ON run_tags (tag, flow)",
    """CREATE TABLE tasks (
        seq             INTEGER PRIMARY KEY,  -- registration order
        flow            TEXT NOT NULL,
        run_id          TEXT NOT NULL,
        step            TEXT NOT NULL,
        task_id         TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        created_at      REAL NOT NULL,
        finished_at     REAL,
        frames          TEXT NOT NULL,  -- JSON: list of Frame fields
        parents         TEXT NOT NULL,  -- JSON: list of "step/task_id"
        origin_pathspec TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        transition      TEXT  -- JSON: next_steps, foreach_count, foreach_items_key (resume needs it)
    )""",
    "CREATE UNIQUE INDEX tasks_key ON tasks (flow, run_id, step, task_id)",
    """CREATE TABLE attempts (
        flow        TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        step        TEXT NOT NULL,
        task_id     TEXT NOT NULL,
        attempt     INTEGER NOT NULL,
        status      TEXT NOT NULL,
        started_at  REAL,
        finished_at REAL,
        failure     TEXT,  -- JSON: type_name, message, traceback
        stdout_key  TEXT,
        stderr_key  TEXT,
        PRIMARY KEY (flow, run_id, step, task_id, attempt)
    ) WITHOUT ROWID""",
    """CREATE TABLE artifacts (
        flow      TEXT NOT NULL,
        run_id    TEXT NOT NULL,
        step      TEXT NOT NULL,
        task_id   TEXT NOT NULL,
        name      TEXT NOT NULL,
        key       TEXT NOT NULL,
        size      INTEGER NOT NULL,
        type_name TEXT NOT NULL,
        encoding  TEXT NOT NULL,
        PRIMARY KEY (flow, run_id, step, task_id, name)
    ) WITHOUT ROWID""",
)

# v2 onwards are the same in both dialects but for the type of bytes
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, *shared_sql.later_migrations("BLOB"))
SCHEMA_VERSION = len(MIGRATIONS)

# -- connection setup ------------------------------------------------------------------------

# The busy timeout is set on connect (sqlite_errors.busy_timeout_s), 30 s unless overridden.
PRAGMAS_COMMON = ("PRAGMA foreign_keys = OFF",)
PRAGMAS_WRITER = ("PRAGMA synchronous = NORMAL", "PRAGMA journal_size_limit = 67108864")
PRAGMA_READONLY = "PRAGMA query_only = ON"
ENABLE_WAL = "PRAGMA journal_mode = WAL"
# The page size of a new file (set before its first page is written; an existing file keeps its
# own). A run commits a few small rows per task and each commit appends every page it changed to
# the WAL, whole: with 1 KiB pages a run's WAL is about a quarter of what 4 KiB pages make, and
# the checkpoint that closes a run syncs, copies and deletes that much less.
NEW_FILE_PAGE_SIZE = "PRAGMA page_size = 1024"
GET_VERSION = "PRAGMA user_version"
SET_VERSION = "PRAGMA user_version = {version:d}"

# -- what SQLite writes its own way ----------------------------------------------------------

NO_LIMIT = -1  # the LIMIT parameter meaning "all rows"
# Taken by a deleting transaction before it checks the run may go: no run can be registered
# between that check and the delete (a resume registering from the origin being deleted).
LOCK_RUNS: tuple[str, ...] = ()  # BEGIN IMMEDIATE already keeps every other writer out

# -- the shared statements, in SQLite's dialect (rendered once, here) ---------------------------

globals().update(shared_sql.render(
    placeholder="?",
    tags_of_run="""(SELECT group_concat(t.system || t.tag, char(31)) FROM run_tags t
    WHERE t.flow = r.flow AND t.run_id = r.run_id)""",
    greatest="MAX",  # two arguments: the scalar MAX, not the aggregate
    text_order="",  # the default BINARY collation already sorts by bytes
))
