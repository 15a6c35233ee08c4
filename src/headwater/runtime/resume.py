"""Resume: which tasks of a new run can be cloned from an earlier run instead of running again.

The new run walks the graph from ``start`` as any run does. Each task it is about to launch is
matched against the origin run by step, position (the split indexes it sits under) and occurrence
(the n-th pass of a loop). It is cloned, pointing at the origin's blobs, when

* the origin task at that place succeeded,
* its step is not the one the user asked to re-run from, and
* every parent of the new task was itself cloned: once one task runs again, all that depends on
  it runs again too,
* where the origin task went next is a way the flow's graph, as it is now, can go from that step
  (the flow file may have changed since: a step renamed, a foreach made linear), and
* the data of its ``@transient`` artifacts is still there (``gc`` frees it once a run succeeded).

A clone keeps what the origin's code computed. When the flow file changed after the origin started
and a step ends up with tasks of both kinds (the usual case: a foreach step edited after some of
its items had succeeded), the scheduler names the step and ``resume STEP`` (:meth:`split_step`).

Nothing is copied: a clone is a metadata record whose manifest names the origin's blobs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from headwater.exceptions import NotFoundError, ParameterError
from headwater.graph.model import FOREACH, PARALLEL, SWITCH, Graph, StepNode
from headwater.meta.tags import transient_names_of
from headwater.records import RUN_START_FACTS, Frame, Manifest, Record, TaskResult, TaskSpec


class CloneSource(Record, frozen=True):
    """An origin task a new task copies: what it stored and where it went next."""

    pathspec: str
    manifest: Manifest
    result: TaskResult
    stdout_key: str | None
    stderr_key: str | None
    finished_at: float | None = None  # when the origin task ended (@cache: what changed since)


def _position(step: str, frames: tuple[Frame, ...] | list[Frame]) -> tuple:
    """Where a task sits: its step, then each split's step and index, in one flat tuple (one
    object a task instead of three: the plan holds one for every origin task)."""
    place: list[Any] = [step]
    for frame in frames:
        place += (frame.step, frame.index)
    return tuple(place)


class ResumePlan:
    """Matches the tasks of a resumed run to the origin run's tasks."""

    def __init__(self, meta: Any, flow: str, origin_run_id: str, rerun_steps: set[str],
                 store: Any = None, graph: Graph | None = None) -> None:
        self.meta = meta
        self.graph = graph  # the flow as it is now: a clone must go where it can go
        self.regraphed: dict[str, tuple[str, ...]] = {}  # step -> where its origin task went
        self.store = store  # where a clone's @transient data is looked for (None: not looked for)
        origin = meta.get_run(flow, origin_run_id)
        self.transient = transient_names_of(origin.system_tags) if origin is not None else frozenset()
        self.flow = flow
        self.origin_run_id = origin_run_id
        self.rerun_steps = rerun_steps
        # Of each origin task only what matching reads (a row is ~2 KB, with its frames and
        # parents; a large foreach has 100,000 of them): (task id, status, transition), read a
        # page of rows at a time, so the whole origin is never in memory as rows.
        self._by_position: dict[tuple, list[Any]] = defaultdict(list)
        by_step: dict[str, list[str]] = defaultdict(list)
        for row in meta.iter_tasks(flow, origin_run_id, page=PAGE):
            self._by_position[_position(row.step, row.frames)].append(
                (row.task_id, row.status, getattr(row, "transition", None)))
            by_step[row.step].append(row.task_id)
        for rows in self._by_position.values():
            rows.sort(key=lambda r: _task_order(r[0]))
        self._seen: dict[tuple, int] = defaultdict(int)
        self._steps = {step: _StepPages(ids) for step, ids in by_step.items()}
        # Set by the launcher when the flow file changed after the origin started; then a step
        # some of whose tasks are cloned and some run again is named once (see split_step).
        self.code_changed = False
        self._cloned_in: set[str] = set()
        self._rerun_in: set[str] = set()
        self._named: set[str] = set()

    @classmethod
    def for_run(cls, meta: Any, flow: str, graph: Graph, origin_run_id: str,
                step: str | None, store: Any = None) -> ResumePlan:
        if step is not None and step not in graph:
            raise NotFoundError(
                f"flow {flow} has no step {step!r} to resume from{graph.unknown_step(step)}",
                fix=f"give resume one of its steps: {', '.join(n.name for n in graph.ordered())}",
            )
        # Without a step, only what did not succeed runs again (a failed foreach child, not its
        # siblings), and everything downstream of it through the parents rule.
        return cls(meta, flow, origin_run_id, {step} if step is not None else set(), store,
                   graph)

    def match(self, spec: TaskSpec, parents_cloned: bool) -> CloneSource | None:
        """The origin task to clone for ``spec``, or None when it must run."""
        key = _position(spec.step, spec.frames)
        rows = self._by_position.get(key)
        if rows is None:  # no origin task here, or every one here was matched already
            return None
        occurrence = self._seen[key]
        self._seen[key] += 1
        if occurrence + 1 == len(rows):  # the place's last origin task: forget the place
            del self._by_position[key], self._seen[key]
        # Each place is matched once: what the plan holds of it goes now, so a large origin's
        # rows and manifests do not stay in memory beside the tasks that replace them.
        (task_id, status, transition), rows[occurrence] = rows[occurrence], None
        manifest, attempts = self._steps[spec.step].take(
            self.meta, self.flow, self.origin_run_id, spec.step, task_id)
        last = (attempts or [None])[-1]
        if not parents_cloned or spec.step in self.rerun_steps:
            return None
        if status != "succeeded" or transition is None:
            self._rerun_in.add(spec.step)  # its siblings at other places may be cloned
            return None
        if self.graph is not None and not transition_fits(self.graph[spec.step], transition):
            self.regraphed[spec.step] = tuple(transition.get("next_steps") or ())
            return None
        if not transient_data_kept(self.store, manifest, self.transient):
            return None
        result = TaskResult(
            manifest=manifest,
            next_steps=tuple(transition.get("next_steps", ())),
            foreach_count=transition.get("foreach_count"),
            foreach_items_key=transition.get("foreach_items_key"),
            foreach_unbounded=bool(transition.get("foreach_unbounded")),
            cards=list(transition.get("cards", ())),
            graph=transition.get("graph"),  # a cloned start task keeps the run's graph
            # the origin's own facts (dask-worker, environment, ...): task.metadata of a clone
            # shows what its origin's does, as Metaflow's clones copy the origin's metadata
            metadata={name: value for name, value in (transition.get("metadata") or {}).items()
                      if name not in RUN_START_FACTS},
        )
        pathspec = f"{self.flow}/{self.origin_run_id}/{spec.step}/{task_id}"
        self._cloned_in.add(spec.step)
        return CloneSource(pathspec, result.manifest, result,
                           getattr(last, "stdout_key", None), getattr(last, "stderr_key", None))


    def split_step(self, step: str) -> bool:
        """True once per step, when the flow file changed after the origin started and ``step``
        has both tasks cloned from the origin (made by the code of then) and tasks that run
        again (with the code of now): a foreach whose step was edited after some items had
        succeeded mixes the two in one join, which a plain resume never says."""
        if (not self.code_changed or step in self._named
                or step not in self._cloned_in or step not in self._rerun_in):
            return False
        self._named.add(step)
        return True


def _task_order(task_id: str) -> tuple:
    """Task ids in the order they were given (numbers as numbers), whatever their text."""
    return (0, int(task_id), "") if task_id.isdigit() else (1, 0, task_id)


class _StepPages:
    """The manifests and attempts of one origin step's tasks, read ``PAGE`` tasks at a time as
    the new run reaches them: the task asked for and those that follow it in task-id order
    (the order the new run's scheduler meets them in). What a match takes is dropped, so at
    any time the plan holds about a page of a step, not the step (10,000 tasks' manifests
    and attempts were most of a resume's peak)."""

    __slots__ = ("_ids", "_fetched", "_manifests", "_attempts", "_next")

    def __init__(self, task_ids: list[str]) -> None:
        self._ids = sorted(task_ids, key=_task_order)
        self._fetched = bytearray(len(self._ids))  # 1: that task's page was read
        self._manifests: dict[str, Manifest] = {}
        self._attempts: dict[str, list[Any]] = {}
        self._next = 0  # where the task after the last one asked for is: usually the next ask

    def take(self, meta: Any, flow: str, run_id: str, step: str,
             task_id: str) -> tuple[Manifest, list[Any] | None]:
        """``task_id``'s manifest and attempts, read with its page on the first ask; each is
        handed out once."""
        at = self._next
        if at >= len(self._ids) or self._ids[at] != task_id:
            at = bisect_left(self._ids, _task_order(task_id), key=_task_order)
        self._next = at + 1
        if at < len(self._ids) and self._ids[at] == task_id and not self._fetched[at]:
            page = [i for i in range(at, min(at + PAGE, len(self._ids))) if not self._fetched[i]]
            ids = [self._ids[i] for i in page]
            for i in page:
                self._fetched[i] = 1
            self._manifests.update(meta.get_tasks_artifacts(flow, run_id, step, ids))
            self._attempts.update(meta.list_tasks_attempts(flow, run_id, step, ids))
        return self._manifests.pop(task_id, {}), self._attempts.pop(task_id, None)


PAGE = 512  # origin tasks read at once: rows while planning, manifests and attempts while matching


def transition_fits(node: StepNode, transition: Mapping[str, Any]) -> bool:
    """Whether a recorded ``transition`` (where an origin task went next) is one ``node``, the
    step as the flow file says it now, can take.

    A resumed run follows its clones' transitions: a clone of a task that went to a step the flow
    no longer has (or fanned out where the step now goes on linearly) would send the run where
    its graph cannot follow (a ``KeyError`` traceback, and a run left half-recorded). Such a task
    runs again instead."""
    taken = tuple(transition.get("next_steps") or ())
    fans_out = transition.get("foreach_count") is not None
    if node.transition == SWITCH:
        return not fans_out and len(taken) == 1 and taken[0] in node.out
    if node.transition in (FOREACH, PARALLEL):
        return fans_out and taken == tuple(node.out)
    return not fans_out and taken == tuple(node.out)


def transient_data_kept(store: Any, manifest: Manifest, names: frozenset[str]) -> bool:
    """Whether the blobs of a task's ``@transient`` artifacts (``names``) are all still stored:
    a task whose transient data ``gc`` freed cannot be cloned, it runs again instead.

    Each blob is touched, not only looked for: ``gc`` does not count a succeeded run's
    transient data, so one collecting now would otherwise free a blob between this check and
    the clone's record, and the clone would refer to nothing."""
    if store is None or not names:
        return True
    keys = {ref.key for name, ref in manifest.items() if name in names and ref.inline is None}
    return not keys or store.refresh_many(keys) == keys


def check_parameters_recorded(flow_cls: type, recorded: Mapping[str, Any], origin: str,
                              command: str = "resume") -> None:
    """A resume (or a ``spin``, ``command``) reuses its origin's parameters and configs: one the
    flow declares now that the origin never had (added to the flow file since) has no value in
    the new run. Refused before anything is recorded, naming it; before, the first step to read
    it failed with "no artifact or attribute" (Metaflow: an internal ``KeyError``)."""
    from headwater.flow.config import flow_configs
    from headwater.flow.parameters import flow_parameters

    missing = [(f"parameter {param.name!r}") for attr, param in flow_parameters(flow_cls).items()
               if attr not in recorded]
    missing += [f"config {cfg.name!r}" for attr, cfg in flow_configs(flow_cls).items()
                if attr not in recorded]
    if missing:
        names = ", ".join(missing)
        also = (", or give their values in --artifacts-module (ARTIFACTS = {NAME: value})"
                if command == "spin" else "")
        raise ParameterError(
            f"{names} of flow {flow_cls.__name__} came after run {origin}: a {command} reuses "
            "its origin's parameters and configs, and that run has no value for them",
            fix=f"start a new run (`run`) to give them a value{also}, or take them out of the "
            f"flow to {command} this run")
