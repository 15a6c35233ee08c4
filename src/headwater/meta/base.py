"""The metadata interface: what the scheduler records and what the client reads back.

One writer per run (its scheduler; the client only touches tags), any number of readers. Every
reader call is a single round trip that returns complete rows, so listing a thousand runs, the
steps of a run or the tasks of a step never costs a query per item (Metaflow issue 2942).

A backend implements every abstract method; :class:`headwater.meta.sqlite.SQLiteMetadata` is the
embedded default. Writer methods called inside :meth:`MetadataStore.transaction` share its
commit; outside one, each is its own transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from headwater.exceptions import MetadataError
from headwater.meta.rows import AttemptRow, FlowRow, RunRow, StepRow, TaskRow, reused_from_cache
from headwater.meta.run_lock import RunLock
from headwater.records import Frame, Manifest, TaskResult, was_caught


class MetadataStore(ABC):
    """Flows, runs, steps, tasks, attempts, artifacts and tags of one headwater installation."""

    readonly: bool = False

    # -- lifecycle ---------------------------------------------------------------------------

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Group the writer calls made inside the ``with`` block into one atomic commit."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. The store reopens them if used again."""

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writers (the scheduler) -------------------------------------------------------------

    @abstractmethod
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
        """Register a run and return its id: "1", "2", ... per flow, unique under concurrency.

        ``code`` describes the code package the tasks were shipped with (its blob ``key``, the
        flow file's ``path`` in it, ``module`` and ``class``); local runs have none.
        ``environments`` records the @pypi/@conda locks the steps run with (``steps``: step ->
        lock id, ``locks``: lock id -> lock); None when every step runs in the flow's interpreter.

        ``user:<user>`` is always added to the system tags, so the run is in its user's namespace.
        ``id_prefix`` goes before the number (``spin-3``: a spun task's run never shares an id,
        and so an S3 prefix or a card path, with a run of the flow).
        """

    @abstractmethod
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
        """Register a task (status 'running') before its first attempt starts."""

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
        """Register a task and start its first attempt: :meth:`new_task` then
        :meth:`attempt_started` (attempt 0), which a backend may write in fewer statements."""
        with self.transaction():
            self.new_task(flow, run_id, step, task_id, frames=frames, parents=parents)
            self.attempt_started(flow, run_id, step, task_id, 0, started_at)

    @abstractmethod
    def attempt_started(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int, started_at: float
    ) -> None:
        """Record that attempt ``attempt`` (0-based) of a task began."""

    @abstractmethod
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
        """Record how an attempt ended; when ``final``, also the task's status and artifacts."""

    @abstractmethod
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
        """Record a succeeded task that resume copied from ``origin_pathspec`` (same blobs).

        ``result`` carries the origin's transition, so a later resume can clone the clone.
        """

    # @cache. Not abstract: a backend without them simply never reuses a task.
    def set_cache_key(self, flow: str, run_id: str, step: str, task_id: str,
                      cache_key: str) -> None:
        """Record that the succeeded task may be reused by a later task with ``cache_key``."""
        return None

    def find_cached_task(self, flow: str, step: str, cache_key: str) -> TaskRow | None:
        """The newest succeeded task of ``flow``'s ``step`` recorded under ``cache_key``."""
        return None

    def cache_entries(self, flow: str) -> dict[str, int]:
        """Step -> how many of ``flow``'s tasks of it a later task could reuse (hold a key)."""
        return {}

    def clear_cache(self, flow: str, step: str | None = None) -> int:
        """Drop the cache entries of ``flow`` (of its ``step`` only, when given): no later task
        reuses them. The tasks stay, with their data. Returns how many were dropped."""
        return 0

    @abstractmethod
    def run_finished(self, flow: str, run_id: str, status: str, finished_at: float) -> None:
        """Set a run's final status: 'succeeded' or 'failed'."""

    @abstractmethod
    def heartbeat(self, flow: str, run_id: str, at: float) -> None:
        """Prove the scheduler is alive; see :mod:`headwater.meta.liveness`."""

    def run_lock(self, flow: str, run_id: str) -> RunLock:
        """The lock a run's scheduler holds while it runs (:mod:`headwater.meta.run_lock`);
        one that does nothing where the backend has no place for it."""
        return RunLock(None)

    @abstractmethod
    def add_tags(self, flow: str, run_id: str, tags: Sequence[str]) -> None:
        """Add user tags to a run (already present ones are ignored)."""

    @abstractmethod
    def remove_tags(self, flow: str, run_id: str, tags: Sequence[str]) -> None:
        """Remove user tags from a run. System tags are never removed."""

    # -- deleting runs and collecting garbage (headwater.maintenance) ------------------------

    def delete_run(self, flow: str, run_id: str,
                   check: Callable[[], object] | None = None) -> None:
        """Remove every row of a run (its tasks, attempts, artifacts and tags) in one
        transaction: readers see the whole run or none of it. Its blobs stay until ``gc``.

        ``check`` (whether the run may go: not live, no live resume of it) runs inside that
        transaction, with new runs kept out until it commits, so no resume can register itself
        from this run between the check and the delete."""
        raise MetadataError(f"the metadata backend {type(self).__name__} cannot delete runs "
                            f"(asked to delete {flow}/{run_id})")

    def running_runs(self) -> list[RunRow]:
        """Every run of every flow recorded as 'running', with its liveness as readers see it."""
        raise MetadataError(f"the metadata backend {type(self).__name__} cannot list runs")

    def run_ids(self) -> set[tuple[str, str]]:
        """``(flow, run_id)`` of every run recorded."""
        raise MetadataError(f"the metadata backend {type(self).__name__} cannot list runs")

    def referenced_blob_keys(self) -> set[str]:
        """The content key of every blob a recorded run refers to, whatever its status: stored
        artifacts, parameters (IncludeFile contents), logs, code packages, foreach item lists
        and cards."""
        raise MetadataError(
            f"the metadata backend {type(self).__name__} cannot list the blobs runs refer to"
        )

    # -- readers -----------------------------------------------------------------------------

    @abstractmethod
    def list_flows(self, *, tags: Sequence[str] = ()) -> list[str]:
        """Flow names, sorted; with ``tags``, only flows having a run that carries all of them."""

    def tag_names(self, flow: str | None = None, *, limit: int = 10_000) -> list[str]:
        """The distinct tags (user and system) the runs of ``flow`` (or of every flow) carry,
        sorted, at most ``limit`` of them: what a tag filter's lookalike note compares with."""
        flows = [flow] if flow is not None else self.list_flows()
        seen = {tag for name in flows for row in self.list_runs(name) for tag in row.all_tags}
        return sorted(seen)[:limit]

    @abstractmethod
    def get_flow(self, flow: str) -> FlowRow | None: ...

    @abstractmethod
    def list_runs(
        self,
        flow: str,
        *,
        tags: Sequence[str] = (),
        user: str | None = None,
        limit: int | None = None,
    ) -> list[RunRow]:
        """Runs of a flow, newest first; ``tags`` must all be present (user or system)."""

    @abstractmethod
    def get_run(self, flow: str, run_id: str) -> RunRow | None: ...

    @abstractmethod
    def latest_successful_run(
        self, flow: str, *, tags: Sequence[str] = (), user: str | None = None
    ) -> RunRow | None: ...

    @abstractmethod
    def list_steps(self, flow: str, run_id: str) -> list[str]:
        """Step names of a run, in the order their first task was registered."""

    @abstractmethod
    def list_step_rows(self, flow: str, run_id: str) -> list[StepRow]:
        """Like :meth:`list_steps`, with each step's times and task count."""

    @abstractmethod
    def get_step(self, flow: str, run_id: str, step: str) -> StepRow | None: ...

    @abstractmethod
    def list_tasks(
        self, flow: str, run_id: str, step: str | None = None, *, limit: int | None = None
    ) -> list[TaskRow]:
        """Tasks of a run (or of one step), in registration order."""

    def newest_task(self, flow: str, run_id: str, step: str) -> TaskRow | None:
        """The step's most recently registered task (None if it has none)."""
        tasks = self.list_tasks(flow, run_id, step)
        return tasks[-1] if tasks else None

    @abstractmethod
    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRow | None: ...

    @abstractmethod
    def get_artifacts(self, flow: str, run_id: str, step: str, task_id: str) -> Manifest:
        """The artifacts a finished task recorded (empty while it runs)."""

    @abstractmethod
    def get_step_artifacts(self, flow: str, run_id: str, step: str) -> dict[str, Manifest]:
        """task_id -> manifest for every task of a step, in one query."""

    @abstractmethod
    def list_attempts(self, flow: str, run_id: str, step: str, task_id: str) -> list[AttemptRow]:
        """Attempts of a task, oldest first."""

    @abstractmethod
    def list_step_attempts(
        self, flow: str, run_id: str, step: str
    ) -> Mapping[str, list[AttemptRow]]:
        """task_id -> attempts (oldest first) for every task of a step, in one query."""

    def iter_tasks(self, flow: str, run_id: str, *, page: int = 1000) -> Iterator[TaskRow]:
        """Every task of a run, read ``page`` rows at a time, in no promised order: what walks a
        whole run (resume's plan) without holding all its rows at once. SQL backends page
        through their key index; this default reads the listing."""
        yield from self.list_tasks(flow, run_id)

    def get_tasks_artifacts(self, flow: str, run_id: str, step: str,
                            task_ids: Sequence[str]) -> dict[str, Manifest]:
        """task_id -> manifest for some tasks of a step (those with none are left out): one
        query in SQL backends, one a task in this default."""
        found = {t: self.get_artifacts(flow, run_id, step, t) for t in task_ids}
        return {t: manifest for t, manifest in found.items() if manifest}

    def list_tasks_attempts(self, flow: str, run_id: str, step: str,
                            task_ids: Sequence[str]) -> dict[str, list[AttemptRow]]:
        """task_id -> attempts (oldest first) for some tasks of a step (those with none are
        left out): one query in SQL backends, one a task in this default."""
        found = {t: self.list_attempts(flow, run_id, step, t) for t in task_ids}
        return {t: attempts for t, attempts in found.items() if attempts}

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
        """One page of runs (of one flow, or of every flow), newest first, and whether more
        follow. ``status`` is the live one: a crashed run counts as 'failed', not 'running'.

        This default reads whole listings (fine for a small store); SQL backends answer with
        one LIMIT/OFFSET query, so a page costs the same at 10,000 runs as at 10.
        """
        flows = [flow] if flow is not None else self.list_flows()
        rows = [row for name in flows for row in self.list_runs(name, tags=tags, user=user)]
        rows.sort(key=lambda r: (-r.created_at, r.flow, -r.run_number))
        if status is not None:
            rows = [row for row in rows if row.live_status == status]
        return rows[offset:offset + limit], len(rows) > offset + limit

    def latest_runs(self) -> dict[str, RunRow]:
        """flow -> its newest run, for every flow that has one. SQL backends answer in one
        query; this default asks each flow."""
        out = {}
        for flow in self.list_flows():
            rows = self.list_runs(flow, limit=1)
            if rows:
                out[flow] = rows[0]
        return out

    def page_tasks(self, flow: str, run_id: str, step: str | None = None, *, limit: int = 100,
                   offset: int = 0, status: str | tuple[str, str] | None = None) -> list[TaskRow]:
        """One page of a run's (or a step's) tasks, in registration order, of one ``status``
        (or either of a pair) if given. SQL backends cut the page in the query; this default
        slices the listing."""
        if status is None:
            return self.list_tasks(flow, run_id, step, limit=offset + limit)[offset:]
        wanted = status if isinstance(status, tuple) else (status,)
        rows = [t for t in self.list_tasks(flow, run_id, step) if t.status in wanted]
        return rows[offset:offset + limit]

    def caught_tasks(self, flow: str, run_id: str, step: str | None = None, *, limit: int = 100,
                     offset: int = 0) -> list[TaskRow]:
        """One page of a run's (or a step's) tasks whose step raised and @catch caught it
        (:func:`headwater.records.was_caught`), in registration order. SQL backends keep the
        other tasks in the database; this default filters the listing."""
        rows = [t for t in self.list_tasks(flow, run_id, step) if t.status == "succeeded"
                and was_caught((t.transition or {}).get("metadata"))]
        return rows[offset:offset + limit]

    def task_changes(self, flow: str, run_id: str, since: float) -> list[TaskRow]:
        """Tasks still running, or registered or finished at ``since`` or later: what a page
        following a run must refresh, without reading every task of a big foreach again."""
        return [t for t in self.list_tasks(flow, run_id) if t.status == "running"
                or t.created_at >= since or (t.finished_at or 0.0) >= since]

    def failed_tasks(self, flow: str, run_id: str, *, limit: int = 10) -> list[TaskRow]:
        """The first ``limit`` failed tasks of a run, in registration order: what a run's page
        points at, however many tasks succeeded around them."""
        return [t for t in self.list_tasks(flow, run_id) if t.status == "failed"][:limit]

    def step_status_counts(self, flow: str, run_id: str) -> list[tuple]:
        """(step, status, tasks, first created_at, last finished_at, tasks finished, tasks
        cloned (by a resume or @cache), tasks @cache reused (:func:`reused_from_cache`)) for
        each step and status of a run, in one query where the backend can aggregate."""
        groups: dict[tuple[str, str], list] = {}
        for t in self.list_tasks(flow, run_id):
            g = groups.setdefault((t.step, t.status),
                                  [t.step, t.status, 0, t.created_at, None, 0, 0, 0])
            g[2] += 1
            g[6] += t.origin_pathspec is not None
            g[7] += reused_from_cache(t)
            g[3] = min(g[3], t.created_at)
            if t.finished_at is not None:
                g[4] = t.finished_at if g[4] is None else max(g[4], t.finished_at)
                g[5] += 1
        return [tuple(g) for g in groups.values()]

