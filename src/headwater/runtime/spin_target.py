"""Which past task ``spin`` re-runs: the pathspec forms Metaflow's ``spin`` accepts, resolved.

``STEP`` (that step in the newest run that has it), ``RUN/STEP``, ``RUN/STEP/TASK``, and each of
the last two with the flow's name in front. Naming the task is the fastest; without it the
task is looked up, and the full pathspec is said so that the next spin can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.exceptions import NotFoundError
from headwater.meta import RunRow, TaskRow

_FORMS = "STEP, RUN_ID/STEP or RUN_ID/STEP/TASK_ID (optionally with FLOW/ in front)"
_RUNS_SEARCHED = 50  # how many recent runs a bare STEP is looked for in


@dataclass(frozen=True)
class SpinTarget:
    """A parsed pathspec: the run and the task may still be unknown."""

    step: str
    run_id: str | None = None
    task_id: str | None = None


def parse_target(flow: str, text: str) -> SpinTarget:
    """``text`` in one of the accepted forms (see the module docstring) for flow ``flow``."""
    parts = text.strip().strip("/").split("/")
    if len(parts) in (3, 4) and parts[0] == flow:
        parts = parts[1:]
        if len(parts) == 2:  # FLOW/RUN/STEP
            return _checked(text, SpinTarget(parts[1], parts[0]))
    elif len(parts) == 4:
        raise NotFoundError(f"spin {text}: the pathspec names flow {parts[0]!r}, not {flow}",
                            fix=f"spin a task of {flow}, e.g. {flow}/{'/'.join(parts[1:])}")
    if len(parts) == 1:
        return _checked(text, SpinTarget(parts[0]))
    if len(parts) == 2:
        return _checked(text, SpinTarget(parts[1], parts[0]))
    if len(parts) == 3:
        return _checked(text, SpinTarget(parts[1], parts[0], parts[2]))
    raise NotFoundError(f"spin {text!r}: not a pathspec spin understands",
                        fix=f"give {_FORMS}, e.g. spin 12/train/3")


def _checked(text: str, target: SpinTarget) -> SpinTarget:
    if not all(part for part in (target.step, target.run_id, target.task_id) if part is not None):
        raise NotFoundError(f"spin {text!r}: a part of the pathspec is empty",
                            fix=f"give {_FORMS}, e.g. spin 12/train/3")
    return target


def find_task(meta: Any, flow: str, target: SpinTarget) -> tuple[RunRow, TaskRow]:
    """The run and the task ``target`` names, or a NotFoundError that says what exists."""
    run = _run_of(meta, flow, target)
    if target.task_id is not None:
        task = meta.get_task(flow, run.run_id, target.step, target.task_id)
        if task is None:
            ids = ", ".join(t.task_id for t in meta.list_tasks(flow, run.run_id, target.step,
                                                                 limit=10))
            raise NotFoundError(
                f"task {flow}/{run.run_id}/{target.step}/{target.task_id} does not exist",
                fix=f"tasks of {target.step}: {ids}" if ids
                else f"run {run.run_id} has no task of step '{target.step}'")
        return run, task
    tasks = meta.list_tasks(flow, run.run_id, target.step)
    if not tasks:
        raise NotFoundError(f"run {flow}/{run.run_id} has no task of step '{target.step}'",
                            fix="spin a step that ran in that run, or name another run")
    finished = [t for t in tasks if t.status == "succeeded"]
    return run, (finished or tasks)[-1]


def _run_of(meta: Any, flow: str, target: SpinTarget) -> RunRow:
    if target.run_id is not None:
        run = meta.get_run(flow, target.run_id)
        if run is None:
            raise NotFoundError(f"run {flow}/{target.run_id} does not exist",
                                fix=f"see the runs of {flow} with `runs`")
        return run
    for run in meta.list_runs(flow, limit=_RUNS_SEARCHED):
        if meta.list_tasks(flow, run.run_id, target.step, limit=1):
            return run
    raise NotFoundError(f"no run of {flow} has a task of step '{target.step}' to spin",
                        fix=f"run the flow first, then spin {target.step}")
