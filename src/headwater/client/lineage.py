"""How tasks and steps of a run connect: parents and children, as Metaflow's client names them.

A task's row keeps its parents (``step/task_id`` of each input task); children are the tasks that
name it as a parent. Everything is read from the run's own rows, so it works the same for a
finished run, a running one and a resumed one (whose cloned tasks keep their parents).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headwater.client._lookup import meta


def _task_rows(run_row: Any) -> list[Any]:
    store = meta()
    rows = []
    for step in store.list_steps(run_row.flow, run_row.run_id):
        rows.extend(store.list_tasks(run_row.flow, run_row.run_id, step))
    return rows


def parent_pathspecs(task_row: Any) -> Iterator[str]:
    """``Flow/Run/step/task`` of each task this task read its inputs from."""
    for parent in task_row.parents:
        yield f"{task_row.flow}/{task_row.run_id}/{parent}"


def child_pathspecs(run_row: Any, task_row: Any) -> Iterator[str]:
    """``Flow/Run/step/task`` of each task that read this task's outputs."""
    me = f"{task_row.step}/{task_row.task_id}"
    for row in _task_rows(run_row):
        if me in row.parents:
            yield f"{row.flow}/{row.run_id}/{row.step}/{row.task_id}"


def parent_step_names(run_row: Any, step: str) -> list[str]:
    """Steps whose tasks fed this step's tasks, in the order first met."""
    names: list[str] = []
    for row in meta().list_tasks(run_row.flow, run_row.run_id, step):
        for parent in row.parents:
            name = parent.split("/")[0]
            if name not in names:
                names.append(name)
    return names


def child_step_names(run_row: Any, step: str) -> list[str]:
    """Steps whose tasks read this step's tasks' outputs."""
    names: list[str] = []
    for row in _task_rows(run_row):
        if any(p.split("/")[0] == step for p in row.parents) and row.step not in names:
            names.append(row.step)
    return names


def is_control_task(task_row: Any) -> bool:
    """The first task of a ``num_parallel`` fan-out (node index 0) is its control task, as is
    the one an unbounded foreach adds beside its items."""
    frames = [f for f in task_row.frames if f.is_foreach]
    return bool(frames) and (frames[-1].is_control
                             or frames[-1].items_key is None and frames[-1].index == 0)
