"""Every SQL statement of the PostgreSQL backend, and nothing else.

The same names, parameter order and result columns as :mod:`.sqlite_sql`, in PostgreSQL's
dialect: ``%s`` placeholders, ``DOUBLE PRECISION`` times (``REAL`` is 4 bytes here), ``BIGINT``
counters and sizes, ``ON CONFLICT`` instead of ``INSERT OR ...``, ``GREATEST`` instead of
two-argument ``MAX``, ``string_agg`` instead of ``group_concat``. Text is ordered with
``COLLATE "C"`` (byte order, like SQLite) whatever the database's locale.

Schema versions: table ``headwater_schema`` holds one row with the version; ``MIGRATIONS[v]``
upgrades a database from version ``v`` to ``v + 1``, under an advisory lock so that many
processes opening a new database at once create it once. Never edit a shipped migration.
"""

from __future__ import annotations

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

# v2: the code package a run's tasks were shipped with (JSON; NULL for local runs).
_V2 = ("ALTER TABLE runs ADD COLUMN code TEXT",)

# v3: small artifacts' bytes kept in their row instead of a blob file or object of their own.
_V3 = ("ALTER TABLE artifacts ADD COLUMN inline BYTEA",)

# v4: the environments (@pypi/@conda locks) a run's steps ran in (JSON; NULL when none).
_V4 = ("ALTER TABLE runs ADD COLUMN environments TEXT",)

# v5: @cache: the cache key a succeeded task can be reused under, found by (flow, step, key).
_V5 = (
    "ALTER TABLE tasks ADD COLUMN cache_key TEXT",
    "CREATE INDEX tasks_by_cache_key ON tasks (flow, step, cache_key)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5)
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

# -- writers ---------------------------------------------------------------------------------

ENSURE_FLOW = "INSERT INTO flows (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING"
# The UPDATE locks the flow's row until commit: concurrent schedulers queue here, so run
# numbers are handed out one at a time and never twice.
BUMP_RUN_NUMBER = "UPDATE flows SET last_run_number = last_run_number + 1 WHERE name = %s"
GET_RUN_NUMBER = "SELECT last_run_number FROM flows WHERE name = %s"
INSERT_RUN = """INSERT INTO runs (flow, run_id, run_number, username, status, created_at,
    heartbeat_at, pid, host, origin_run_id, params, code, environments)
    VALUES (%s, %s, %s, %s, 'running', %s, %s, %s, %s, %s, %s, %s, %s)"""
INSERT_TAG = """INSERT INTO run_tags (flow, run_id, tag, system) VALUES (%s, %s, %s, %s)
    ON CONFLICT DO NOTHING"""
DELETE_USER_TAG = (
    "DELETE FROM run_tags WHERE flow = %s AND run_id = %s AND tag = %s AND system = 0"
)
FINISH_RUN = "UPDATE runs SET status = %s, finished_at = %s WHERE flow = %s AND run_id = %s"
HEARTBEAT = "UPDATE runs SET heartbeat_at = %s WHERE flow = %s AND run_id = %s"
RUN_EXISTS = "SELECT 1 FROM runs WHERE flow = %s AND run_id = %s"

INSERT_TASK = """INSERT INTO tasks (flow, run_id, step, task_id, status, created_at, finished_at,
    frames, parents, origin_pathspec, attempts, transition)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""
TASK_ATTEMPT_STARTED = """UPDATE tasks SET attempts = GREATEST(attempts, %s), status = 'running'
    WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s"""
TASK_ATTEMPT_COUNT = """UPDATE tasks SET attempts = GREATEST(attempts, %s)
    WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s"""
FINISH_TASK = """UPDATE tasks SET status = %s, finished_at = %s, transition = %s
    WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s"""

START_ATTEMPT = """INSERT INTO attempts (flow, run_id, step, task_id, attempt, status, started_at)
    VALUES (%s, %s, %s, %s, %s, 'running', %s)
    ON CONFLICT (flow, run_id, step, task_id, attempt) DO UPDATE SET
        status = 'running', started_at = excluded.started_at, finished_at = NULL,
        failure = NULL, stdout_key = NULL, stderr_key = NULL"""
FINISH_ATTEMPT = """INSERT INTO attempts (flow, run_id, step, task_id, attempt, status, started_at,
    finished_at, failure, stdout_key, stderr_key)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (flow, run_id, step, task_id, attempt) DO UPDATE SET
        status = excluded.status, finished_at = excluded.finished_at,
        failure = excluded.failure, stdout_key = excluded.stdout_key,
        stderr_key = excluded.stderr_key,
        started_at = COALESCE(attempts.started_at, excluded.started_at)"""

INSERT_ARTIFACT = """INSERT INTO artifacts (flow, run_id, step, task_id, name, key,
    size, type_name, encoding, inline) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (flow, run_id, step, task_id, name) DO UPDATE SET
        key = excluded.key, size = excluded.size, type_name = excluded.type_name,
        encoding = excluded.encoding, inline = excluded.inline"""

NO_LIMIT = None  # LIMIT NULL: all rows

# -- readers ---------------------------------------------------------------------------------

_C = 'COLLATE "C"'
LIST_FLOWS = f"SELECT name FROM flows ORDER BY name {_C}"
GET_FLOW = "SELECT name, created_at FROM flows WHERE name = %s"

# All tags of a run in one string, as in sqlite_sql: system flag (0/1) + tag, joined by \x1f.
_TAGS_OF_RUN = """(SELECT string_agg(t.system::text || t.tag, chr(31)) FROM run_tags t
    WHERE t.flow = r.flow AND t.run_id = r.run_id)"""
_RUN_COLUMNS = (
    "r.flow, r.run_id, r.run_number, r.username, r.status, r.created_at, r.finished_at, "
    "r.heartbeat_at, r.pid, r.host, r.origin_run_id, r.params, r.code, r.environments, " + _TAGS_OF_RUN
)
_HAS_TAG = """EXISTS (SELECT 1 FROM run_tags f
    WHERE f.flow = r.flow AND f.run_id = r.run_id AND f.tag = %s)"""

GET_RUN = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = %s AND r.run_id = %s"

# -- deleting runs and collecting garbage (headwater.maintenance) ---------------------------

# Every row of one run, child tables first; run together in one transaction (sql_store).
DELETE_RUN = tuple(
    f"DELETE FROM {table} WHERE flow = %s AND run_id = %s"
    for table in ("artifacts", "attempts", "tasks", "run_tags", "runs")
)
# Taken by a deleting transaction before it checks the run may go: no run can be registered
# between that check and the delete (a resume registering from the origin being deleted).
LOCK_RUNS: tuple[str, ...] = ("LOCK TABLE runs IN EXCLUSIVE MODE",)  # no new run meanwhile; reads go on
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
    """Runs of one flow, newest first. Parameters: flow, *tags, [user], limit (None: all)."""
    where = ["r.flow = %s"] + [_HAS_TAG] * num_tags
    if by_user:
        where.append("r.username = %s")
    if succeeded_only:
        where.append("r.status = 'succeeded'")
    return (
        f"SELECT {_RUN_COLUMNS} FROM runs r WHERE {' AND '.join(where)} "
        "ORDER BY r.run_number DESC LIMIT %s"
    )



def select_runs_page(*, by_flow: bool, num_tags: int, by_user: bool, num_statuses: int) -> str:
    """One page of runs, newest first, for the UI. Parameters: [flow], *tags, [user],
    *statuses, limit, offset. Within one flow the order is the run number's (the index serves
    it); across flows it is the start time's."""
    where = (["r.flow = %s"] if by_flow else []) + [_HAS_TAG] * num_tags
    if by_user:
        where.append("r.username = %s")
    if num_statuses:
        where.append(f"r.status IN ({', '.join(['%s'] * num_statuses)})")
    order = "r.run_number DESC" if by_flow else "r.created_at DESC, r.flow, r.run_number DESC"
    condition = f"WHERE {' AND '.join(where)} " if where else ""
    # Sort and cut the bare rows first, then build the columns (tags) of the page's rows only.
    return (f"SELECT {_RUN_COLUMNS} FROM (SELECT * FROM runs r {condition}ORDER BY {order} "
            f"LIMIT %s OFFSET %s) r ORDER BY {order}")


def select_flows_with_tags(num_tags: int) -> str:
    """Names of flows having at least one run that carries every given tag."""
    if num_tags == 1:
        return f"SELECT flow FROM run_tags WHERE tag = %s GROUP BY flow ORDER BY flow {_C}"
    return (
        "SELECT flow FROM (SELECT flow FROM run_tags "
        f"WHERE tag IN ({', '.join(['%s'] * num_tags)}) GROUP BY flow, run_id "
        f"HAVING COUNT(DISTINCT tag) = {num_tags:d}) AS matching GROUP BY flow ORDER BY flow {_C}"
    )


_STEP_COLUMNS = """flow, run_id, step, MIN(created_at),
    CASE WHEN COUNT(finished_at) = COUNT(*) THEN MAX(finished_at) END, COUNT(*)"""
LIST_STEPS = f"""SELECT {_STEP_COLUMNS} FROM tasks WHERE flow = %s AND run_id = %s
    GROUP BY flow, run_id, step ORDER BY MIN(seq)"""
GET_STEP = f"""SELECT {_STEP_COLUMNS} FROM tasks WHERE flow = %s AND run_id = %s AND step = %s
    GROUP BY flow, run_id, step"""

_TASK_COLUMNS = """flow, run_id, step, task_id, status, created_at, finished_at, frames, parents,
    origin_pathspec, attempts, transition"""
LIST_RUN_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = %s AND run_id = %s
    ORDER BY seq LIMIT %s"""
LIST_STEP_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = %s AND run_id = %s AND step = %s ORDER BY seq LIMIT %s"""
# One page of a run's tasks (all steps, or one): parameters flow, run_id, [step], limit, offset.
PAGE_RUN_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = %s AND run_id = %s
    ORDER BY seq LIMIT %s OFFSET %s"""
PAGE_STEP_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = %s AND run_id = %s AND step = %s ORDER BY seq LIMIT %s OFFSET %s"""
# Tasks registered, finished or still running since a time: what a live page must refresh.
TASK_CHANGES = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = %s AND run_id = %s
    AND (status = 'running' OR created_at >= %s OR finished_at >= %s) ORDER BY seq"""
# Per step and status: how many tasks, first start, last end, how many ended.
STEP_STATUS_COUNTS = """SELECT step, status, COUNT(*), MIN(created_at), MAX(finished_at),
    COUNT(finished_at) FROM tasks WHERE flow = %s AND run_id = %s GROUP BY step, status"""
GET_TASK = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s"""

GET_ARTIFACTS = f"""SELECT name, key, size, type_name, encoding, inline FROM artifacts
    WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s ORDER BY name {_C}"""
GET_STEP_ARTIFACTS = f"""SELECT task_id, name, key, size, type_name, encoding, inline FROM artifacts
    WHERE flow = %s AND run_id = %s AND step = %s ORDER BY task_id {_C}, name {_C}"""

_ATTEMPT_COLUMNS = """flow, run_id, step, task_id, attempt, status, started_at, finished_at,
    failure, stdout_key, stderr_key"""
LIST_ATTEMPTS = f"""SELECT {_ATTEMPT_COLUMNS} FROM attempts
    WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s ORDER BY attempt"""
LIST_STEP_ATTEMPTS = f"""SELECT {_ATTEMPT_COLUMNS} FROM attempts
    WHERE flow = %s AND run_id = %s AND step = %s ORDER BY task_id {_C}, attempt"""

# -- step cache (@cache) ---------------------------------------------------------------------

SET_CACHE_KEY = """UPDATE tasks SET cache_key = %s
    WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s"""
# The newest succeeded task of the step with that key; served by the tasks_by_cache_key index.
FIND_CACHED_TASK = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = %s AND step = %s AND cache_key = %s AND status = 'succeeded'
    ORDER BY seq DESC LIMIT 1"""
