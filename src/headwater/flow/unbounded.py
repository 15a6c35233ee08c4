"""Unbounded foreach (Metaflow's ``metaflow.unbounded_foreach``): a foreach whose value is an
:class:`UnboundedForeachInput` runs one *control task* beside its items.

The control task is for the step's plug-in decorator (``ubf_context`` is :data:`UBF_CONTROL` in
its hooks; the items' tasks get :data:`UBF_TASK`): Metaflow's plug-ins launch the items from
there on a system of their own. Here the scheduler launches the items itself, as for any
foreach, so a control task only has to let them run; the client lists it among the step's
tasks and in ``control_tasks()``, and inside the items ``foreach_stack()`` gives no
``num_splits`` for that level (an unbounded foreach does not know its length).
"""

from __future__ import annotations

CONTROL_TASK_TAG = "control_task"
UBF_CONTROL = "ubf_control"
UBF_TASK = "ubf_task"


class UnboundedForeachInput:
    """Base of the values that make a foreach unbounded (subclass it; it must be iterable)."""

    _hw_unbounded_foreach = True


def ubf_context(frames: tuple) -> str | None:
    """The ``ubf_context`` of a task with these split frames."""
    if not frames or not frames[-1].unbounded:
        return None
    return UBF_CONTROL if frames[-1].is_control else UBF_TASK


__all__ = ["CONTROL_TASK_TAG", "UBF_CONTROL", "UBF_TASK", "UnboundedForeachInput"]
