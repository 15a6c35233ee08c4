"""Metaflow, Flow, Run, Step and Task: read-only views over the metadata database and datastore.

They follow Metaflow's public client: construct by pathspec (``Run('PetsFlow/12')``), index
into children (``flow['12']['start']['3']``), iterate children newest first, read ``data``.

Each object holds rows (plain values), never a connection, so it can be kept, pickled or used
from another process while the run it describes is still going. Listing is one query per
level; per-task details of a listed step are fetched for the whole step at once
(:mod:`._batch`). Rows of things still running are re-read when their status is asked for, so
``while not run.finished: ...`` sees the run end.

Differences from Metaflow, on purpose:

* ``run.status`` (Metaflow's Run has none) is 'running', 'succeeded' or 'failed', agreeing
  with ``run.successful``: a run whose scheduler died reads as 'failed' (Metaflow cannot tell,
  issue 1512), as do the tasks it left unfinished, and so does a run whose end step @catch
  caught.
  ``run.finished`` and ``task.finished`` are True once the run has ended in any way, so a
  polling loop always terminates; so is ``Task(pathspec, attempt=N).finished`` once that
  attempt ended (Metaflow's is False for a failed attempt).
* ``task.exception`` is the failure of the task's latest attempt (type name, message and
  traceback), recorded by the scheduler, or None.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from headwater.client import _context, lineage, run_graph
from headwater.client._batch import TaskDetails
from headwater.client._errors import MissingChild, TaggingError, artifact_not_found
from headwater.client._lookup import (
    dt,
    load_flow,
    load_run,
    load_step,
    load_task,
    meta,
    split_pathspec,
)
from headwater.client.artifacts import DataArtifact, MetaflowArtifacts, MetaflowData
from headwater.client.environment_info import environment_info
from headwater.client.namespace import namespace_tags
from headwater.client.task_metadata import Metadata, task_metadata
from headwater.exceptions import ArtifactError, HeadwaterException, NotFoundError
from headwater.meta import AttemptRow, FlowRow, RunRow, StepRow, TaskRow
from headwater.meta.rows import FAILED, RUNNING, SUCCEEDED
from headwater.meta.tags import LOCAL_RUNTIME, check_tags, freed_transient_error
from headwater.records import (
    ArtifactRef,
    Manifest,
    TaskFailure,
    caught_attempt,
    replace,
    was_caught,
)
from headwater.store.code_package import CodePackage
from headwater.store.datastore import inline_ref, live_log_key, read_live_log
from headwater.store.task_log import decode as decode_log

if TYPE_CHECKING:
    from headwater.meta import MetadataStore
    from headwater.settings import Settings


class _Object:
    """What every client object shares: identity by pathspec, Metaflow-style repr, ``in``."""

    _pathspec: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self._pathspec}')"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._pathspec == self._pathspec  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._pathspec))

    def __getitem__(self, child_id: str) -> Any:
        raise NotImplementedError

    def __contains__(self, child_id: object) -> bool:
        try:
            self[child_id]  # type: ignore[index]
        except NotFoundError:
            return False
        return True

    @property
    def pathspec(self) -> str:
        return self._pathspec

    @property
    def id(self) -> str:
        return self._pathspec.rsplit("/", 1)[-1]

    @property
    def path_components(self) -> list[str]:
        return self._pathspec.split("/")


class _InRun(_Object):
    """Objects at run level and below carry the run's tags."""

    _run_row: RunRow

    @property
    def tags(self) -> frozenset[str]:
        """User and system tags of the run this object belongs to."""
        return self._run_row.all_tags

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset(self._run_row.tags)

    @property
    def system_tags(self) -> frozenset[str]:
        return frozenset(self._run_row.system_tags)

    def is_in_namespace(self) -> bool:
        """Whether the run this object belongs to is in the current namespace (always, in the
        global namespace ``None``)."""
        tags = namespace_tags()
        return not tags or tags[0] in self.tags


# -- Metaflow and Flow -------------------------------------------------------------------------


class Metaflow:
    """The root: every flow with at least one run in the current namespace."""

    def __repr__(self) -> str:
        return "Metaflow()"

    @property
    def flows(self) -> list[Flow]:
        return [Flow._named(name) for name in meta().list_flows(tags=namespace_tags())]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __getitem__(self, name: str) -> Flow:
        return Flow(name)


class Flow(_Object):
    """All runs of one flow class."""

    def __init__(self, pathspec: str, *, _namespace_check: bool = True) -> None:
        (name,) = split_pathspec(pathspec, 1, "flow", "FlowName")
        row = load_flow(name, check=_namespace_check)
        self._pathspec, self._row = name, row

    @classmethod
    def _named(cls, name: str) -> Flow:
        flow = cls.__new__(cls)
        flow._pathspec, flow._row = name, None
        return flow

    @property
    def created_at(self) -> datetime | None:
        if self._row is None:
            self._row = meta().get_flow(self._pathspec) or FlowRow(self._pathspec, 0.0)
        return dt(self._row.created_at)

    @property
    def parent(self) -> None:
        return None

    @property
    def tags(self) -> frozenset[str]:
        """A flow has no tags of its own (its runs do), as with Metaflow."""
        return frozenset()

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset()

    @property
    def system_tags(self) -> frozenset[str]:
        return frozenset()

    @property
    def origin_pathspec(self) -> None:
        """A flow is never cloned (Metaflow's flows have the attribute too, always None)."""
        return None

    def is_in_namespace(self) -> bool:
        """Whether the flow has a run in the current namespace (Metaflow's rule for a flow)."""
        return bool(meta().list_runs(self._pathspec, tags=namespace_tags(), limit=1))

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace carrying all ``tags``, newest first (one query)."""
        rows = meta().list_runs(self._pathspec, tags=(*namespace_tags(), *tags))
        if tags:
            _warn_of_lookalikes(self._pathspec, tags)
        return iter([Run._of(row) for row in rows])

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        return Run._of(load_run(self._pathspec, run_id, check=True, child=True))

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the namespace, finished or not."""
        rows = meta().list_runs(self._pathspec, tags=namespace_tags(), limit=1)
        return Run._of(rows[0]) if rows else None

    @property
    def latest_successful_run(self) -> Run | None:
        row = meta().latest_successful_run(self._pathspec, tags=namespace_tags())
        if row is None:
            return None
        return Run._of(row)


def _warn_of_lookalikes(flow: str, tags: tuple[str, ...]) -> None:
    """A warning when the flow's runs carry a tag that looks like one asked for but is another
    (``рrod`` for ``prod``): the filter never lists those runs (client/lookalike_tags.py)."""
    from headwater.client.lookalike_tags import lookalike_note, lookalike_tags

    found = lookalike_tags(tags, flow)
    if found:
        import warnings

        warnings.warn(lookalike_note(found, f"Flow({flow!r}).runs(...): tag"), UserWarning,
                      stacklevel=3)


# -- Run ---------------------------------------------------------------------------------------


class Run(_InRun):
    """One execution of a flow."""

    def __init__(self, pathspec: str, *, _namespace_check: bool = True) -> None:
        flow, run_id = split_pathspec(pathspec, 2, "run", "FlowName/RunId")
        self._set(load_run(flow, run_id, check=_namespace_check))

    @classmethod
    def _of(cls, row: RunRow) -> Run:
        run = cls.__new__(cls)
        run._set(row)
        return run

    def _set(self, row: RunRow) -> None:
        self._run_row, self._pathspec = row, row.pathspec

    def _fresh(self) -> RunRow:
        """Re-read the row while the run is recorded as running (its status may change)."""
        if self._run_row.status == RUNNING:
            self._run_row = (
                meta().get_run(self._run_row.flow, self._run_row.run_id) or self._run_row
            )
        return self._run_row

    @property
    def parent(self) -> Flow:
        return Flow._named(self._run_row.flow)

    @property
    def created_at(self) -> datetime | None:
        return dt(self._run_row.created_at)

    @property
    def status(self) -> str:
        """'running', 'succeeded' or 'failed' (headwater's; Metaflow's Run has no status).

        It agrees with :attr:`successful`: a run whose scheduler died reads 'failed', and so
        does a run whose end step failed and ``@catch`` caught it (it finished, but did not
        succeed; see :func:`headwater.meta.rows.run_outcome`, which the web UI reads too). The
        Runner's ``ExecutingRun.status`` says 'successful' where this says 'succeeded': both are
        Metaflow's words.
        """
        return self._fresh().live_status

    @property
    def successful(self) -> bool:
        """True when the run succeeded and its end step did too: as in Metaflow, a run whose end
        step failed and ``@catch`` caught it is finished but not successful."""
        return self.status == SUCCEEDED

    @property
    def finished(self) -> bool:
        """True once the run has ended: succeeded, failed or crashed."""
        return self.status != RUNNING

    @property
    def finished_at(self) -> datetime | None:
        """When it ended; for a crashed run, its last heartbeat (the last sign of life)."""
        row = self._fresh()
        if row.finished_at is not None:
            return dt(row.finished_at)
        return dt(row.heartbeat_at) if row.crashed else None

    @property
    def origin_run_id(self) -> str | None:
        """The run this one resumed, if any."""
        return self._run_row.origin_run_id

    @property
    def origin_pathspec(self) -> str | None:
        """``Flow/Run`` this run resumed (None for a fresh run)."""
        origin = self._run_row.origin_run_id
        return f"{self._run_row.flow}/{origin}" if origin else None

    @property
    def code(self) -> CodePackage | None:
        """The code package the run's tasks were shipped with (``--executor dask``); None for
        local runs, which ran the flow's files in place (as Metaflow's local runs do)."""
        return CodePackage.from_json(self._pathspec, self._run_row.code_json, _store)

    @property
    def parameters(self) -> dict[str, Any]:
        """Parameter values of the run, loaded from the datastore."""
        store = _context.current().store()
        where = f"{self._pathspec} (parameters)"
        return {
            name: store.load_artifact(ref, name=name, where=where)
            for name, ref in sorted(self._run_row.params.items())
        }

    @property
    def trigger(self) -> Any:
        """The events that started this run (a deployed run started by @trigger or
        @trigger_on_finish), as ``current.trigger`` saw them; None otherwise."""
        from headwater.flow.trigger import Trigger

        row = self._run_row
        tasks = meta().list_tasks(row.flow, row.run_id, run_graph.endpoints(row)[0], limit=1)
        events = tasks[0].trigger if tasks else None
        return Trigger(events) if events else None

    @property
    def _graph_endpoints(self) -> tuple[str, str]:
        """The run's (start step, end step): ``start`` and ``end`` unless the flow named them
        otherwise (``@step(start=True)``, a flow of one step)."""
        return run_graph.endpoints(self._run_row)

    @property
    def end_task(self) -> Task | None:
        """The task of the flow's end step, or None if it has not started."""
        row = self._run_row
        end = run_graph.endpoints(row)[1]
        tasks = meta().list_tasks(row.flow, row.run_id, end, limit=1)
        return (
            Task._of(row, tasks[0], TaskDetails(row.flow, row.run_id, end, tasks[0].task_id))
            if tasks
            else None
        )

    @property
    def data(self) -> MetaflowData | None:
        """Shorthand for ``run.end_task.data``; None before the end step ran."""
        task = self.end_task
        return task.data if task else None

    def steps(self, *tags: str) -> Iterator[Step]:
        """Steps of the run, newest first (none if the run lacks any of ``tags``)."""
        if not set(tags) <= self.tags:
            return iter(())
        rows = meta().list_step_rows(self._run_row.flow, self._run_row.run_id)
        return iter([Step._of(self._run_row, row) for row in reversed(rows)])

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        if step == run_graph.PARAMETERS_STEP:  # Metaflow's pseudo-step of the run's constants
            return run_graph.ParametersStep(self)  # type: ignore[return-value]
        return Step._of(self._run_row, load_step(self._run_row, step, child=True))

    # -- tags: the only writes the client makes -------------------------------------------------

    def add_tag(self, tag: str) -> None:
        self._change_tags((), _as_tags(tag))

    def add_tags(self, tags: Iterable[str]) -> None:
        self._change_tags((), _many(tags))

    def remove_tag(self, tag: str) -> None:
        self._change_tags(_as_tags(tag), ())

    def remove_tags(self, tags: Iterable[str]) -> None:
        self._change_tags(_many(tags), ())

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        self.replace_tags(_as_tags(tag_to_remove), _as_tags(tag_to_add))

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove then add user tags in one transaction. System tags cannot be removed."""
        tags_to_remove, tags_to_add = list(_many(tags_to_remove)), list(_many(tags_to_add))
        if not tags_to_remove and not tags_to_add:
            raise TaggingError(f"replace_tags on run {self._pathspec} got no tag to remove or add")
        self._change_tags(tags_to_remove, tags_to_add)

    def _change_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        remove, add = _valid_tags(tags_to_remove), _valid_tags(tags_to_add)
        row = self._run_row
        system_only = sorted(set(remove) & (set(row.system_tags) - set(row.tags)))
        if system_only:
            raise TaggingError(
                f"cannot remove system tag(s) {', '.join(system_only)} from run {self._pathspec}"
            )
        # A tag the run already has as a system tag is not added again as a user tag.
        add = [t for t in add if t not in set(row.system_tags)]
        writer = _context.current().writer()
        with writer.transaction():
            writer.remove_tags(row.flow, row.run_id, remove)
            writer.add_tags(row.flow, row.run_id, add)
        fresh = meta().get_run(row.flow, row.run_id) or row
        # This object shows what its own change did, even if another process (a sibling task
        # tagging the same run) changed the tags again in between.
        mine = (set(fresh.tags) - set(remove)) | set(add)
        self._run_row = replace(fresh, tags=tuple(sorted(mine)))


def _as_tags(tag: Any) -> tuple[Any, ...]:
    """One tag, or (kept for scripts written for older Metaflow clients) a list of them."""
    return tuple(tag) if isinstance(tag, (list, tuple)) else (tag,)


def _many(tags: Iterable[str] | str) -> Iterable[str]:
    """Tags for ``add_tags`` and friends: a plain string is one tag, as Metaflow takes it
    (never its characters)."""
    return (tags,) if isinstance(tags, str) else tags


def _valid_tags(tags: Iterable[str]) -> list[str]:
    try:
        return check_tags(tags)
    except (TypeError, ValueError) as exc:
        raise TaggingError(str(exc)) from None


# -- Step --------------------------------------------------------------------------------------


class Step(_InRun):
    """One step of a run: one task, or one per foreach item / branch."""

    def __init__(self, pathspec: str, *, _namespace_check: bool = True) -> None:
        flow, run_id, step = split_pathspec(pathspec, 3, "step", "FlowName/RunId/StepName")
        run_row = load_run(flow, run_id, check=_namespace_check)
        self._set(run_row, load_step(run_row, step))

    @classmethod
    def _of(cls, run_row: RunRow, step_row: StepRow) -> Step:
        step = cls.__new__(cls)
        step._set(run_row, step_row)
        return step

    def _set(self, run_row: RunRow, step_row: StepRow) -> None:
        self._run_row, self._step_row, self._pathspec = run_row, step_row, step_row.pathspec

    def _fresh(self) -> StepRow:
        row = self._step_row
        if row.finished_at is None:
            self._step_row = meta().get_step(row.flow, row.run_id, row.step) or row
        return self._step_row

    def __getattr__(self, name: str) -> Any:
        # `run['train'].data`: a run has data (its end task's), a task has data, a step none,
        # as in Metaflow. Python's bare AttributeError said nothing of where the values are.
        if name == "data":
            path = self.__dict__.get("_pathspec", "FLOW/RUN/STEP")
            raise AttributeError(
                f"'Step' object has no attribute 'data': artifacts belong to a step's tasks. "
                f"Step('{path}').task.data reads its one task's (the first, for several), "
                f"[task.data.NAME for task in Step('{path}')] every task's (a foreach's items)")
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @property
    def parent(self) -> Run:
        return Run._of(self._run_row)

    @property
    def created_at(self) -> datetime | None:
        return dt(self._step_row.created_at)

    @property
    def finished_at(self) -> datetime | None:
        """When its last task finished; None while any task is unfinished."""
        return dt(self._fresh().finished_at)

    @property
    def environment_info(self) -> dict[str, Any] | None:
        """The @pypi/@conda environment the step's tasks ran in (None: the flow's own Python)."""
        return environment_info(self._run_row, self._step_row.step)

    @property
    def task(self) -> Task | None:
        """The step's first task in iteration order (the newest, as Metaflow's): *the* task,
        unless it is a foreach or parallel step."""
        row = self._step_row
        newest = meta().newest_task(row.flow, row.run_id, row.step)
        if newest is None:
            return None
        details = TaskDetails(row.flow, row.run_id, row.step, newest.task_id)
        return Task._of(self._run_row, newest, details)

    @property
    def origin_pathspec(self) -> str | None:
        """``Flow/OriginRun/step`` for every step of a resumed run, as Metaflow's: the step is
        named in the run it resumed whether its tasks were cloned or ran again (which of them
        did is each task's ``origin_pathspec``); None for a fresh run."""
        origin = self._run_row.origin_run_id
        return f"{self._run_row.flow}/{origin}/{self.id}" if origin else None

    @property
    def parent_steps(self) -> Iterator[Step]:
        """The steps whose tasks fed this one's."""
        run = self.parent
        return iter([run[name] for name in lineage.parent_step_names(self._run_row, self.id)])

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps whose tasks read this one's outputs."""
        run = self.parent
        return iter([run[name] for name in lineage.child_step_names(self._run_row, self.id)])

    @property
    def control_task(self) -> Task | None:
        """The step's control task (a ``num_parallel`` step's), or None."""
        return next(self.control_tasks(), None)

    def control_tasks(self, *tags: str) -> Iterator[Task]:
        """The control task of a ``num_parallel`` step (node index 0); none for other steps."""
        return iter([task for task in self.tasks(*tags) if lineage.is_control_task(task._row)])

    def tasks(self, *tags: str) -> Iterator[Task]:
        """Tasks of the step, newest first (none if the run lacks any of ``tags``)."""
        if not set(tags) <= self.tags:
            return iter(())
        row = self._step_row
        rows = meta().list_tasks(row.flow, row.run_id, row.step)
        # shared: one query per detail (a large step's first few tasks: one each, see _batch)
        details = TaskDetails(row.flow, row.run_id, row.step, tasks=len(rows))
        return iter([Task._of(self._run_row, task, details) for task in reversed(rows)])

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> Task:
        row = load_task(self._run_row, self._step_row.step, task_id, child=True)
        return Task._of(self._run_row, row, TaskDetails(row.flow, row.run_id, row.step, task_id))


# -- Task --------------------------------------------------------------------------------------


class Task(_InRun):
    """One execution of a step: its artifacts, logs, attempts and outcome.

    ``attempt`` selects which attempt the object describes (default: the latest): its
    artifacts, ``stdout``, ``stderr``, ``exception``, ``successful`` and ``finished_at``. An
    attempt that did not end its task (a retry followed it) has the artifacts it stored
    itself, as in Metaflow: what its step had set when it failed (whether the flow imports
    ``metaflow`` or ``headwater``), never the later attempt's.
    """

    def __init__(
        self, pathspec: str, *, attempt: int | None = None, _namespace_check: bool = True
    ) -> None:
        flow, run_id, step, task_id = split_pathspec(
            pathspec, 4, "task", "FlowName/RunId/StepName/TaskId"
        )
        run_row = load_run(flow, run_id, check=_namespace_check)
        row = load_task(run_row, step, task_id)
        self._set(run_row, row, TaskDetails(flow, run_id, step, task_id))
        if attempt is not None:
            try:
                attempt = int(attempt)  # Metaflow takes "1" too
            except (TypeError, ValueError):
                raise NotFoundError(f"attempt {attempt!r} of task {pathspec} is not a number",
                                    fix="pass attempt=0 for the first attempt, 1 for the "
                                    "second, ...") from None
        if attempt is not None and not 0 <= attempt < max(row.attempts, 1):
            raise NotFoundError(
                f"task {pathspec} has no attempt {attempt}; it made "
                f"{row.attempts} (numbered from 0)"
            )
        self._attempt = attempt

    @classmethod
    def _of(cls, run_row: RunRow, row: TaskRow, details: TaskDetails) -> Task:
        task = cls.__new__(cls)
        task._set(run_row, row, details)
        return task

    def _set(self, run_row: RunRow, row: TaskRow, details: TaskDetails) -> None:
        self._run_row, self._row, self._details = run_row, row, details
        self._pathspec = row.pathspec
        self._attempt: int | None = None
        self._values: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_values"] = {}  # loaded values may not pickle; they reload on demand
        return state

    def _fresh(self) -> TaskRow:
        """Re-read a running task; drop cached details once it finishes or starts a retry."""
        row = self._row
        if row.status == RUNNING:
            self._row = meta().get_task(row.flow, row.run_id, row.step, row.task_id) or row
            if (self._row.status, self._row.attempts) != (row.status, row.attempts):
                self._details.forget()
            if self._row.status == RUNNING and self._run_is_over():
                # Its scheduler died (or stopped) before recording the end: it will never finish.
                self._row = replace(self._row, status=FAILED)
        return self._row

    def _run_is_over(self) -> bool:
        run = meta().get_run(self._row.flow, self._row.run_id)
        return run is None or run.live_status != RUNNING

    # -- artifacts ------------------------------------------------------------------------------

    def _manifest(self) -> Manifest:
        """The flow's ``name`` and the run's parameters (artifacts of every task, as in
        Metaflow), overlaid by the task's own (or, for an earlier attempt, that attempt's)."""
        self._fresh()
        earlier = self._earlier_attempt()
        own = (earlier.own_artifacts if earlier is not None
               else self._details.manifest(self._row.task_id))
        return {"name": _name_ref(self._run_row.flow), **self._run_row.params, **own}

    def _earlier_attempt(self) -> AttemptRow | None:
        """The attempt asked for with ``attempt=N`` when it is not the one whose artifacts are
        the task's (a retry followed it, or it is still running), else None.

        The task's artifacts are its last attempt's once it has ended. An attempt @catch's
        stand-in followed after its step raised has them too: Metaflow handles that failure
        within the attempt, whose artifacts are then the ones the flow went on with.
        """
        if self._attempt is None:
            return None
        chosen = self._chosen_attempt()
        if chosen is None:  # recorded by no scheduler yet: nothing stored
            return AttemptRow(*self._pathspec.split("/"), self._attempt, RUNNING, None, None,
                              None, None, None)
        row = self._fresh()
        last = row.attempts - 1
        if row.status != RUNNING and (chosen.attempt == last or (
                chosen.attempt == last - 1 and self._stand_in() == last)):
            return None
        return chosen

    def _load(self, name: str) -> Any:
        if name not in self._values:
            ref = self._manifest().get(name)
            if ref is None:
                raise MissingChild(self._missing_artifact(name)).later(
                    lambda: self._where_else(name))
            store = _context.current().store()
            try:
                self._values[name] = store.load_artifact(ref, name=name, where=self._pathspec)
            except ArtifactError as exc:
                freed = freed_transient_error(exc, name, self._pathspec,
                                              self._run_row.system_tags)
                if freed is not None:
                    raise freed from exc
                raise
        return self._values[name]

    def _missing_artifact(self, name: str) -> str:
        """Why ``name`` is not an artifact of this task: what it has, a close spelling, and
        whether the task failed (then what it would have set was never stored)."""
        row = self._fresh()
        earlier = self._earlier_attempt()
        failed = (earlier.status if earlier is not None else row.status) not in (RUNNING,
                                                                                 SUCCEEDED)
        return artifact_not_found(self._pathspec, name, list(self._manifest()), failed=failed)

    def _where_else(self, name: str) -> str:
        """The clause naming another step of this run that has ``name`` (``Run('F/3').data.lrs``
        when only start set lrs), read when a missing artifact's message is (see _LateHint)."""
        holder = self._other_step_with(name)
        if holder is None:
            return ""
        run = self._pathspec.rsplit("/", 2)[0]
        return (f"; step '{holder}' of this run has it: Run('{run}')['{holder}'].task.data."
                f"{name} (each step passes on what it has; a join only what it assigns or "
                "merges with merge_artifacts(inputs))")

    def _other_step_with(self, name: str) -> str | None:
        """The first step of this task's run (other than its own) whose first task has an
        artifact ``name``, or None."""
        if not name.isidentifier():
            return None
        flow, run_id, step = self._pathspec.split("/")[:3]
        found = None
        try:
            for other in reversed(list(Run(f"{flow}/{run_id}", _namespace_check=False))):
                if other.id == step:
                    continue
                task = next(iter(other), None)
                if task is not None and name in task._details.manifest(task._row.task_id):
                    found = other.id
                    break
        except HeadwaterException:
            return None
        return found

    @property
    def data(self) -> MetaflowData:
        """Artifact values by attribute: ``task.data.model``, ``'model' in task.data``."""
        return MetaflowData(self)

    @property
    def artifacts(self) -> MetaflowArtifacts:
        """Artifacts by attribute, as :class:`DataArtifact` objects (nothing loaded)."""
        return MetaflowArtifacts(self)

    def __getitem__(self, name: str) -> DataArtifact:
        ref = self._manifest().get(name)
        if ref is None:
            raise MissingChild(self._missing_artifact(name)).later(
                lambda: self._where_else(name))
        return DataArtifact._of(self, name, ref)

    def __iter__(self) -> Iterator[DataArtifact]:
        """The task's artifacts but those whose name starts with ``_`` (read them by name,
        ``task['_seen']``), as Metaflow lists them."""
        return iter([artifact for artifact in self._every_artifact()
                     if not artifact.id.startswith("_")])

    def _every_artifact(self) -> list[DataArtifact]:
        """Every artifact, private names too (``dump --private``)."""
        return [DataArtifact._of(self, name, ref) for name, ref in sorted(self._manifest().items())]

    def _listed(self) -> list[str]:
        """The names a listing shows: all but those starting with ``_``."""
        return sorted(name for name in self._manifest() if not name.startswith("_"))

    # -- outcome, attempts and logs -------------------------------------------------------------

    @property
    def parent(self) -> Step:
        return Step._of(self._run_row, load_step(self._run_row, self._row.step))

    @property
    def created_at(self) -> datetime | None:
        return dt(self._row.created_at)

    @property
    def finished_at(self) -> datetime | None:
        """When the task ended; for ``Task(..., attempt=N)``, when that attempt did."""
        if self._attempt is not None:
            attempt = self._chosen_attempt()
            return dt(attempt.finished_at) if attempt is not None else None
        return dt(self._fresh().finished_at)

    @property
    def finished(self) -> bool:
        """Whether the task has ended, successfully or not; for ``Task(..., attempt=N)``,
        whether that attempt has (one left running by a scheduler that died has too)."""
        row = self._fresh()
        if self._attempt is not None:
            attempt = self._chosen_attempt()
            return attempt is not None and (attempt.status != RUNNING or row.status != RUNNING)
        return row.status != RUNNING

    @property
    def successful(self) -> bool:
        """Whether the task succeeded; for ``Task(..., attempt=N)``, whether that attempt did.

        A task whose step raised and ``@catch`` caught reads False, as in Metaflow (its step did
        not succeed; the flow went on past it): ``finished`` is True and the ``var`` artifact
        holds the exception. So does a task ``@catch`` stood in for after its process died, as
        Metaflow's does (its fallback attempt handles the failure).
        """
        if self._attempt is not None:
            attempt = self._chosen_attempt()
            if attempt is None or attempt.status != SUCCEEDED:
                return False
            # The attempt that ended a task @catch caught (its stand-in, or the one attempt of
            # a resume's copy of such a task) did not succeed either: the step's failure was
            # caught, as the task's own `successful` says and Metaflow's clone keeps.
            return not (self._attempt >= self._fresh().attempts - 1 and self._caught())
        return self._fresh().status == SUCCEEDED and not self._caught()

    def _caught(self) -> bool:
        """Whether ``@catch`` handled the step's failure: an exception it raised, or its
        process's death (the stand-in attempt ran in either case)."""
        return was_caught((self._fresh().transition or {}).get("metadata"))

    def __repr__(self) -> str:
        if self._attempt is None:
            return super().__repr__()
        return f"Task('{self._pathspec}', attempt={self._attempt})"

    @property
    def index(self) -> int | None:
        """Index of this task in its innermost foreach; None outside any foreach."""
        return self._row.foreach_index

    @property
    def origin_pathspec(self) -> str | None:
        """For a task resume cloned: the task of the earlier run it was copied from."""
        return self._row.origin_pathspec

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        """Pathspecs of the tasks this one read its inputs from."""
        return lineage.parent_pathspecs(self._row)

    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks this one read its inputs from."""
        return iter([Task(p, _namespace_check=False) for p in self.parent_task_pathspecs])

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        """Pathspecs of the tasks that read this one's outputs."""
        return lineage.child_pathspecs(self._run_row, self._row)

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks that read this one's outputs."""
        return iter([Task(p, _namespace_check=False) for p in self.child_task_pathspecs])

    @property
    def attempts(self) -> list[AttemptRow]:
        """Every attempt, oldest first: status, times, failure, log keys."""
        self._fresh()
        return list(self._details.attempts(self._row.task_id))

    @property
    def current_attempt(self) -> int:
        """The attempt this object describes: the one asked for, else the latest."""
        if self._attempt is not None:
            return self._attempt
        latest = max(self._fresh().attempts - 1, 0)
        return latest - 1 if self._stand_in() == latest else latest

    def _stand_in(self) -> int | None:
        """The number of @catch's stand-in attempt when it followed a step that raised (Metaflow
        handles such a failure within the failed attempt, so that attempt is the task's)."""
        return caught_attempt((self._fresh().transition or {}).get("metadata"))

    @property
    def exception(self) -> TaskFailure | None:
        """Why the attempt failed (type name, message, traceback), or None."""
        attempt = self._chosen_attempt()
        return attempt.failure if attempt else None

    @property
    def stdout(self) -> str:
        return self._log("stdout")

    @property
    def stderr(self) -> str:
        return self._log("stderr")

    @property
    def stdout_size(self) -> int:
        """Bytes of :attr:`stdout` (UTF-8), as Metaflow's ``stdout_size``."""
        return len(self.stdout.encode("utf-8", errors="replace"))

    @property
    def stderr_size(self) -> int:
        """Bytes of :attr:`stderr` (UTF-8), as Metaflow's ``stderr_size``."""
        return len(self.stderr.encode("utf-8", errors="replace"))

    @property
    def runtime_name(self) -> str:
        """What ran the task: ``'dev'`` for the local scheduler (Metaflow's name for local runs),
        ``'dask'``, or a deployment's orchestrator, from the run's ``runtime:`` system tag."""
        for tag in self.system_tags:
            if tag.startswith("runtime:"):
                return tag.partition(":")[2]
        return LOCAL_RUNTIME

    @property
    def code(self) -> CodePackage | None:
        """The code package of the task's run; None for local runs (see :attr:`Run.code`)."""
        return CodePackage.from_json(self._run_row.pathspec, self._run_row.code_json,
                                     _store)

    @property
    def environment_info(self) -> dict[str, Any] | None:
        """The @pypi/@conda environment the task ran in: ``type``, ``env_id``,
        ``python_version``, ``declared``, ``packages`` (every pinned one) and the ``lock``
        text; None when it ran in the flow's own Python."""
        return environment_info(self._run_row, self._row.step)

    @property
    def metadata_dict(self) -> dict[str, Any]:
        """Facts recorded about the task, name -> value: the latest of each of
        :attr:`metadata` (so the latest attempt's), as Metaflow's ``metadata_dict``."""
        return {m.name: m.value for m in self.metadata}

    @property
    def metadata(self) -> list[Metadata]:
        """Facts recorded about the task as Metaflow's ``Metadata`` records (name, value,
        created_at in milliseconds, type, task), oldest first: those of every attempt, or of
        the one asked for with ``Task(..., attempt=N)``. See :mod:`.task_metadata`."""
        stand_in = self._stand_in()
        attempts = [a for a in self.attempts if a.attempt != stand_in]
        if self._attempt is not None:
            attempts = [a for a in attempts if a.attempt == self._attempt]
        return task_metadata(self, attempts)

    def loglines(self, stream: str = "stdout", as_unicode: bool = True,
                 meta_dict: dict[str, Any] | None = None,
                 ) -> Iterator[tuple[datetime | None, str | bytes]]:
        """The attempt's log, line by line, as (time, line) pairs, as Metaflow's: each time is
        a naive datetime in UTC, each line a str (bytes with ``as_unicode=False``).

        Each line has the time it was printed (when it reached the scheduler). Logs stored
        before headwater kept those times give every line the time the attempt finished; a
        line has None only while its attempt runs. ``meta_dict`` is accepted for Metaflow's
        signature and not needed.
        """
        if stream not in ("stdout", "stderr"):
            raise ValueError("stream must be 'stdout' or 'stderr'")
        attempt = self._chosen_attempt()
        when = getattr(attempt, "finished_at", None)
        fallback = _utc(when) if when else None
        text, times = self._log_with_times(stream)
        for number, line in enumerate(text.splitlines()):
            stamp = _utc(times[number]) if number < len(times) else fallback
            yield stamp, (line if as_unicode else line.encode("utf-8", errors="replace"))

    def _chosen_attempt(self) -> AttemptRow | None:
        attempts = self.attempts
        if self._attempt is None:
            return attempts[-1] if attempts else None
        return next((a for a in attempts if a.attempt == self._attempt), None)

    def _log(self, stream: str) -> str:
        return self._log_with_times(stream)[0]

    def _log_attempts(self) -> list[AttemptRow]:
        """The attempts whose output this object shows: the chosen one, preceded, for @catch's
        stand-in after a step that raised, by the failed attempt (whose output Metaflow shows,
        with the caught exception, as the task's)."""
        attempt = self._chosen_attempt()
        if attempt is None:
            return []
        stand_in = self._stand_in() if self._attempt is None else None
        if stand_in is None or attempt.attempt != stand_in:
            return [attempt]
        failed = [a for a in self.attempts if a.attempt == stand_in - 1]
        return [*failed, attempt]

    def _log_with_times(self, stream: str) -> tuple[str, list[float]]:
        attempts = self._log_attempts()
        if len(attempts) == 1:
            return self._attempt_log(attempts[0], stream)
        texts: list[str] = []
        stamps: list[float] = []
        for attempt in attempts:  # finished attempts: a line without its own time gets the end's
            text, times = self._attempt_log(attempt, stream)
            if texts and texts[-1] and not texts[-1].endswith("\n"):
                texts[-1] += "\n"
            lines = len(text.splitlines())
            stamps.extend((times + [attempt.finished_at or 0.0] * lines)[:lines])
            texts.append(text)
        return "".join(texts), stamps

    def _attempt_log(self, attempt: AttemptRow, stream: str) -> tuple[str, list[float]]:
        key = getattr(attempt, f"{stream}_key")
        if not key:
            return self._output_so_far(attempt, stream), []
        what = f"{stream} of {self._pathspec} (attempt {attempt.attempt})"
        output, times = decode_log(bytes(_context.current().store().load_bytes(key, what=what)))
        return output.decode("utf-8", errors="replace"), times


    def _output_so_far(self, attempt: AttemptRow, stream: str) -> str:
        """A running attempt's output so far: the scratch copy its scheduler keeps for readers
        elsewhere once the task has run for a second (:mod:`headwater.runtime.live_logs`, which
        the web UI follows too), or a killed task's last copy; "" when there is none."""
        flow, run_id, step, task_id = self._pathspec.split("/")
        key = live_log_key(flow, run_id, step, task_id, attempt.attempt, stream)
        try:
            data = read_live_log(_context.current().store().storage, key)
        except OSError:
            return ""
        return (data or b"").decode("utf-8", errors="replace")


def _utc(seconds: float) -> datetime:
    """A naive datetime in UTC, as Metaflow's log lines carry (its other times are local)."""
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


_NAME_REFS: dict[str, ArtifactRef] = {}


def _name_ref(flow: str) -> ArtifactRef:
    """The ``name`` artifact Metaflow stores in every task (the flow's name): headwater's tasks
    do not write it, the client shows it, made once per flow name (inline, nothing stored)."""
    ref = _NAME_REFS.get(flow)
    if ref is None:
        ref = _NAME_REFS[flow] = inline_ref(flow, name="name", where=flow)
    return ref


def _store() -> Any:
    """The datastore of the current client context (where code packages are read from)."""
    return _context.current().store()


def metadata_of(pathspec: str, settings: Settings, *, meta: MetadataStore, store: Any
                ) -> list[Metadata]:
    """``Task(pathspec).metadata``, read through handles another reader already opened (the
    web UI's metadata handle and datastore), whatever the process-wide client reads and
    whatever its namespace: what the UI shows of a task is what the client says of it."""
    with _context.pinned(_context.ClientContext.over(settings, meta=meta, store=store)):
        return Task(pathspec, _namespace_check=False).metadata
