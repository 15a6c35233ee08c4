"""The SQL statements SQLite and PostgreSQL write the same way, written once.

Rule: a statement lives here when both dialects can run the same text; only what they really
disagree on stays in :mod:`.sqlite_sql` and :mod:`.postgres_sql` (the tables of schema version 1,
connection setup, schema-version bookkeeping, locking, the "no limit" value). Here statements
use ``?`` placeholders and three named fragments in braces, filled in by each dialect:

- ``{tags_of_run}``: a run's tags joined in one string (``group_concat`` / ``string_agg``);
- ``{greatest}``: the larger of two values (SQLite's two-argument ``MAX`` / ``GREATEST``);
- ``{text_order}``: what makes ``ORDER BY`` on text sort by bytes (nothing in SQLite, whose
  default collation already does; ``COLLATE "C"`` in PostgreSQL, whatever the locale).

:func:`render` turns every statement into one dialect's text once, when the dialect module is
imported; the builders of statements whose shape depends on the query (how many tags...) are
rendered on their first call per shape and remembered, so no query pays for the rendering.
Upserts use ``ON CONFLICT`` (SQLite has it since 3.24; Python ships a newer one).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

# -- writers ---------------------------------------------------------------------------------

ENSURE_FLOW = "INSERT INTO flows (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
# In PostgreSQL the UPDATE locks the flow's row until commit (SQLite's BEGIN IMMEDIATE locks the
# database): concurrent schedulers queue here, so run numbers are never handed out twice.
BUMP_RUN_NUMBER = "UPDATE flows SET last_run_number = last_run_number + 1 WHERE name = ?"
GET_RUN_NUMBER = "SELECT last_run_number FROM flows WHERE name = ?"
INSERT_RUN = """INSERT INTO runs (flow, run_id, run_number, username, status, created_at,
    heartbeat_at, pid, host, origin_run_id, params, code, environments)
    VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)"""
INSERT_TAG = """INSERT INTO run_tags (flow, run_id, tag, system) VALUES (?, ?, ?, ?)
    ON CONFLICT DO NOTHING"""
DELETE_USER_TAG = "DELETE FROM run_tags WHERE flow = ? AND run_id = ? AND tag = ? AND system = 0"
FINISH_RUN = "UPDATE runs SET status = ?, finished_at = ? WHERE flow = ? AND run_id = ?"
HEARTBEAT = "UPDATE runs SET heartbeat_at = ? WHERE flow = ? AND run_id = ?"
RUN_EXISTS = "SELECT 1 FROM runs WHERE flow = ? AND run_id = ?"

INSERT_TASK = """INSERT INTO tasks (flow, run_id, step, task_id, status, created_at, finished_at,
    frames, parents, origin_pathspec, attempts, transition)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
TASK_ATTEMPT_STARTED = """UPDATE tasks SET attempts = {greatest}(attempts, ?), status = 'running'
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""
TASK_ATTEMPT_COUNT = """UPDATE tasks SET attempts = {greatest}(attempts, ?)
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""
# A task's last attempt ended: its count and the task's end together (one statement a task).
FINISH_TASK_ATTEMPTS = """UPDATE tasks SET attempts = {greatest}(attempts, ?), status = ?,
    finished_at = ?, transition = ? WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""

START_ATTEMPT = """INSERT INTO attempts (flow, run_id, step, task_id, attempt, status, started_at)
    VALUES (?, ?, ?, ?, ?, 'running', ?)
    ON CONFLICT (flow, run_id, step, task_id, attempt) DO UPDATE SET
        status = 'running', started_at = excluded.started_at, finished_at = NULL,
        failure = NULL, stdout_key = NULL, stderr_key = NULL, artifacts = NULL"""
FINISH_ATTEMPT = """INSERT INTO attempts (flow, run_id, step, task_id, attempt, status, started_at,
    finished_at, failure, stdout_key, stderr_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (flow, run_id, step, task_id, attempt) DO UPDATE SET
        status = excluded.status, finished_at = excluded.finished_at,
        failure = excluded.failure, stdout_key = excluded.stdout_key,
        stderr_key = excluded.stderr_key,
        started_at = COALESCE(attempts.started_at, excluded.started_at)"""
# What an attempt that did not end its task had stored (its manifest as JSON), written only
# for such attempts (a retry follows, or @catch's stand-in): the task's final write stays as is.
SET_ATTEMPT_ARTIFACTS = """UPDATE attempts SET artifacts = ?
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? AND attempt = ?"""

# Every column is set, so updating in place is what SQLite's former INSERT OR REPLACE did.
INSERT_ARTIFACT = """INSERT INTO artifacts (flow, run_id, step, task_id, name, key,
    size, type_name, encoding, inline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (flow, run_id, step, task_id, name) DO UPDATE SET
        key = excluded.key, size = excluded.size, type_name = excluded.type_name,
        encoding = excluded.encoding, inline = excluded.inline"""

# -- readers ---------------------------------------------------------------------------------

LIST_FLOWS = "SELECT name FROM flows ORDER BY name{text_order}"
GET_FLOW = "SELECT name, created_at FROM flows WHERE name = ?"
# The tags (user and system) runs carry, for the note on a filter's lookalikes; at most ? of them.
TAG_NAMES = "SELECT DISTINCT tag FROM run_tags ORDER BY tag{text_order} LIMIT ?"
FLOW_TAG_NAMES = ("SELECT DISTINCT tag FROM run_tags WHERE flow = ? "
                  "ORDER BY tag{text_order} LIMIT ?")

# All tags of a run in one string ({tags_of_run}): each is prefixed by its system flag (0/1) and
# separated by the unit separator, which check_tags() refuses inside a tag.
_RUN_COLUMNS = (
    "r.flow, r.run_id, r.run_number, r.username, r.status, r.created_at, r.finished_at, "
    "r.heartbeat_at, r.pid, r.host, r.origin_run_id, r.params, r.code, r.environments, "
    "{tags_of_run}"
)
_HAS_TAG = """EXISTS (SELECT 1 FROM run_tags f
    WHERE f.flow = r.flow AND f.run_id = r.run_id AND f.tag = ?)"""

GET_RUN = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ? AND r.run_id = ?"
# Each flow's newest run, in one statement (the runs list's flows, however many there are).
LATEST_RUNS = f"""SELECT {_RUN_COLUMNS} FROM (SELECT * FROM runs r WHERE r.run_number =
    (SELECT MAX(n.run_number) FROM runs n WHERE n.flow = r.flow)) r"""

_STEP_COLUMNS = """flow, run_id, step, MIN(created_at),
    CASE WHEN COUNT(finished_at) = COUNT(*) THEN MAX(finished_at) END, COUNT(*)"""
LIST_STEPS = f"""SELECT {_STEP_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    GROUP BY flow, run_id, step ORDER BY MIN(seq)"""
GET_STEP = f"""SELECT {_STEP_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ? AND step = ?
    GROUP BY flow, run_id, step"""

_TASK_COLUMNS = """flow, run_id, step, task_id, status, created_at, finished_at, frames, parents,
    origin_pathspec, attempts, transition"""
LIST_RUN_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    ORDER BY seq LIMIT ?"""
LIST_STEP_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? ORDER BY seq LIMIT ?"""
# The step's newest task (Metaflow's ``Step.task``): parameters flow, run_id, step.
NEWEST_STEP_TASK = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? ORDER BY seq DESC LIMIT 1"""
# One page of a run's tasks (all steps, or one): parameters flow, run_id, [step], limit, offset.
PAGE_RUN_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    ORDER BY seq LIMIT ? OFFSET ?"""
PAGE_STEP_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? ORDER BY seq LIMIT ? OFFSET ?"""
# The same, of one status: parameters flow, run_id, [step], status, limit, offset.
PAGE_RUN_TASKS_BY_STATUS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    AND status = ? ORDER BY seq LIMIT ? OFFSET ?"""
PAGE_STEP_TASKS_BY_STATUS = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? AND status = ? ORDER BY seq LIMIT ? OFFSET ?"""
# The same, of either of two statuses (a killed run's failed and interrupted tasks).
PAGE_RUN_TASKS_BY_TWO_STATUSES = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND status IN (?, ?) ORDER BY seq LIMIT ? OFFSET ?"""
PAGE_STEP_TASKS_BY_TWO_STATUSES = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? AND status IN (?, ?) ORDER BY seq LIMIT ? OFFSET ?"""
# Tasks @catch stood in for, of a run (or a step): succeeded records whose facts carry @catch's
# mark (records.CAUGHT_RAISE_FACT or CAUGHT_CRASH_FACT as a JSON key of the transition's text).
# The partial index ``tasks_caught`` (schema v7) holds exactly these rows, so the database visits
# them alone, not the run's other tasks: for the planner to take it, the condition below is the
# index's own, word for word, its patterns written in the text (a parameter would not prove the
# index applies). Parameters flow, run_id, [step], limit, offset.
_CAUGHT = ("status = 'succeeded' AND (transition LIKE '%\"catch-attempt\":%'"
           " OR transition LIKE '%\"catch-fallback\":%')")
PAGE_RUN_CAUGHT_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    AND {_CAUGHT} ORDER BY seq LIMIT ? OFFSET ?"""
PAGE_STEP_CAUGHT_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? AND {_CAUGHT} ORDER BY seq LIMIT ? OFFSET ?"""
# Tasks registered, finished or still running since a time: what a live page must refresh.
TASK_CHANGES = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    AND (status = 'running' OR created_at >= ? OR finished_at >= ?) ORDER BY seq"""
# A run's failed tasks, in registration order: what its page leads to. flow, run_id, limit.
FAILED_TASKS = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    AND status = 'failed' ORDER BY seq LIMIT ?"""
# Per step and status: how many tasks, first start, last end, how many ended, how many a
# resume cloned (they name their origin).
# The last two counts: tasks recorded as a clone (resume's, or @cache's reuse), and of those the
# ones @cache reused (their facts name their origin as ``cached-from``: a resume's clone of a
# reused task copies its origin's facts, whose ``cached-from`` names another task).
STEP_STATUS_COUNTS = """SELECT step, status, COUNT(*), MIN(created_at), MAX(finished_at),
    COUNT(finished_at), COUNT(origin_pathspec),
    COUNT(CASE WHEN transition LIKE '%"cached-from": "' || origin_pathspec || '"%' THEN 1 END)
    FROM tasks WHERE flow = ? AND run_id = ? GROUP BY step, status"""
GET_TASK = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""

# A page of a run's tasks after a (step, task_id), in the order of the tasks_key index (no
# sort): resume's plan walks a whole origin run this way. flow, run_id, step, task_id, limit.
# The comparison and the order both use the column's own collation, so no row is skipped.
PAGE_RUN_TASKS_BY_KEY = f"""SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?
    AND (step, task_id) > (?, ?) ORDER BY step, task_id LIMIT ?"""

GET_ARTIFACTS = """SELECT name, key, size, type_name, encoding, inline FROM artifacts
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? ORDER BY name{text_order}"""
GET_STEP_ARTIFACTS = """SELECT task_id, name, key, size, type_name, encoding, inline FROM artifacts
    WHERE flow = ? AND run_id = ? AND step = ? ORDER BY task_id{text_order}, name{text_order}"""

_ATTEMPT_COLUMNS = """flow, run_id, step, task_id, attempt, status, started_at, finished_at,
    failure, stdout_key, stderr_key, artifacts"""
LIST_ATTEMPTS = f"""SELECT {_ATTEMPT_COLUMNS} FROM attempts
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? ORDER BY attempt"""
LIST_STEP_ATTEMPTS = f"""SELECT {_ATTEMPT_COLUMNS} FROM attempts
    WHERE flow = ? AND run_id = ? AND step = ? ORDER BY task_id{{text_order}}, attempt"""

# -- step cache (@cache) ---------------------------------------------------------------------

SET_CACHE_KEY = """UPDATE tasks SET cache_key = ?
    WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"""
# The newest succeeded task of the step with that key; served by the tasks_by_cache_key index.
FIND_CACHED_TASK = f"""SELECT {_TASK_COLUMNS} FROM tasks
    WHERE flow = ? AND step = ? AND cache_key = ? AND status = 'succeeded'
    ORDER BY seq DESC LIMIT 1"""
# `headwater cache`: how many tasks of each step of a flow hold a key; dropping them (the tasks
# and their data stay, as history: only the reuse goes). Served by tasks_by_cache_key.
CACHE_ENTRIES = """SELECT step, COUNT(*) FROM tasks WHERE flow = ? AND cache_key IS NOT NULL
    GROUP BY step"""
CLEAR_FLOW_CACHE = "UPDATE tasks SET cache_key = NULL WHERE flow = ? AND cache_key IS NOT NULL"
CLEAR_STEP_CACHE = """UPDATE tasks SET cache_key = NULL
    WHERE flow = ? AND step = ? AND cache_key IS NOT NULL"""

# -- deleting runs and collecting garbage (headwater.maintenance) ---------------------------

# Every row of one run, child tables first; run together in one transaction (sql_store).
DELETE_RUN = tuple(
    f"DELETE FROM {table} WHERE flow = ? AND run_id = ?"
    for table in ("artifacts", "attempts", "tasks", "run_tags", "runs")
)
LIST_RUNNING = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.status = 'running'"
LIST_RUN_IDS = "SELECT flow, run_id FROM runs"
# Where rows name blobs: artifacts stored apart (not inline), logs, and the JSON documents of runs
# (parameters, IncludeFile contents, the code package) and tasks (foreach items, cards). An
# artifact a succeeded run declared @transient (system tag transient:NAME) names no blob it keeps:
# the same bytes stay only if another row names them too (headwater.decorators.transient).
REFERENCED_ARTIFACT_KEYS = """SELECT DISTINCT a.key FROM artifacts a
    WHERE a.inline IS NULL AND NOT EXISTS (SELECT 1 FROM runs r JOIN run_tags t
        ON t.flow = r.flow AND t.run_id = r.run_id AND t.system = 1
        WHERE r.flow = a.flow AND r.run_id = a.run_id AND r.status = 'succeeded'
            AND t.tag = 'transient:' || a.name)"""
REFERENCED_LOG_KEYS = """SELECT stdout_key, stderr_key FROM attempts
    WHERE stdout_key IS NOT NULL OR stderr_key IS NOT NULL"""
# The manifests of attempts that did not end their task (their own blobs, kept for the client),
# and the @transient artifacts of succeeded runs, which such a manifest does not keep either.
ATTEMPT_DOCUMENTS = """SELECT flow, run_id, step, task_id, attempt, artifacts FROM attempts
    WHERE artifacts IS NOT NULL"""
TRANSIENT_OF_SUCCEEDED = """SELECT t.flow, t.run_id, substr(t.tag, 11) FROM run_tags t
    JOIN runs r ON r.flow = t.flow AND r.run_id = t.run_id
    WHERE r.status = 'succeeded' AND t.system = 1 AND substr(t.tag, 1, 10) = 'transient:'"""
RUN_DOCUMENTS = "SELECT flow, run_id, params, code FROM runs"
TASK_DOCUMENTS = "SELECT flow, run_id, step, task_id, frames, transition FROM tasks"

# -- statements shaped by the query ----------------------------------------------------------


def select_runs(*, num_tags: int, by_user: bool, succeeded_only: bool) -> str:
    """Runs of one flow, newest first. Parameters: flow, *tags, [user], limit (the dialect's
    NO_LIMIT: all)."""
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
        return "SELECT flow FROM run_tags WHERE tag = ? GROUP BY flow ORDER BY flow{text_order}"
    return (
        "SELECT flow FROM (SELECT flow FROM run_tags "
        f"WHERE tag IN ({', '.join(['?'] * num_tags)}) GROUP BY flow, run_id "
        f"HAVING COUNT(DISTINCT tag) = {num_tags:d}) AS matching "
        "GROUP BY flow ORDER BY flow{text_order}"
    )


def select_tasks_artifacts(num_tasks: int) -> str:
    """The artifacts of some tasks of one step. Parameters: flow, run_id, step, *task_ids."""
    return ("SELECT task_id, name, key, size, type_name, encoding, inline FROM artifacts "
            "WHERE flow = ? AND run_id = ? AND step = ? "
            f"AND task_id IN ({', '.join(['?'] * num_tasks)}) "
            "ORDER BY task_id{text_order}, name{text_order}")


def select_tasks_attempts(num_tasks: int) -> str:
    """The attempts of some tasks of one step, oldest first. Parameters as above."""
    return (f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE flow = ? AND run_id = ? AND step = ? "
            f"AND task_id IN ({', '.join(['?'] * num_tasks)}) "
            "ORDER BY task_id{text_order}, attempt")


BUILDERS: tuple[Callable[..., str], ...] = (select_runs, select_runs_page, select_flows_with_tags,
                                            select_tasks_artifacts, select_tasks_attempts)
FRAGMENTS = ("tags_of_run", "greatest", "text_order")


def statement_names() -> list[str]:
    """The names of the fixed statements (public, upper case), in the order written."""
    return [name for name, value in globals().items()
            if name.isupper() and not name.startswith("_") and name not in ("BUILDERS", "FRAGMENTS")
            and isinstance(value, (str, tuple))]


def render(*, placeholder: str, **fragments: str) -> dict[str, Any]:
    """Every shared statement and builder in one dialect: fragments filled in, then each ``?``
    replaced by ``placeholder``. Called once by each dialect module, at its import."""
    if set(fragments) != set(FRAGMENTS):
        raise ValueError(f"render() needs exactly the fragments {FRAGMENTS}, got {sorted(fragments)}")

    def one(text: str) -> str:
        text = text.format(**fragments)
        if placeholder == "%s":  # psycopg reads a lone % as a placeholder's start: double it
            text = text.replace("%", "%%")
        return text.replace("?", placeholder)

    rendered: dict[str, Any] = {}
    for name in statement_names():
        value = globals()[name]
        rendered[name] = one(value) if isinstance(value, str) else tuple(map(one, value))
    for builder in BUILDERS:
        rendered[builder.__name__] = _rendering(builder, one)
    return rendered


def _rendering(builder: Callable[..., str], one: Callable[[str], str]) -> Callable[..., str]:
    """``builder`` in one dialect; each shape (its arguments) rendered once and remembered."""

    @functools.lru_cache(maxsize=256)
    def build(*args: Any, **kwargs: Any) -> str:
        return one(builder(*args, **kwargs))

    functools.update_wrapper(build, builder)
    return build


# -- migrations after the first ----------------------------------------------------------------

def later_migrations(blob_type: str) -> tuple[tuple[str, ...], ...]:
    """Schema versions 2 onwards, which only add columns and an index: the same text in both
    dialects but for the type of bytes (``blob_type``: ``BLOB`` / ``BYTEA``). Version 1, the
    tables themselves, differs by dialect and stays in each dialect's module. Never edit a
    shipped migration: append a new one here (or, if the dialects disagree, in both modules)."""
    # v2: the code package a run's tasks were shipped with (JSON; NULL for local runs).
    v2 = ("ALTER TABLE runs ADD COLUMN code TEXT",)
    # v3: small artifacts' bytes kept in their row instead of a blob file or object of their own.
    v3 = (f"ALTER TABLE artifacts ADD COLUMN inline {blob_type}",)
    # v4: the environments (@pypi/@conda locks) a run's steps ran in (JSON; NULL when none).
    v4 = ("ALTER TABLE runs ADD COLUMN environments TEXT",)
    # v5: @cache: the cache key a succeeded task can be reused under, found by (flow, step, key).
    v5 = (
        "ALTER TABLE tasks ADD COLUMN cache_key TEXT",
        "CREATE INDEX tasks_by_cache_key ON tasks (flow, step, cache_key)",
    )
    # v6: what an attempt that did not end its task stored (a failed try @retry ran again, the
    # attempt @catch stood in after): its manifest as JSON. NULL for the attempt that ended the
    # task, whose artifacts are the task's rows in ``artifacts``, and for attempts recorded
    # before v6.
    v6 = ("ALTER TABLE attempts ADD COLUMN artifacts TEXT",)
    # v7: the tasks @catch stood in for, found by run (and step) without visiting the others: a
    # partial index over the rows the UI's "caught" filter asks for (built from the rows already
    # there when a database of v6 is upgraded; kept by the database on every later write).
    v7 = (f"CREATE INDEX tasks_caught ON tasks (flow, run_id, step, seq) WHERE {_CAUGHT}",)
    return (v2, v3, v4, v5, v6, v7)
