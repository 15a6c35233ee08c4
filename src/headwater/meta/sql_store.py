"""What every SQL backend shares: the writer and reader methods, and the row builders.

A backend supplies two things: ``_db``, its connections (``write()`` yields something with
``execute``/``executemany`` inside one transaction, nested uses joining; ``query()`` returns all
rows of one SELECT), and ``_sql``, the module holding its statements in its dialect (same names,
same parameter order, same result columns; most are written once in :mod:`.shared_sql`).
Everything else is here, so SQLite and PostgreSQL record and return exactly the same rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

from headwater import fault_points
from headwater.exceptions import MetadataError, NotFoundError
from headwater.meta import codec
from headwater.meta.base import MetadataStore
from headwater.meta.rows import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    AttemptRow,
    FlowRow,
    RunRow,
    StepRow,
    TaskRow,
    damaged,
)
from headwater.meta.tags import check_tags, with_user_tag
from headwater.records import (
    ArtifactRef,
    Frame,
    Manifest,
    TaskResult,
    was_caught,
)

TAG_SEPARATOR = "\x1f"  # between the flagged tags of a run, see shared_sql._RUN_COLUMNS


class SQLMetadata(MetadataStore):
    """The backend-independent part of a SQL metadata store (see the module docstring)."""

    _db: Any
    _sql: ModuleType

    def transaction(self) -> AbstractContextManager[Any]:
        return self._db.write()  # the handle it gives is the backend's, not for callers

    def close(self) -> None:
        self._db.close()

    # -- runs ---------------------------------------------------------------------------------

    def new_run(
        self,
        flow: str,
        *,
        user: str,
        tags: Sequence[str],
        system_tags: Sequence[str],
        params: Manifest,
        origin_run_id: str | None,
        pid: int,
        host: str,
        code: Mapping[str, str] | None = None,
        environments: Mapping[str, Any] | None = None,
        id_prefix: str = "",
    ) -> str:
        user_tags = check_tags(tags)
        system = with_user_tag(check_tags(system_tags), user)
        now = time.time()
        with self._db.write() as c:
            c.execute(self._sql.ENSURE_FLOW, (flow, now))
            c.execute(self._sql.BUMP_RUN_NUMBER, (flow,))
            number = c.execute(self._sql.GET_RUN_NUMBER, (flow,)).fetchall()[0][0]
            run_id = f"{id_prefix}{number}"
            c.execute(
                self._sql.INSERT_RUN,
                (
                    flow,
                    run_id,
                    number,
                    user,
                    now,
                    now,
                    pid,
                    host,
                    origin_run_id,
                    codec.dump_manifest(params),
                    json.dumps(dict(code), sort_keys=True) if code else None,
                    json.dumps(dict(environments), sort_keys=True) if environments else None,
                ),
            )
            c.executemany(
                self._sql.INSERT_TAG,
                [(flow, run_id, t, 0) for t in user_tags] + [(flow, run_id, t, 1) for t in system],
            )
        return run_id

    def run_finished(self, flow: str, run_id: str, status: str, finished_at: float) -> None:
        if status not in (SUCCEEDED, FAILED):
            raise ValueError(f"a run finishes as 'succeeded' or 'failed', not {status!r}")
        with self._db.write() as c:
            _require(
                c.execute(self._sql.FINISH_RUN, (status, finished_at, flow, run_id)).rowcount,
                flow,
                run_id,
            )

    def heartbeat(self, flow: str, run_id: str, at: float) -> None:
        with self._db.write() as c:
            _require(c.execute(self._sql.HEARTBEAT, (at, flow, run_id)).rowcount, flow, run_id)

    def add_tags(self, flow: str, run_id: str, tags: Sequence[str]) -> None:
        tags = check_tags(tags)
        with self._db.write() as c:
            _require(len(c.execute(self._sql.RUN_EXISTS, (flow, run_id)).fetchall()), flow, run_id)
            c.executemany(self._sql.INSERT_TAG, [(flow, run_id, t, 0) for t in tags])

    def remove_tags(self, flow: str, run_id: str, tags: Sequence[str]) -> None:
        tags = check_tags(tags)
        with self._db.write() as c:
            _require(len(c.execute(self._sql.RUN_EXISTS, (flow, run_id)).fetchall()), flow, run_id)
            c.executemany(self._sql.DELETE_USER_TAG, [(flow, run_id, t) for t in tags])

    # -- tasks and attempts -------------------------------------------------------------------

    def new_task(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        *,
        frames: Sequence[Frame],
        parents: Sequence[str],
        origin_pathspec: str | None = None,
    ) -> None:
        with self._db.write() as c:
            c.execute(
                self._sql.INSERT_TASK,
                (
                    flow,
                    run_id,
                    step,
                    task_id,
                    "running",
                    time.time(),
                    None,
                    codec.dump_frames(frames),
                    codec.dump_strings(parents),
                    origin_pathspec,
                    0,
                    None,
                ),
            )

    def task_started(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        *,
        frames: Sequence[Frame],
        parents: Sequence[str],
        started_at: float,
    ) -> None:
        # The task's row is written with its first attempt already counted: two statements
        # where new_task + attempt_started take three, the same rows.
        key = (flow, run_id, step, task_id)
        with self._db.write() as c:
            c.execute(
                self._sql.INSERT_TASK,
                (
                    *key,
                    RUNNING,
                    started_at,
                    None,
                    codec.dump_frames(frames),
                    codec.dump_strings(parents),
                    None,
                    1,
                    None,
                ),
            )
            c.execute(self._sql.START_ATTEMPT, (*key, 0, started_at))

    def attempt_started(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int, started_at: float
    ) -> None:
        key = (flow, run_id, step, task_id)
        with self._db.write() as c:
            _require(c.execute(self._sql.TASK_ATTEMPT_STARTED, (attempt + 1, *key)).rowcount, *key)
            c.execute(self._sql.START_ATTEMPT, (*key, attempt, started_at))

    def attempt_finished(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        result: TaskResult,
        *,
        stdout_key: str | None,
        stderr_key: str | None,
        final: bool,
    ) -> None:
        key = (flow, run_id, step, task_id)
        status = SUCCEEDED if result.ok else FAILED
        finished_at = result.finished_at or time.time()
        with self._db.write() as c:
            if final:  # the attempt count and the task's end in one UPDATE
                update = c.execute(self._sql.FINISH_TASK_ATTEMPTS,
                                   (attempt + 1, status, finished_at, _transition(result), *key))
            else:
                update = c.execute(self._sql.TASK_ATTEMPT_COUNT, (attempt + 1, *key))
            _require(update.rowcount, *key)
            fault_points.hold("record.task-row")
            c.execute(
                self._sql.FINISH_ATTEMPT,
                (
                    *key,
                    attempt,
                    status,
                    result.started_at or None,
                    finished_at,
                    codec.dump_failure(result.failure),
                    stdout_key,
                    stderr_key,
                ),
            )
            if final:
                c.executemany(self._sql.INSERT_ARTIFACT, _artifact_rows(key, result.manifest))
            elif result.manifest:  # an attempt a retry or @catch follows keeps its own
                c.execute(self._sql.SET_ATTEMPT_ARTIFACTS,
                          (codec.dump_manifest(result.manifest), *key, attempt))

    def clone_task(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        *,
        origin_pathspec: str,
        frames: Sequence[Frame],
        parents: Sequence[str],
        manifest: Manifest,
        stdout_key: str | None,
        stderr_key: str | None,
        result: TaskResult | None = None,
    ) -> None:
        key = (flow, run_id, step, task_id)
        now = time.time()
        with self._db.write() as c:
            c.execute(
                self._sql.INSERT_TASK,
                (
                    *key,
                    SUCCEEDED,
                    now,
                    now,
                    codec.dump_frames(frames),
                    codec.dump_strings(parents),
                    origin_pathspec,
                    1,
                    _transition(result) if result is not None else None,
                ),
            )
            fault_points.hold("record.clone-row")
            c.execute(
                self._sql.FINISH_ATTEMPT,
                (*key, 0, SUCCEEDED, now, now, None, stdout_key, stderr_key),
            )
            c.executemany(self._sql.INSERT_ARTIFACT, _artifact_rows(key, manifest))

    # -- step cache (@cache) ------------------------------------------------------------------

    def set_cache_key(self, flow: str, run_id: str, step: str, task_id: str,
                      cache_key: str) -> None:
        key = (flow, run_id, step, task_id)
        with self._db.write() as c:
            _require(c.execute(self._sql.SET_CACHE_KEY, (cache_key, *key)).rowcount, *key)

    def find_cached_task(self, flow: str, step: str, cache_key: str) -> TaskRow | None:
        rows = self._db.query(self._sql.FIND_CACHED_TASK, (flow, step, cache_key))
        return _task_row(rows[0]) if rows else None

    def cache_entries(self, flow: str) -> dict[str, int]:
        return {step: int(count)
                for step, count in self._db.query(self._sql.CACHE_ENTRIES, (flow,))}

    def clear_cache(self, flow: str, step: str | None = None) -> int:
        with self._db.write() as c:
            if step is None:
                return int(c.execute(self._sql.CLEAR_FLOW_CACHE, (flow,)).rowcount)
            return int(c.execute(self._sql.CLEAR_STEP_CACHE, (flow, step)).rowcount)


    # -- deleting runs and collecting garbage -------------------------------------------------

    def delete_run(self, flow: str, run_id: str,
                   check: Callable[[], object] | None = None) -> None:
        with self._db.write() as c:
            for statement in self._sql.LOCK_RUNS:
                c.execute(statement)
            if check is not None:
                check()  # reads committed rows; none can be committed until this one ends
            _require(len(c.execute(self._sql.RUN_EXISTS, (flow, run_id)).fetchall()), flow, run_id)
            for number, statement in enumerate(self._sql.DELETE_RUN):
                c.execute(statement, (flow, run_id))
                if number == 0:
                    fault_points.hold("delete.rows")

    def running_runs(self) -> list[RunRow]:
        return [self._checked(_run_row(row)) for row in self._db.query(self._sql.LIST_RUNNING)]

    def run_ids(self) -> set[tuple[str, str]]:
        return {(flow, run_id) for flow, run_id in self._db.query(self._sql.LIST_RUN_IDS)}

    def referenced_blob_keys(self) -> set[str]:
        keys = {key for (key,) in self._db.query(self._sql.REFERENCED_ARTIFACT_KEYS)}
        for stdout_key, stderr_key in self._db.query(self._sql.REFERENCED_LOG_KEYS):
            keys.update(k for k in (stdout_key, stderr_key) if k)
        keys.update(self._attempt_blob_keys())
        # A record that cannot be read might name blobs still in use: it stops the collection,
        # naming the record, rather than a decoder's traceback (or a blob freed while referred to).
        for flow, run_id, params, code in self._db.query(self._sql.RUN_DOCUMENTS):
            head = [flow, run_id]
            try:
                keys.update(ref.key for ref in codec.load_manifest(params).values()
                            if ref.inline is None)
                if code:
                    keys.add(codec.load_code_key(code))
            except (ValueError, TypeError, AttributeError, KeyError) as err:
                raise damaged_record("run", head, "params or code", err) from None
        for *head, frames, transition in self._db.query(self._sql.TASK_DOCUMENTS):
            try:
                keys.update(f.items_key for f in codec.load_frames(frames) if f.items_key)
                if transition:
                    keys.update(_transition_keys(codec.load_transition(transition) or {}))
            except (ValueError, TypeError, AttributeError, KeyError) as err:
                raise damaged_record("task", head, "frames or transition", err) from None
        return keys

    def _attempt_blob_keys(self) -> set[str]:
        """Blobs named by the manifests of attempts that did not end their task, but for the
        @transient artifacts of succeeded runs (freed as the task's own are)."""
        documents = self._db.query(self._sql.ATTEMPT_DOCUMENTS)
        if not documents:  # most stores: no failed attempt stored anything
            return set()
        freed = {tuple(row) for row in self._db.query(self._sql.TRANSIENT_OF_SUCCEEDED)}
        keys: set[str] = set()
        for *head, attempt, artifacts in documents:
            try:
                manifest = codec.load_manifest(artifacts)
            except (ValueError, TypeError, AttributeError, KeyError) as err:
                raise damaged_record(f"attempt {attempt} of task", head, "artifacts",
                                     err) from None
            keys.update(ref.key for name, ref in manifest.items()
                        if ref.inline is None and (head[0], head[1], name) not in freed)
        return keys

    # -- readers: flows and runs --------------------------------------------------------------

    def list_flows(self, *, tags: Sequence[str] = ()) -> list[str]:
        tags = tuple(tags)
        if not tags:
            return [name for (name,) in self._db.query(self._sql.LIST_FLOWS)]
        return [
            name for (name,) in self._db.query(self._sql.select_flows_with_tags(len(tags)), tags)
        ]

    def tag_names(self, flow: str | None = None, *, limit: int = 10_000) -> list[str]:
        if flow is None:
            return [tag for (tag,) in self._db.query(self._sql.TAG_NAMES, (limit,))]
        return [tag for (tag,) in self._db.query(self._sql.FLOW_TAG_NAMES, (flow, limit))]

    def get_flow(self, flow: str) -> FlowRow | None:
        rows = self._db.query(self._sql.GET_FLOW, (flow,))
        return FlowRow(*rows[0]) if rows else None

    def list_runs(
        self,
        flow: str,
        *,
        tags: Sequence[str] = (),
        user: str | None = None,
        limit: int | None = None,
    ) -> list[RunRow]:
        return self._select_runs(flow, tuple(tags), user, limit, succeeded_only=False)

    def latest_successful_run(
        self, flow: str, *, tags: Sequence[str] = (), user: str | None = None
    ) -> RunRow | None:
        rows = self._select_runs(flow, tuple(tags), user, 1, succeeded_only=True)
        return rows[0] if rows else None

    def latest_runs(self) -> dict[str, RunRow]:
        rows = self._db.query(self._sql.LATEST_RUNS, ())
        return {row.flow: self._checked(row) for row in map(_run_row, rows)}

    def get_run(self, flow: str, run_id: str) -> RunRow | None:
        rows = self._db.query(self._sql.GET_RUN, (flow, run_id))
        return self._checked(_run_row(rows[0])) if rows else None

    def _checked(self, row: RunRow) -> RunRow:
        """``row`` with what the backend can tell about its scheduler's liveness (a hook: the
        SQLite backend checks the run lock; see :mod:`headwater.meta.liveness`)."""
        return row

    def _select_runs(
        self,
        flow: str,
        tags: tuple[str, ...],
        user: str | None,
        limit: int | None,
        *,
        succeeded_only: bool,
    ) -> list[RunRow]:
        statement = self._sql.select_runs(
            num_tags=len(tags), by_user=user is not None, succeeded_only=succeeded_only
        )
        params = (
            flow,
            *tags,
            *([user] if user is not None else []),
            self._sql.NO_LIMIT if limit is None else _bounded(limit),
        )
        return [self._checked(_run_row(row)) for row in self._db.query(statement, params)]

    def page_runs(
        self,
        *,
        flow: str | None = None,
        tags: Sequence[str] = (),
        user: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[RunRow], bool]:
        tags = tuple(tags)
        # A crashed run is recorded 'running' but reads 'failed': ask for both, then keep the
        # rows whose live status is the one asked for.
        statuses = () if status is None else (status, RUNNING) if status == FAILED else (status,)
        statement = self._sql.select_runs_page(by_flow=flow is not None, num_tags=len(tags),
                                               by_user=user is not None,
                                               num_statuses=len(statuses))
        params = (*([flow] if flow is not None else []), *tags,
                  *([user] if user is not None else []), *statuses, _bounded(limit) + 1,
                  _bounded(offset))
        rows = [self._checked(_run_row(row)) for row in self._db.query(statement, params)]
        more = len(rows) > limit
        rows = rows[:limit]
        if status is not None:
            rows = [row for row in rows if row.live_status == status]
        return rows, more

    # -- readers: steps, tasks, attempts, artifacts -------------------------------------------

    def list_steps(self, flow: str, run_id: str) -> list[str]:
        return [row.step for row in self.list_step_rows(flow, run_id)]

    def list_step_rows(self, flow: str, run_id: str) -> list[StepRow]:
        return [StepRow(*row) for row in self._db.query(self._sql.LIST_STEPS, (flow, run_id))]

    def get_step(self, flow: str, run_id: str, step: str) -> StepRow | None:
        rows = self._db.query(self._sql.GET_STEP, (flow, run_id, step))
        return StepRow(*rows[0]) if rows else None

    def list_tasks(
        self, flow: str, run_id: str, step: str | None = None, *, limit: int | None = None
    ) -> list[TaskRow]:
        limit = self._sql.NO_LIMIT if limit is None else _bounded(limit)
        if step is None:
            rows = self._db.query(self._sql.LIST_RUN_TASKS, (flow, run_id, limit))
        else:
            rows = self._db.query(self._sql.LIST_STEP_TASKS, (flow, run_id, step, limit))
        return _task_rows(rows)

    def newest_task(self, flow: str, run_id: str, step: str) -> TaskRow | None:
        rows = self._db.query(self._sql.NEWEST_STEP_TASK, (flow, run_id, step))
        return _task_row(rows[0]) if rows else None

    def page_tasks(self, flow: str, run_id: str, step: str | None = None, *, limit: int = 100,
                   offset: int = 0, status: str | tuple[str, str] | None = None) -> list[TaskRow]:
        where = (flow, run_id) + (() if step is None else (step,))
        if status is None:
            sql = self._sql.PAGE_RUN_TASKS if step is None else self._sql.PAGE_STEP_TASKS
        elif isinstance(status, tuple):
            sql = (self._sql.PAGE_RUN_TASKS_BY_TWO_STATUSES if step is None
                   else self._sql.PAGE_STEP_TASKS_BY_TWO_STATUSES)
            where += status
        else:
            sql = (self._sql.PAGE_RUN_TASKS_BY_STATUS if step is None
                   else self._sql.PAGE_STEP_TASKS_BY_STATUS)
            where += (status,)
        return _task_rows(self._db.query(sql, (*where, _bounded(limit), _bounded(offset))))

    def caught_tasks(self, flow: str, run_id: str, step: str | None = None, *, limit: int = 100,
                     offset: int = 0) -> list[TaskRow]:
        where = (flow, run_id) + (() if step is None else (step,))
        sql = self._sql.PAGE_RUN_CAUGHT_TASKS if step is None else self._sql.PAGE_STEP_CAUGHT_TASKS
        rows = self._db.query(sql, (*where, _bounded(limit), _bounded(offset)))
        # the text match finds the mark as a JSON key; the facts decoded confirm it
        return [t for t in _task_rows(rows)
                if was_caught((t.transition or {}).get("metadata"))]

    def task_changes(self, flow: str, run_id: str, since: float) -> list[TaskRow]:
        rows = self._db.query(self._sql.TASK_CHANGES, (flow, run_id, since, since))
        return _task_rows(rows)

    def failed_tasks(self, flow: str, run_id: str, *, limit: int = 10) -> list[TaskRow]:
        rows = self._db.query(self._sql.FAILED_TASKS, (flow, run_id, _bounded(limit)))
        return _task_rows(rows)

    def step_status_counts(self, flow: str, run_id: str) -> list[tuple]:
        return [tuple(row) for row in
                self._db.query(self._sql.STEP_STATUS_COUNTS, (flow, run_id))]

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRow | None:
        rows = self._db.query(self._sql.GET_TASK, (flow, run_id, step, task_id))
        return _task_row(rows[0]) if rows else None

    def get_artifacts(self, flow: str, run_id: str, step: str, task_id: str) -> Manifest:
        rows = self._db.query(self._sql.GET_ARTIFACTS, (flow, run_id, step, task_id))
        return {name: _ref(*ref) for name, *ref in rows}

    def get_step_artifacts(self, flow: str, run_id: str, step: str) -> dict[str, Manifest]:
        # The tasks of a foreach mostly hold the same references (the list, the parameters,
        # what start made): one object each here, not one per task (resume keeps these for a
        # whole step, 100,000 tasks' worth in a large foreach).
        manifests: dict[str, Manifest] = {}
        same: dict[tuple, ArtifactRef] = {}
        names: dict[str, str] = {}
        for task_id, name, *ref in self._db.query(
            self._sql.GET_STEP_ARTIFACTS, (flow, run_id, step)
        ):
            found = same.get(key := tuple(ref))
            if found is None:
                found = same[key] = _ref(*ref)
            manifests.setdefault(task_id, {})[names.setdefault(name, name)] = found
        return manifests

    def iter_tasks(self, flow: str, run_id: str, *, page: int = 1000) -> Iterator[TaskRow]:
        after = ("", "")
        while True:
            rows = self._db.query(self._sql.PAGE_RUN_TASKS_BY_KEY, (flow, run_id, *after, page))
            yield from _task_rows(rows)
            if len(rows) < page:
                return
            after = (rows[-1][2], rows[-1][3])

    def get_tasks_artifacts(self, flow: str, run_id: str, step: str,
                            task_ids: Sequence[str]) -> dict[str, Manifest]:
        manifests: dict[str, Manifest] = {}
        same: dict[tuple, ArtifactRef] = {}  # as get_step_artifacts: one object per reference
        names: dict[str, str] = {}
        ids = _padded(task_ids)
        if not ids:
            return manifests
        for task_id, name, *ref in self._db.query(
            self._sql.select_tasks_artifacts(len(ids)), (flow, run_id, step, *ids)
        ):
            found = same.get(key := tuple(ref))
            if found is None:
                found = same[key] = _ref(*ref)
            manifests.setdefault(task_id, {})[names.setdefault(name, name)] = found
        return manifests

    def list_tasks_attempts(self, flow: str, run_id: str, step: str,
                            task_ids: Sequence[str]) -> dict[str, list[AttemptRow]]:
        attempts: dict[str, list[AttemptRow]] = {}
        ids = _padded(task_ids)
        if not ids:
            return attempts
        for row in self._db.query(self._sql.select_tasks_attempts(len(ids)),
                                  (flow, run_id, step, *ids)):
            attempt = _attempt_row(row)
            attempts.setdefault(attempt.task_id, []).append(attempt)
        return attempts

    def list_attempts(self, flow: str, run_id: str, step: str, task_id: str) -> list[AttemptRow]:
        rows = self._db.query(self._sql.LIST_ATTEMPTS, (flow, run_id, step, task_id))
        return [_attempt_row(row) for row in rows]

    def list_step_attempts(self, flow: str, run_id: str, step: str) -> dict[str, list[AttemptRow]]:
        attempts: dict[str, list[AttemptRow]] = {}
        for row in self._db.query(self._sql.LIST_STEP_ATTEMPTS, (flow, run_id, step)):
            attempt = _attempt_row(row)
            attempts.setdefault(attempt.task_id, []).append(attempt)
        return attempts


def _padded(task_ids: Sequence[str]) -> list[str]:
    """``task_ids`` made up to a multiple of 64 by repeating the last (the same ids again match
    nothing more): statements shaped by how many ids they take come in few shapes."""
    ids = list(dict.fromkeys(task_ids))
    if ids and len(ids) % 64:
        ids += [ids[-1]] * (64 - len(ids) % 64)
    return ids


# -- row builders ----------------------------------------------------------------------------


def _run_row(row: tuple) -> RunRow:
    *head, params, code, environments, tags = row
    user_tags: list[str] = []
    system_tags: list[str] = []
    for flagged in tags.split(TAG_SEPARATOR) if tags else ():
        (system_tags if flagged[0] == "1" else user_tags).append(flagged[1:])
    return RunRow(
        *head,
        params_json=params,
        tags=tuple(sorted(user_tags)),
        system_tags=tuple(sorted(system_tags)),
        code_json=code,
        environments_json=environments,
    )


def _task_rows(rows: Sequence[tuple]) -> list[TaskRow]:
    """Rows read together share one decoder: what their documents repeat is decoded once."""
    docs = codec.TaskDocuments()
    return [_task_row(row, docs) for row in rows]


def _task_row(row: tuple, docs: codec.TaskDocuments | None = None) -> TaskRow:
    *head, frames, parents, origin_pathspec, attempts, transition = row
    docs = docs or codec.TaskDocuments()
    column = "frames"
    try:
        created_at, finished_at = head[5], head[6]
        if not (type(created_at) is float and type(attempts) is int
                and (finished_at is None or type(finished_at) is float)):  # else: which is wrong
            _check_numbers(("created_at", created_at, False), ("finished_at", finished_at, True),
                           ("attempts", attempts, False, int))
        decoded_frames = docs.frames(frames)
        column = "parents"
        decoded_parents = docs.strings(parents)
        column = "transition"
        decoded_transition = docs.transition(transition)
    except _WrongColumn as err:
        raise damaged_task(head, err.column, err) from None
    except (ValueError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise damaged_task(head, column, err) from None
    return TaskRow(
        *head,
        frames=decoded_frames,
        parents=decoded_parents,
        origin_pathspec=origin_pathspec if isinstance(origin_pathspec, str) else None,
        attempts=attempts,
        transition=decoded_transition,
    )


class _WrongColumn(ValueError):
    def __init__(self, column: str) -> None:
        super().__init__("not a number")
        self.column = column


def _check_numbers(*columns: tuple) -> None:
    """Each ``(name, value, may_be_none[, type])`` holds a number (an int where asked): SQLite
    keeps whatever a program wrote in a column, text included."""
    for name, value, may_be_none, *kind in columns:
        if value is None and may_be_none:
            continue
        wanted = kind[0] if kind else (int, float)
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise _WrongColumn(name)


def damaged_task(head: list, column: str, err: Exception) -> MetadataError:
    """The error for a task record no headwater wrote (changed by hand or by another program):
    which task, which field, and what to do, never a decoder's traceback."""
    return damaged_record("task", head, column, err)


def damaged_record(kind: str, head: list, column: str, err: Exception) -> MetadataError:
    """:func:`damaged_task` for a ``kind`` of record (``task``, ``run``) whose ``head`` starts
    with its pathspec's parts: the same error a row's own checked fields raise
    (:func:`headwater.meta.rows.damaged`)."""
    pathspec = "/".join(str(part) for part in head[:4])
    run = "/".join(str(part) for part in head[:2])
    return damaged(f"{kind} {pathspec}", column, err, run)


def _transition(result: TaskResult) -> str | None:
    """Where a finished task went next (resume clones it without running it again), plus the
    facts of ``result.metadata`` (where it ran) and its cards, kept for failed tasks too."""
    transition: dict = {}
    if result.ok:
        transition = {
            "next_steps": list(result.next_steps),
            "foreach_count": result.foreach_count,
            "foreach_items_key": result.foreach_items_key,
        }
        if result.foreach_unbounded:
            transition["foreach_unbounded"] = True
    if result.metadata:
        transition["metadata"] = result.metadata
    if result.cards:  # @card: the records of the task's rendered cards (see headwater.cards)
        transition["cards"] = result.cards
    if result.graph:  # the start task: the run's graph (Run["_parameters"], Run.end_task)
        transition["graph"] = result.graph
    return json.dumps(transition) if transition else None


def _transition_keys(transition: dict) -> list[str]:
    """Blobs a task's transition record names: its foreach items and its cards."""
    keys = [card["key"] for card in transition.get("cards") or () if card.get("key")]
    if transition.get("foreach_items_key"):
        keys.append(transition["foreach_items_key"])
    return keys


def _attempt_row(row: tuple) -> AttemptRow:
    *head, failure, stdout_key, stderr_key, artifacts = row
    column = "failure"
    try:
        _check_numbers(("attempt", head[4], False, int), ("started_at", head[6], True),
                       ("finished_at", head[7], True))
        decoded = codec.load_failure(failure)
    except _WrongColumn as err:
        raise damaged_task(head, err.column, err) from None
    except (ValueError, TypeError) as err:
        raise damaged_task(head, column, err) from None
    return AttemptRow(*head, failure=decoded, stdout_key=stdout_key, stderr_key=stderr_key,
                      artifacts_json=artifacts if isinstance(artifacts, str) else None)


def _ref(key: str, size: int, type_name: str, encoding: str, inline: Any) -> ArtifactRef:
    # PostgreSQL hands BYTEA back as memoryview, SQLite BLOB as bytes: the record holds bytes.
    return ArtifactRef(key, size, type_name, encoding, None if inline is None else bytes(inline))


def _artifact_rows(key: tuple[str, str, str, str], manifest: Manifest) -> list[tuple]:
    return [
        (*key, name, ref.key, ref.size, ref.type_name, ref.encoding, ref.inline)
        for name, ref in manifest.items()
    ]


def _require(count: int, *pathspec: str) -> None:
    """Writers name the run or task they could not find instead of silently doing nothing."""
    if count == 0:
        what = "run" if len(pathspec) == 2 else "task"
        raise NotFoundError(
            f"{what} {'/'.join(pathspec)} is not registered in the metadata",
            fix="register it first (new_run / new_task)",
        )


MAX_ROWS = 1 << 62
"""The largest count or offset handed to the database: both backends hold 64-bit integers, and
``headwater runs -n 99999999999999999999`` (or the client's ``limit=``) was an ``OverflowError``
traceback from SQLite (a ``DataError`` from PostgreSQL). No database holds more rows."""


def _bounded(number: int) -> int:
    return min(number, MAX_ROWS)
