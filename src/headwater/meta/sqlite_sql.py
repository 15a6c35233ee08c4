"""Every SQL statement of the SQLite backend, and nothing else.

Keeping the text in one place lets a PostgreSQL backend be written as a sibling module with the
same statements in its dialect (``?`` becomes ``%s``, ``json_group_array`` becomes
``json_agg``, ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO NOTHING``).

Schema versions: ``PRAGMA user_version`` holds the version; ``MIGRATIONS[v]`` upgrades a database
from version ``v`` to ``v + 1``. Never edit a shipped migration: append a new one.

Column ``username`` (not ``user``) because USER is reserved in PostgreSQL.
"""

from __future__ import annotations

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

# v2: the code package a run's tasks were shipped with (JSON; NULL for local runs).
_V2 = ("ALTER TABLE runs ADD COLUMN code TEXT",)

# v3: small artifacts' bytes kept in their row instead of a blob file or object of their own.
_V3 = ("ALTER TABLE artifacts ADD COLUMN inline BLOB",)

# v4: the environments (@pypi/@conda locks) a run's steps ran in (JSON; NULL when none).
_V4 = ("ALTER TABLE runs ADD COLUMN environments TEXT",)

# v5: @cache: the cache key a succeeded task can be reused under, found by (flow, step, key).
_V5 = (
    "ALTER TABLE tasks ADD COLUMN cache_key TEXT",
    "CREATE INDEX tasks_by_cache_key ON tasks (flow, step, cache_key)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5)
SCHEMA_VERSION = len(MIGRATIONS)

# -- connection setup ------------------------------------------------------------------------

# The busy timeout is set on connect (sqlite_errors.busy_timeout_s), 30 s unless overridden.
PRAGMAS_COMMON = ("PRAGMA foreign_keys = OFF",)
PRAGMAS_WRITER = ("PRAGMA synchronous = NORMAL", "PRAGMA journal_size_limit = 67108864")
PRAGMA_READONLY = "PRAGMA query_only = ON"
ENABLE_WAL = "PRAGMA journal_mode = WAL"
GET_VERSION = "PRAGMA user_version"
SET_VERSION = "PRAGMA user_version = {version:d}"

# -- writers ---------------------------------------------------------------------------------

ENSURE_FLOW = "INSERT OR IGNORE INTO flows (name, created_at) VALUES (?, ?)"
BUMP_RUN_NUMBER = "UPDATE flows SET last_run_number = last_run_number + 1 WHERE name = ?"
GET_RUN_NUMBER = "SELECT last_run_number FROM flows WHERE name = ?"
INSERT_RUN = """INSERT INTO runs (flow, run_id, run_number, username, status, created_at,
    heartbeat_at, pid, host, origin_run_id, params, code, environments)
    VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)"""
INSERT_TAG = "INSERT OR IGNORE INTO run_tags (flow, run_id, tag, system) VALUES (?, ?, ?, ?)"
DELETE_USER_TAG = "DELETE FROM run_tags WHERE flow = ? AND run_id = ? AND tag = ? AND system = 0"
FINISH_RUN = "UPDATE runs SET status = ?, finished_at = ? WHERE flow = ? AND run_id = ?"
HEARTBEAT = "UPDATE runs SET heartbeat_at = ? WHERE flow = ? AND run_id = ?"
RUN_EXISTS = "SELECT 1 FROM runs WHERE flow = ? AND run_id = ?"

INSERT_TASK = """INSERT INTO tasks (flow, run_id, step, task_id, status, created_at, finished_at,
    frames, parents, origin_pathspec, attempts, transition)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
TASK_ATTEMPT_STARTED = """UPDATE tasks SET attempts = MAX(attempts, ?), status = 'running'
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""
TASK_ATTEMPT_COUNT = """UPDATE tasks SET attempts = MAX(attempts, ?)
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""
FINISH_TASK = """UPDATE tasks SET status = ?, finished_at = ?, transition = ?
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""

START_ATTEMPT = """INSERT INTO attempts (flow, run_id, step, task_id, attempt, status, started_at)
    VALUES (?, ?, ?, ?, ?, 'running', ?)
    ON CONFLICT (flow, run_id, step, task_id, attempt) DO UPDATE SET
        status = 'running', started_at = excluded.started_at, finished_at = NULL,
        failure = NULL, stdout_key = NULL, stderr_key = NULL"""
FINISH_ATTEMPT = """INSERT INTO attempts (flow, run_id, step, task_id, attempt, status, started_at,
    finished_at, failure, stdout_key, stderr_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (flow, run_id, step, task_id, attempt) DO UPDATE SET
        status = excluded.status, finished_at = excluded.finished_at,
        failure = excluded.failure, stdout_key = excluded.stdout_key,
        stderr_key = excluded.stderr_key,
        started_at = COALESCE(attempts.started_at, excluded.started_at)"""

INSERT_ARTIFACT = """INSERT OR REPLACE INTO artifacts (flow, run_id, step, task_id, name, key,
    size, type_name, encoding, inline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""

NO_LIMIT = -1  # the LIMIT parameter meaning "all rows"

# -- readers ---------------------------------------------------------------------------------

LIST_FLOWS = "SELECT name FROM flows ORDER BY name"
GET_FLOW = "SELECT name, created_at FROM flows WHERE name = ?"

# All tags of a run in one string: each is prefixed by its system flag (0/1) and separated by
# the unit separator, which check_tags() refuses inside a tag. Cheaper to split than JSON.
TAG_SEPARATOR = "\x1f"
_TAGS_OF_RUN = """(SELECT group_concat(t.system || t.tag, char(31)) FROM run_tags t
    WHERE t.flow = r.flow AND t.run_id = r.run_id)"""
_RUN_COLUMNS = (
    "r.flow, r.run_id, r.run_number, r.username, r.status, r.created_at, r.finished_at, "
    "r.heartbeat_at, r.pid, r.host, r.origin_run_id, r.params, r.code, r.environments, " + _TAGS_OF_RUN
)
_HAS_TAG = """EXISTS (SELECT 1 FROM run_tags f
    WHERE f.flow = r.flow AND f.run_id = r.run_id AND f.tag = ?)"""

GET_RUN = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ? AND r.run_id = ?"

# -- deleting runs and collecting garbage (headwater.maintenance) ---------------------------

# Every row of one run, child tables first; run together in one transaction (sql_store).
DELETE_RUN = tuple(
    f"DELETE FROM {table} WHERE flow = ? AND run_id = ?"
    for table in ("artifacts", "attempts", "tasks", "run_tags", "runs")
)
# Taken by a deleting transaction before it checks the run may go: no run can be registered
# between that check and the delete (a resume registering from the origin being deleted).
LOCK_RUNS: tuple[str, ...] = ()  # BEGIN IMMEDIATE already keeps every other writer out
LIST_RUNNING = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.status = 'running'"
LIST_RUN_IDS = "SELECT flow, run_id FROM runs"
# Where rows name blobs: artifacts stored apart (not inline), logs, and the JSON documents of runs
# (parameters, IncludeFile contents, the code package) and tasks (foreach items, cards).
REFERENCED_ARTIFACT_KEYS = "SELECT DISTINCT key FROM artifacts WHERE inline IS NULL"
REFERENCED_LOG_KEYS = """SELECT stdout_key, stderr_key FROM attempts
    WHERE stdout_key IS NOT NULL OR stderr_key IS NOT NULL"""
RUN_DOCUMENTS = "SELECT params, code FROM runs"
TASK_DOCUMENTS = "SELECT frames, transition FROM tasks"


def select_runs(*, num_tags: int, by_user: bool, succeeded_only: bool) -> str:
    """Runs of one flow, newest first. Parameters: flow, *tags, [user], limit (-1: none)."""
    where = ["r.flow = ?"] + [_HAS_TAG] * num_tags
    if by_user:
        where.append("r.username = ?")
    if succeeded_only:
        where.append("r.status = 'succeeded'")
    return (
        f"SELECT {_RUN_COLUMNS} FROM runs r WHERE {' AND '.join(where)} "
        "ORDER BY r.run_number DESC LIMIT ?"
    )



def select_runs_page(*, by_flow: bool, num_tags: int, by_user: bool, num_statuses: int) -> str:
    """One page of runs, newest first, for the UI. Parameters: [flow], *tags, [user],
    *statuses, limit, offset. Within one flow the order is the run number's (the index serves
    it); across flows it is the start time's."""
    where = (["r.flow = ?"] if by_flow else []) + [_HAS_TAG] * num_tags
    if by_user:
        where.append("r.username = ?")
    if num_statuses:
        where.append(f"r.status IN ({', '.join(['?'] * num_statuses)})")
    order = "r.run_number DESC" if by_flow else "r.created_at DESC, r.flow, r.run_number DESC"
    condition = f"WHERE {' AND '.join(where)} " if where else ""
    # Sort and cut the bare rows first, then build the columns (tags) of the page's rows only.
    return (f"SELECT {_RUN_COLUMNS} FROM (SELECT * FROM runs r {condition}ORDER BY {order} "
            f"LIMIT ? OFFSET ?) r ORDER BY {order}")


def select_flows_with_tags(num_tags: int) -> str:
    """Names of flows having at least one run that carries every given tag."""
    if num_tags == 1:
        return "SELECT DISTINCT flow FROM run_tags WHERE tag = ? ORDER BY flow"
    return (
        "SELECT DISTINCT flow FROM (SELECT flow FROM run_tags "
        f"WHERE tag IN ({', '.join('?' * num_tags)}) GROUP BY flow, run_id "
        f"HAVING COUNT(DISTINCT tag) = {num_tags:d}) ORDER BY flow"
    )


_STEP_COLUMNS = """flow, run_id, step, MIN(created_at),
    CASE WHEN COUNT(finished_at) = COUNT(*) THEN MAX(finished_at) END, COUNT(*)"""
LIST_STEPS = f"""SELECT {_STEP_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    GROUP BY step ORDER BY MIN(seq)"""
GET_STEP = f"""SELECT {_STEP_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ? AND step = ?
    GROUP BY step"""

_TASK_COLUMNS = """flow, run_id, step, task_id, status, created_at, finished_at, frames, parents,
    origin_pathspec, attempts, transition"""
LIST_RUN_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    ORDER BY seq LIMIT ?"""
LIST_STEP_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ? AND step = ?
    ORDER BY seq LIMIT ?"""
# One page of a run's tasks (all steps, or one): parameters flow, run_id, [step], limit, offset.
PAGE_RUN_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    ORDER BY seq LIMIT ? OFFSET ?"""
PAGE_STEP_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? ORDER BY seq LIMIT ? OFFSET ?"""
# Tasks registered, finished or still running since a time: what a live page must refresh.
TASK_CHANGES = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    AND (status = 'running' OR created_at >= ? OR finished_at >= ?) ORDER BY seq"""
# Per step and status: how many tasks, first start, last end, how many ended.
STEP_STATUS_COUNTS = """SELECT step, status, COUNT(*), MIN(created_at), MAX(finished_at),
    COUNT(finished_at) FROM tasks WHERE flow = ? AND run_id = ? GROUP BY step, status"""
GET_TASK = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""

GET_ARTIFACTS = """SELECT name, key, size, type_name, encoding, inline FROM artifacts
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? ORDER BY name"""
GET_STEP_ARTIFACTS = """SELECT task_id, name, key, size, type_name, encoding, inline FROM artifacts
    WHERE flow = ? AND run_id = ? AND step = ? ORDER BY task_id, name"""

_ATTEMPT_COLUMNS = """flow, run_id, step, task_id, attempt, status, started_at, finished_at,
    failure, stdout_key, stderr_key"""
LIST_ATTEMPTS = f"""SELECT {_ATTEMPT_COLUMNS} FROM attempts
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? ORDER BY attempt"""
LIST_STEP_ATTEMPTS = f"""SELECT {_ATTEMPT_COLUMNS} FROM attempts
    WHERE flow = ? AND run_id = ? AND step = ? ORDER BY task_id, attempt"""

# -- step cache (@cache) ---------------------------------------------------------------------

SET_CACHE_KEY = """UPDATE tasks SET cache_key = ?
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""
# The newest succeeded task of the step with that key; served by the tasks_by_cache_key index.
FIND_CACHED_TASK = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND step = ? AND cache_key = ? AND status = 'succeeded'
    ORDER BY seq DESC LIMIT 1"""
