"""Everything the UI shows, read from the metadata database and the datastore as plain dicts.

Read-only: the metadata store is opened with ``readonly=True`` and nothing here writes. Every
page of data is one or two metadata queries (never a query per run or per task), so the runs list
costs the same at 10,000 runs as at 10, and a 10,000-task foreach is one task listing.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import xxhash

from headwater.exceptions import HeadwaterException, NotFoundError
from headwater.graph.export import run_graph_key
from headwater.meta import MetadataStore, open_metadata
from headwater.meta.rows import FAILED, AttemptRow, RunRow, TaskRow, reused_from_cache
from headwater.meta.tags import freed_transient_error
from headwater.records import was_caught
from headwater.redaction import redact
from headwater.settings import Settings
from headwater.store.datastore import PICKLE, blob_path, live_log_key, read_live_log
from headwater.store.task_log import decode as decode_log
from headwater.ui import logfind
from headwater.ui.notebook import client_setup
from headwater.ui.provenance import makers
from headwater.ui.unreadable import explain, unpickling_failed

# Names the UI accepts in a URL: what headwater itself gives flows, runs, steps, tasks and
# artifacts. Python identifiers may hold any letter (``class FlußFlow``, ``self.größe``), so
# letters and digits of every script are accepted; nothing with a slash, a dot or a line break
# can reach a storage key (``fullmatch``: ``$`` alone would let a trailing newline through).
NAME = re.compile(r"\w[\w\-]{0,999}")  # Python names have no length limit: 1,000 is plenty
PREVIEW_MAX_BYTES = 4 * 1024 * 1024  # larger artifacts are not loaded to show a preview
# A task page loads at most this many values (and bytes) to preview them; the rest of a task
# with hundreds of artifacts are listed (name, type, size, download) without a preview, so the
# page answers in the time of a few reads, not of hundreds.
PREVIEWS_PER_TASK = 100
PREVIEW_BUDGET_BYTES = 32 * 1024 * 1024
# A task's artifacts are listed a page at a time (each page previewed within the budget above):
# a task with 1,000 or 100,000 artifacts answers one page, the page asks for the next.
ARTIFACTS_PAGE = 100
ARTIFACT_QUERY_CHARS = 200  # the longest name fragment the artifact list filters by
# A task lists its first parents only (a join of a 10,000-task foreach has 10,000): the rest are
# counted per step, so a list of tasks holding that join, or its page, stays small.
PARENTS_LISTED = 10
PREVIEW_CHARS = 2000
LOG_STREAMS = ("stdout", "stderr")
FAILURES_SHOWN = 10  # failed tasks named on a run's page (the step's task list has the rest)
FOREACH_SPLITS_READ = 10  # a foreach split over more tasks (a nested one) is not counted
GRAPHS_KEPT = 256  # run graphs held in memory (a graph never changes once its run started)
LIVE_CARDS = "cards/live"  # where a running task rewrites its cards (headwater.cards.render)


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a valid flow/run/step/task/artifact name, else NotFoundError."""
    if not NAME.fullmatch(value):
        article = "an" if kind[0] in "aeiou" else "a"
        raise NotFoundError(f"no {kind} named {value[:80]!r}",
                            fix=f"{article} {kind} name holds letters, digits, '_' and '-' only")
    return value


def check_artifact_name(value: str) -> str:
    """``value`` if it can be an artifact's name, else NotFoundError. Looser than
    :func:`check_name`: ``setattr(self, "any text", v)`` stores an artifact, and the name only
    looks the artifact up in its task's manifest (never a storage key), so any text is served,
    ``/`` and control characters included, if the task recorded it (the page lists such
    names, so it must be able to download them)."""
    if not value or len(value) > 1000:
        raise NotFoundError(f"no artifact named {value[:80]!r}",
                            fix="pick one from the task's artifact list")
    return value


LOOKALIKES_FRESH_S = 60.0
"""How long the UI reuses its answer to "which tags look like the filter's" (one query)."""


class Reader:
    """The metadata store and datastore of one headwater installation, as the UI reads them.

    With SQLite, each request reads through a handle of its own (:meth:`session`): a process
    that keeps SQLite connections open for days while writers come and go can be left reading
    a WAL index the last writer removed, and so see the database as it was then. Opening one
    costs well under a millisecond. A server database (PostgreSQL) has no such trap and keeps one
    handle (a pool of connections) for the life of the server.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._per_request = not settings.metadata_url.startswith(("postgresql://",
                                                                  "postgres://"))
        self._shared: MetadataStore | None = None
        self._local = threading.local()
        self._store: Any = None
        self._graphs: dict[tuple[str, str], dict[str, Any]] = {}
        # (flow, tag) -> (when, the tags looking like it): an open filtered list asks on every
        # poll, and the answer changes only when someone tags a run
        self._lookalikes: dict[tuple[str | None, str], tuple[float, list[str]]] = {}

    @property
    def meta(self) -> MetadataStore:
        meta = getattr(self._local, "meta", None)
        if meta is not None:
            return meta
        if self._shared is None:
            self._shared = open_metadata(self.settings.metadata_url, readonly=True)
        return self._shared

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Read through a fresh SQLite handle inside the block (see the class docstring)."""
        if not self._per_request or getattr(self._local, "meta", None) is not None:
            yield
            return
        self._local.meta = open_metadata(self.settings.metadata_url, readonly=True)
        try:
            yield
        finally:
            self._local.meta.close()
            self._local.meta = None

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)`` inside a :meth:`session` (what the API's threads run)."""
        with self.session():
            return func(*args, **kwargs)

    def store(self) -> Any:
        if self._store is None:
            from headwater.store import open_datastore

            self._store = open_datastore(self.settings.datastore_root)
        return self._store

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
        if self._store is not None:
            self._store.close()

    # -- flows and runs ------------------------------------------------------------------------

    def flows(self) -> list[dict[str, Any]]:
        """Every flow and its newest run: two queries, however many flows there are (the runs
        list asks for this every few seconds while it is open)."""
        latest = self.meta.latest_runs()
        return [{"name": name, "latest_run": run_summary(latest[name]) if name in latest else None}
                for name in self.meta.list_flows()]

    def runs(self, *, flow: str | None, status: str | None, tag: str | None, user: str | None,
             limit: int, offset: int) -> dict[str, Any]:
        if flow is not None:
            check_name("flow", flow)
        rows, more = self.meta.page_runs(flow=flow, tags=(tag,) if tag else (), user=user,
                                         status=status, limit=limit, offset=offset)
        page = {"runs": [run_summary(row) for row in rows], "offset": offset, "limit": limit,
                "more": more}
        if tag:  # the filter matches the exact text: the other tags that look like it
            page["lookalike_tags"] = self._lookalike_tags(flow, tag)
        return page

    def _lookalike_tags(self, flow: str | None, tag: str) -> list[str]:
        """The tags of ``flow``'s runs that look like ``tag``, read at most once a minute."""
        from headwater.lookalikes import lookalikes_of

        now = time.monotonic()
        known = self._lookalikes.get((flow, tag))
        if known is not None and now - known[0] < LOOKALIKES_FRESH_S:
            return known[1]
        found = lookalikes_of(tag, self.meta.tag_names(flow))
        if len(self._lookalikes) >= 256:  # filters typed in a day; start afresh past that
            self._lookalikes.clear()
        self._lookalikes[(flow, tag)] = (now, found)
        return found

    def flow_row(self, flow: str) -> Any:
        row = self.meta.get_flow(check_name("flow", flow))
        if row is None:
            raise NotFoundError(f"no flow {flow} in {redact(self.settings.datastore_root)}",
                                fix="pick a flow from the runs list")
        return row

    def run_row(self, flow: str, run_id: str) -> RunRow:
        row = self.meta.get_run(check_name("flow", flow), check_name("run", run_id))
        if row is None:
            raise NotFoundError(f"no run {flow}/{run_id} in {redact(self.settings.datastore_root)}",
                                fix="pick a run from the runs list")
        return row

    def run(self, flow: str, run_id: str) -> dict[str, Any]:
        """The run page's data: the run, its parameters, its graph laid out, its steps' state."""
        from headwater.ui.layout import graph_from_tasks, layout

        row = self.run_row(flow, run_id)
        out = run_summary(row)
        out["parameters"] = self._parameters(row)
        graph = self.graph(row)
        if graph is None:  # a run kept without its graph: rebuild it from the tasks' parents
            graph = graph_from_tasks([task_summary(t) for t in self.meta.list_tasks(flow, run_id)])
        out["graph"] = graph
        out["layout"] = layout(graph)
        out["steps"] = step_states(self.meta.step_status_counts(flow, run_id), out)
        out["foreach_widths"] = self.foreach_widths(row, graph)
        out["failures"] = self.failures(row)
        out["caught_end"] = self.caught_end(row, graph) if (
            out["status"] == FAILED and not out["interrupted"] and not out["failures"]) else None
        return out

    def caught_end(self, row: RunRow, graph: dict[str, Any] | None) -> dict[str, Any] | None:
        """Why a run that ran to its end reads as failed, when its end step failed (it raised,
        or its process died) and @catch caught it (:func:`headwater.meta.rows.run_outcome`):
        the end task and its last attempt's error. Asked only of a failed run without a failed
        task (two small queries)."""
        end = (graph or {}).get("end_step") or "end"
        task = self.meta.newest_task(row.flow, row.run_id, end)
        if task is None:
            return None
        if not was_caught((task.transition or {}).get("metadata")):
            return None
        out = task_summary(task, None)
        attempts = self.meta.list_attempts(task.flow, task.run_id, task.step, task.task_id)
        failed = [a for a in attempts if a.failure is not None]  # the last is what was caught
        out["failure"] = attempt_summary(failed[-1])["failure"] if failed else None
        return out

    def foreach_widths(self, row: RunRow, graph: dict[str, Any] | None) -> dict[str, int]:
        """step -> how many tasks a foreach fans out to it, once every task of the step that
        splits has ended (their records keep ``foreach_count``): "152 of 300 tasks" tells how
        far a foreach has gone, and a failed run's page how much of it never ran. A split
        step with over :data:`FOREACH_SPLITS_READ` tasks (a nested foreach) is left out: one
        small query per foreach, never a read of a big step."""
        out: dict[str, int] = {}
        for step in (graph or {}).get("steps", ()):
            if not step.get("foreach") or not step.get("next"):
                continue
            rows = self.meta.page_tasks(row.flow, row.run_id, step["name"],
                                        limit=FOREACH_SPLITS_READ + 1)
            if not rows or len(rows) > FOREACH_SPLITS_READ:
                continue
            counts = [(r.transition or {}).get("foreach_count") for r in rows]
            if all(isinstance(c, int) for c in counts):
                for target in step["next"]:
                    out[target] = sum(counts)
        return out

    def kept_graph(self, row: RunRow) -> dict[str, Any] | None:
        """:meth:`graph`, read once per run: what a live run page's events need every half
        second, without a datastore read each time."""
        key = (row.flow, row.run_id)
        graph = self._graphs.get(key)
        if graph is None:
            graph = self.graph(row)
            if graph is not None:  # not yet written (a run just starting) is asked again
                if len(self._graphs) >= GRAPHS_KEPT:
                    self._graphs.clear()
                self._graphs[key] = graph
        return graph

    def check_step(self, flow: str, run_id: str, step: str) -> str:
        """``step`` if the run has it (in its graph, or among its tasks for a run kept without
        one), else NotFoundError naming the run and its steps: a mistyped step in a shared
        address gets a 404 saying so, not an empty list of tasks."""
        row = self.run_row(flow, run_id)
        check_name("step", step)
        graph = self.kept_graph(row)
        names = ([s["name"] for s in graph.get("steps", [])] if graph is not None else
                 sorted({c[0] for c in self.meta.step_status_counts(flow, run_id)}))
        if step not in names:
            listed = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
            raise NotFoundError(f"no step {step} in run {flow}/{run_id}",
                                fix=f"pick one of its steps: {listed or '(none yet)'}")
        return step

    def failures(self, row: RunRow) -> list[dict[str, Any]]:
        """The run's first failed tasks (at most :data:`FAILURES_SHOWN`), each with its last
        attempt's error: a failure deep in a 10,000-task foreach is one click from the run page.
        A query for the failed tasks, then one per task shown for its attempts."""
        out = []
        for task in self.meta.failed_tasks(row.flow, row.run_id, limit=FAILURES_SHOWN):
            summary = task_summary(task, None)
            summary["failure"] = self.last_failure(task)
            out.append(summary)
        return out

    def last_failure(self, task: TaskRow) -> dict[str, Any] | None:
        """The error of the task's last attempt that failed (for a task @catch caught, what it
        caught), or None; one query, for the task's attempts (two for a resume's clone, whose
        attempts ran in its origin run)."""
        attempts = self.meta.list_attempts(task.flow, task.run_id, task.step, task.task_id)
        failed = [a for a in attempts if a.failure is not None]
        if not failed and task.origin_pathspec and task.origin_pathspec.count("/") == 3:
            flow, run_id, step, task_id = task.origin_pathspec.split("/")
            failed = [a for a in self.meta.list_attempts(flow, run_id, step, task_id)
                      if a.failure is not None]
        return attempt_summary(failed[-1])["failure"] if failed else None

    def _parameters(self, row: RunRow) -> dict[str, str | None]:
        out = {}
        for name, ref in row.params.items():
            try:
                preview, error = self._preview(ref, name, row.pathspec)
            except HeadwaterException as exc:
                preview, error = None, exc.msg[:PREVIEW_CHARS]
            out[name] = preview if error is None else f"(cannot be read here: {error})"
        return out

    def graph(self, row: RunRow) -> dict[str, Any] | None:
        """The graph kept with the run, or None for a run made before graphs were kept."""
        try:
            data = bytes(self.store().storage.read(run_graph_key(row.flow, row.run_id)))
        except (FileNotFoundError, OSError):
            return None
        try:
            return json.loads(data)
        except (ValueError, RecursionError):  # not one headwater wrote: shown as no graph
            return None

    def tasks(self, flow: str, run_id: str, *, step: str | None = None, limit: int = 100,
              offset: int = 0, status: str | None = None, sort: str | None = None,
              order: str = "asc") -> dict[str, Any]:
        """One page of a run's tasks (of one step, or all; of one status, or any), in
        registration order, or ordered by ``sort`` (one of :data:`TASK_SORTS`) in ``order``
        across every page: the whole list is read and sorted, then the page is cut from it."""
        run = run_summary(self.run_row(flow, run_id))
        if step is not None:
            self.check_step(flow, run_id, step)
        wanted: str | tuple[str, str] | None = status
        if run["interrupted"]:  # a killed run's unfinished tasks read, and are listed, as failed
            if status == "running":
                return {"tasks": [], "offset": offset, "limit": limit, "more": False}
            if status == "failed":
                wanted = ("failed", "running")
        if status == "caught" and sort is None:
            # succeeded tasks whose step raised and @catch caught it: the store returns only
            # those, one page, however many tasks the run has; each with what was caught (one
            # query a task listed), so the run page says why without a click
            rows = self.meta.caught_tasks(flow, run_id, step, limit=limit + 1, offset=offset)
            listed = []
            for r in rows[:limit]:
                listed.append({**task_summary(r, run), "failure": self.last_failure(r)})
            return {"tasks": listed, "offset": offset, "limit": limit, "more": len(rows) > limit}
        if sort is not None:
            if status == "caught":
                everything = self.meta.caught_tasks(flow, run_id, step, limit=MAX_SORTED_TASKS)
            else:
                everything = self.meta.page_tasks(flow, run_id, step, limit=MAX_SORTED_TASKS,
                                                  status=wanted)
            listed = sorted_tasks([task_summary(r, run) for r in everything], sort, order,
                                  ended_at=run["stopped_at"])
            page = listed[offset:offset + limit]
            if status == "caught":  # what each caught, for the page's tasks only
                rows = {(r.step, r.task_id): r for r in everything}
                page = [{**t, "failure": self.last_failure(rows[t["step"], t["task_id"]])}
                        for t in page]
            return {"tasks": page, "offset": offset, "limit": limit,
                    "more": len(listed) > offset + limit, "sort": sort, "order": order}
        rows = self.meta.page_tasks(flow, run_id, step, limit=limit + 1, offset=offset,
                                    status=wanted)
        return {"tasks": [task_summary(r, run) for r in rows[:limit]], "offset": offset,
                "limit": limit, "more": len(rows) > limit}

    def snapshot(self, flow: str, run_id: str, since: float) -> tuple[dict[str, Any], list[dict]]:
        """What a live run page follows: the run's summary with its step states (one aggregate
        query), and the tasks running or changed since ``since`` (never all of a big foreach)."""
        row = self.run_row(flow, run_id)
        head = run_summary(row)
        head["steps"] = step_states(self.meta.step_status_counts(flow, run_id), head)
        head["foreach_widths"] = self.foreach_widths(row, self.kept_graph(row))
        return head, [task_summary(t, head) for t in self.meta.task_changes(flow, run_id, since)]

    # -- one task ------------------------------------------------------------------------------

    def task_row(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRow:
        row = self.meta.get_task(check_name("flow", flow), check_name("run", run_id),
                                 check_name("step", step), check_name("task", task_id))
        if row is None:
            raise NotFoundError(f"no task {flow}/{run_id}/{step}/{task_id}",
                                fix="pick a task from its run's page")
        return row

    def task(self, flow: str, run_id: str, step: str, task_id: str) -> dict[str, Any]:
        row = self.task_row(flow, run_id, step, task_id)
        run = self._run_if_unfinished(row)
        out = task_summary(row, run)
        out["attempts"] = [attempt_summary(a, out.get("interrupted", False)) for a in
                           self.meta.list_attempts(flow, run_id, step, task_id)]
        listed = self.artifacts(row)
        out["artifacts"], out["artifacts_total"] = listed["artifacts"], listed["total"]
        out["cards"] = self.cards(row)
        out["metadata"], out["metadata_error"] = self.metadata(row)
        out["client_setup"] = client_setup(self.settings)  # what "copy code" starts with
        return out

    def metadata(self, row: TaskRow) -> tuple[list[dict[str, Any]], str | None]:
        """The task's facts as the client's ``task.metadata`` gives them (name, value, type,
        when), read through the client bound to this UI's metadata and datastore: the page
        shows what ``Task(...).metadata_dict`` says, derived the same way. Facts that cannot
        be read leave the rest of the task's page as it is, saying why instead."""
        from headwater.client.core import metadata_of

        try:
            facts = metadata_of(row.pathspec, self.settings, meta=self.meta, store=self.store())
        except HeadwaterException as exc:
            return [], exc.msg[:PREVIEW_CHARS]
        # a list (foreach-stack) as JSON text with its characters as they are: ["outer=β"],
        # not ["outer=\u03b2"]
        return [{"name": m.name, "value": m.value if isinstance(m.value, str) else
                 json.dumps(m.value, default=str, ensure_ascii=False), "type": m.type,
                 "created_at": m.created_at / 1000} for m in facts], None

    def _run_if_unfinished(self, row: TaskRow) -> dict[str, Any] | None:
        """The run's summary when the task is recorded running (is its run still alive?), else
        None: a finished task needs no second query."""
        return run_summary(self.run_row(row.flow, row.run_id)) if row.status == "running" else None

    def task_artifacts(self, flow: str, run_id: str, step: str, task_id: str, *,
                       offset: int = 0, limit: int = ARTIFACTS_PAGE, query: str = ""
                       ) -> dict[str, Any]:
        """One page of a task's artifacts (by name; only those whose name holds ``query``, in
        any case, when given), each previewed within the page's budget."""
        row = self.task_row(flow, run_id, step, task_id)
        if len(query) > ARTIFACT_QUERY_CHARS or "\n" in query:
            shown = query[:40] + ("..." if len(query) > 40 else "")
            raise NotFoundError(f"cannot find the artifacts of {flow}/{run_id}/{step}/{task_id} "
                                f"named with {shown!r}: give at most {ARTIFACT_QUERY_CHARS} "
                                "characters on one line",
                                fix="give a shorter part of the artifact's name (q=...)")
        return {**self.artifacts(row, offset=offset, limit=limit, query=query),
                "offset": offset, "limit": limit, "query": query}

    def artifacts(self, row: TaskRow, *, offset: int = 0, limit: int = ARTIFACTS_PAGE,
                  query: str = "") -> dict[str, Any]:
        """``{"artifacts": [...], "total", "more"}``: the page ``offset``..``offset+limit`` of
        the task's artifacts sorted by name, ``total`` counting every one (that matches)."""
        manifest = self.meta.get_artifacts(row.flow, row.run_id, row.step, row.task_id)
        wanted = query.casefold()
        names = sorted(n for n in manifest if not n.startswith("_")
                       and (not wanted or wanted in n.casefold()))
        out = []
        previews, budget = PREVIEWS_PER_TASK, PREVIEW_BUDGET_BYTES
        page = names[offset:offset + limit]
        made_by = makers(self.meta, row, manifest, page)
        for name in page:
            ref = manifest[name]
            entry = {"name": name, "type": ref.type_name, "size": ref.size, "preview": None,
                     "error": None, "fix": None, "download": "value", "previewed": True,
                     "sha": ref.key, "made_by": made_by[name]}
            out.append(entry)
            if previews <= 0 or ref.size > budget:
                entry["previewed"] = ref.size > PREVIEW_MAX_BYTES  # too large: said as before
                continue
            previews -= 1
            budget -= ref.size
            try:
                entry["preview"], entry["error"] = self._preview(ref, name, row.pathspec)
            except HeadwaterException as exc:
                if unpickling_failed(exc) and ref.encoding == PICKLE:
                    # whole bytes this process cannot unpickle: say why, offer the pickle
                    entry["error"], entry["fix"] = explain(exc, name, row.pathspec,
                                                           ref.type_name)
                    entry["download"] = "pickle"
                else:
                    entry["error"], entry["fix"] = exc.msg[:PREVIEW_CHARS], exc.fix
                    entry["download"] = None
        return {"artifacts": out, "total": len(names), "more": len(names) > offset + limit}

    def _preview(self, ref: Any, name: str, where: str) -> tuple[str | None, str | None]:
        """(preview, None); (None, None) for a value too large to load for a preview. A value
        the UI cannot load raises the store's HeadwaterException (the caller says why);
        anything else going wrong gives (None, what went wrong)."""
        if ref.size > PREVIEW_MAX_BYTES:
            return None, None
        from headwater.cards.preview import bounded_repr

        try:
            value = self.store().load_artifact(ref, name=name, where=where)
        except HeadwaterException as exc:
            freed = self._freed_transient(exc, name, where)
            if freed is not None:
                raise freed from exc
            raise
        except Exception as exc:  # noqa: BLE001 - a preview never breaks the page
            return None, f"{type(exc).__name__}: {exc}"[:PREVIEW_CHARS]
        try:
            # bounded: a small pickle can hold a value whose full repr never ends
            return bounded_repr(value, PREVIEW_CHARS), None
        except Exception as exc:  # noqa: BLE001 - a repr that raises is no reason to fail
            return f"(cannot preview: {type(exc).__name__})", None

    def _freed_transient(self, exc: HeadwaterException, name: str,
                         pathspec: str) -> HeadwaterException | None:
        """Why artifact ``name`` of task ``pathspec`` is missing, when its run declared it
        @transient and gc freed it (None otherwise: the store's own error stands)."""
        flow, run_id = pathspec.split("/")[:2]
        run = self.meta.get_run(flow, run_id)
        return None if run is None else freed_transient_error(exc, name, pathspec,
                                                              run.system_tags)

    def artifact_value(self, flow: str, run_id: str, step: str, task_id: str,
                       name: str) -> tuple[bytes, str]:
        """The artifact's bytes for download, and a file name: str and bytes values as they are,
        anything else pickled (as the client would hand it back). A value this process cannot
        unpickle (its class's module does not import here) is given as the stored pickle,
        never unpickled: whoever can import the module loads it with ``pickle.load``."""
        row = self.task_row(flow, run_id, step, task_id)
        check_artifact_name(name)
        manifest = self.meta.get_artifacts(row.flow, row.run_id, row.step, row.task_id)
        ref = manifest.get(name)
        if ref is None:
            raise NotFoundError(f"task {row.pathspec} has no artifact {name!r}",
                                fix="pick one from the task's artifact list")
        try:
            value = self.store().load_artifact(ref, name=name, where=row.pathspec)
        except HeadwaterException as exc:
            freed = self._freed_transient(exc, name, row.pathspec)
            if freed is not None:
                raise freed from exc
            if not (unpickling_failed(exc) and ref.encoding == PICKLE):
                raise
            return self.store().artifact_pickle(ref, name=name, where=row.pathspec), \
                f"{name}.pickle"
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value), f"{name}.bin"
        if isinstance(value, str):
            return value.encode(), f"{name}.txt"
        import pickle

        return pickle.dumps(value, protocol=5), f"{name}.pickle"

    def _card_sources(self, row: TaskRow) -> list[tuple[str, str | None, str, bool]]:
        """(type, id, storage key, live) of each card of a task, in order.

        A finished task lists its cards in its recorded transition (blobs); a running one has
        the live renders it rewrites under ``cards/live/<pathspec>/`` (see headwater.cards).
        """
        records = (row.transition or {}).get("cards")
        if records is not None or row.status != "running":
            return [(r["type"], r.get("id"), blob_path(r["key"]), False) for r in records or ()]
        prefix = f"{LIVE_CARDS}/{row.pathspec}/"
        found = []
        for key in self.store().storage.list(prefix):
            parts = key[len(prefix):].split(".")
            if len(parts) == 4 and parts[0].isdigit() and parts[3] == "html":
                found.append((int(parts[0]), (parts[1], parts[2] or None, key, True)))
        return [source for _, source in sorted(found, key=lambda pair: pair[0])]

    def cards(self, row: TaskRow) -> list[dict[str, Any]]:
        """Each card's summary; a live one also has ``version`` (a hash of its latest render),
        so a page that follows the task reloads the card when, and only when, it changed."""
        out = []
        for i, (kind, card_id, key, live) in enumerate(self._card_sources(row)):
            card = {"index": i, "type": kind, "id": card_id, "live": live}
            if live:
                card["version"] = self._render_version(key)
            out.append(card)
        return out

    def _render_version(self, key: str) -> str | None:
        try:
            data = bytes(self.store().storage.read(key))
        except FileNotFoundError:
            return None  # the task just ended and stored its final card
        return xxhash.xxh3_64_hexdigest(data)

    def card_html(self, flow: str, run_id: str, step: str, task_id: str, index: int) -> str:
        row = self.task_row(flow, run_id, step, task_id)
        sources = self._card_sources(row)
        if not 0 <= index < len(sources):
            raise NotFoundError(f"task {row.pathspec} has no card number {index}",
                                fix="pick a card from the task's page")
        kind, _, key, live = sources[index]
        try:
            if live:
                data = bytes(self.store().storage.read(key))
            else:  # a stored card is a blob: verified against its hash like any other
                what = f"card {index} ({kind}) of task {row.pathspec}"
                data = self.store().load_bytes(key.rpartition("/")[2], what=what)
        except FileNotFoundError:
            raise NotFoundError(f"card {index} of task {row.pathspec} is gone from the datastore",
                                fix="reload the task's page") from None
        return data.decode("utf-8", errors="replace")

    # -- logs ----------------------------------------------------------------------------------

    def log(self, flow: str, run_id: str, step: str, task_id: str, stream: str,
            attempt: int | None = None) -> tuple[bytes, bool, int]:
        """An attempt's ``stream`` so far (the latest attempt by default), whether it is final,
        and which attempt it is (-1 before the first starts).

        A finished attempt's log is its stored blob; a running one's is the scratch copy the
        scheduler keeps while it runs (see :mod:`headwater.runtime.live_logs`).
        """
        if stream not in LOG_STREAMS:
            raise NotFoundError(f"no log stream {stream!r}", fix="use stdout or stderr")
        row = self.task_row(flow, run_id, step, task_id)
        run = self._run_if_unfinished(row)
        over = run is not None and run["interrupted"]  # killed: nothing more will be written
        attempts = self.meta.list_attempts(flow, run_id, step, task_id)
        chosen = attempts[-1] if attempt is None and attempts else next(
            (a for a in attempts if a.attempt == attempt), None)
        if chosen is None and attempt is not None:  # a link to an attempt there never was
            which = ", ".join(str(a.attempt) for a in attempts)
            raise NotFoundError(f"task {row.pathspec} has no attempt {attempt}",
                                fix=f"its attempts are {which}" if which else
                                "it has not started yet: leave out ?attempt= for its log")
        if chosen is None:
            return b"", row.status != "running" or over, -1
        key = chosen.stdout_key if stream == "stdout" else chosen.stderr_key
        final = chosen.status != "running" or over
        if key:
            what = f"{stream} of {row.pathspec} (attempt {chosen.attempt})"
            output, _ = decode_log(bytes(self.store().load_bytes(key, what=what)))
            return output, True, chosen.attempt
        if final and not over:
            return b"", True, chosen.attempt
        try:  # a killed task's scratch copy is all of its output there will ever be
            target = live_log_key(flow, run_id, step, task_id, chosen.attempt, stream)
            so_far = read_live_log(self.store().storage, target)
        except OSError:
            so_far = None
        return so_far or b"", final, chosen.attempt

    def log_find(self, flow: str, run_id: str, step: str, task_id: str, stream: str,
                 attempt: int | None, query: str, *, limit: int, from_line: int
                 ) -> dict[str, Any]:
        """The lines of a whole log holding ``query`` (plain text, any case): see
        :func:`headwater.ui.logfind.find_lines`. The query is checked before the log is read."""
        logfind.check_query(query)
        data, final, number = self.log(flow, run_id, step, task_id, stream, attempt)
        found = logfind.find_lines(logfind.plain_text(data), query, limit=limit,
                                   from_line=from_line)
        return {**found, "attempt": number, "final": final}

    def log_lines(self, flow: str, run_id: str, step: str, task_id: str, stream: str,
                  attempt: int | None, from_line: int, count: int) -> dict[str, Any]:
        """Lines ``from_line`` on of a whole log, to show the lines around a match the page
        has not loaded: see :func:`headwater.ui.logfind.window`."""
        data, final, number = self.log(flow, run_id, step, task_id, stream, attempt)
        return {**logfind.window(logfind.plain_text(data), from_line, count),
                "attempt": number, "final": final}


def step_states(counts: list[tuple], run: dict[str, Any] | None = None
                ) -> dict[str, dict[str, Any]]:
    """step -> task counts by status, of tasks a resume cloned and of tasks @cache reused,
    first start, last end (None
    while any task runs), from
    :meth:`MetadataStore.step_status_counts` rows. In a killed ``run`` (see :func:`run_summary`)
    the tasks left recorded as running count as failed, and a step they leave unfinished ends
    when the run was last seen alive."""
    interrupted = bool(run and run["interrupted"])
    steps: dict[str, dict[str, Any]] = {}
    for step, recorded, tasks, first, last, ended, cloned, cached in counts:
        status = "failed" if interrupted and recorded == "running" else recorded
        state = steps.setdefault(step, {"tasks": 0, "running": 0, "succeeded": 0, "failed": 0,
                                        "cloned": 0, "cached": 0, "started_at": first,
                                        "finished_at": last, "ended": 0})
        state["tasks"] += tasks
        state["cloned"] += cloned - cached  # resume's clones
        state["cached"] += cached  # @cache's reuses
        state[status] = state.get(status, 0) + tasks
        state["ended"] += ended
        state["started_at"] = min(state["started_at"], first)
        if last is not None:
            state["finished_at"] = max(state["finished_at"] or last, last)
    for state in steps.values():
        if state.pop("ended") < state["tasks"]:
            state["finished_at"] = run["stopped_at"] if interrupted else None
    return steps


def run_summary(row: RunRow) -> dict[str, Any]:
    """A run as the UI shows it. ``interrupted``: recorded as running, but its scheduler is gone
    (killed with SIGKILL, its machine lost; see :mod:`headwater.meta.liveness`): it reads as
    failed, and ``stopped_at`` is when it was last seen alive (its last heartbeat)."""
    status = row.live_status
    interrupted = row.status == "running" and status != "running"
    return {
        "flow": row.flow, "run_id": row.run_id, "pathspec": row.pathspec,
        "status": status, "user": row.user, "created_at": row.created_at,
        "finished_at": row.finished_at, "origin_run_id": row.origin_run_id,
        "tags": list(row.tags), "system_tags": list(row.system_tags),
        "interrupted": interrupted,
        "stopped_at": (row.heartbeat_at or row.created_at) if interrupted else None,
    }


# What a run's task list can be ordered by (the columns of its table), each a key of a task
# summary. Ties keep registration order, whichever way the list goes.
TASK_SORTS = ("task", "status", "index", "started", "duration", "attempts")
TASK_ORDERS = ("asc", "desc")
# A sorted list is read whole to be sorted across its pages; a run holding more tasks than this
# is sorted over its first ones (in registration order), as docs/ui.md says.
MAX_SORTED_TASKS = 100_000


def _task_id_key(task_id: str) -> tuple[int, int, str]:
    """Numbers in number order (9 before 10), any other id after them in text order. A number
    is compared by its length, then its digits, never converted: an id of 5,000 digits is past
    what ``int()`` reads from text, and ``"²".isdigit()`` is true though ``int("²")`` fails
    (a record another program wrote made the sorted list a 500)."""
    if task_id.isascii() and task_id.isdigit():
        digits = task_id.lstrip("0") or "0"
        return (0, len(digits), digits)
    return (1, 0, task_id)


def sorted_tasks(tasks: list[dict[str, Any]], sort: str, order: str, *,
                 ended_at: float | None = None) -> list[dict[str, Any]]:
    """``tasks`` (summaries, in registration order) ordered by ``sort``, ``order`` "asc" or
    "desc". A running task's duration is counted to now, an interrupted one's to when its run
    was last seen; a task with no duration at all goes last either way."""
    now = time.time()

    def key(t: dict[str, Any]) -> Any:
        if sort == "task":
            return (t["step"], _task_id_key(t["task_id"]))
        if sort == "status":
            return t["status"]
        if sort == "started":
            return t["created_at"] or 0.0
        if sort == "attempts":  # the retried tasks first, read "desc"
            return t["attempts"]
        if sort == "index":  # a task outside a foreach has none: last either way
            return t["foreach_index"]
        end = t["finished_at"] or (ended_at if t.get("interrupted") else None)
        if end is None and t["status"] == "running":
            end = now
        return None if end is None or not t["created_at"] else max(0.0, end - t["created_at"])

    keyed = [(key(t), t) for t in tasks]
    known = [pair for pair in keyed if pair[0] is not None]
    unknown = [t for k, t in keyed if k is None]
    known.sort(key=lambda pair: pair[0], reverse=order == "desc")
    return [t for _, t in known] + unknown


def task_summary(row: TaskRow, run: dict[str, Any] | None = None) -> dict[str, Any]:
    """A task as the UI shows it. One recorded as running in a killed ``run`` never finished:
    it reads as failed, ``interrupted``."""
    interrupted = row.status == "running" and bool(run and run["interrupted"])
    out = {
        "step": row.step, "task_id": row.task_id, "pathspec": row.pathspec,
        "status": "failed" if interrupted else row.status, "created_at": row.created_at,
        "finished_at": row.finished_at,
        "attempts": row.attempts, "foreach_index": row.foreach_index,
        "parents": list(row.parents[:PARENTS_LISTED]), "parent_count": len(row.parents),
        "origin_pathspec": row.origin_pathspec,
    }
    if reused_from_cache(row):  # a clone of @cache's, not of a resume
        out["cached"] = True
    if len(row.parents) > PARENTS_LISTED:  # a big join: the rest counted per step
        steps: dict[str, int] = {}
        for parent in row.parents:
            name = parent.partition("/")[0]
            steps[name] = steps.get(name, 0) + 1
        out["parent_steps"] = steps
    if interrupted:
        out["interrupted"] = True
    elif row.status == "succeeded" and was_caught((row.transition or {}).get("metadata")):
        out["caught"] = True  # its step raised, @catch caught it: task.successful is False
    return out


def attempt_summary(row: AttemptRow, interrupted: bool = False) -> dict[str, Any]:
    """An attempt; one left running by a killed run (``interrupted``) reads as failed."""
    failure = row.failure
    return {
        "attempt": row.attempt,
        "status": "failed" if interrupted and row.status == "running" else row.status,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "failure": None if failure is None else {
            "type": failure.type_name, "message": failure.message,
            "traceback": failure.traceback},
    }
