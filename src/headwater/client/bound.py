"""Client objects read from a store of their own, whatever the process-wide client reads.

The Runner's ``spin`` hands back the spun task, which lives in the spin database; switching the
whole client there (as ``metadata()`` does) would lose the runs the caller is reading. A bound
task reads its own store for every access (attributes, methods, artifacts, logs) and leaves the
process-wide choice alone, as Metaflow's ``_current_metadata`` does for one object.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any

from headwater.client import _context
from headwater.client.core import Task
from headwater.settings import Settings


class BoundTask(Task):
    """A :class:`Task` that reads the :class:`ClientContext` it was opened with."""

    def __getattribute__(self, name: str) -> Any:
        home = object.__getattribute__(self, "__dict__").get("_home")
        if home is None or name.startswith("__"):
            return super().__getattribute__(name)
        with _context.pinned(home):
            value = super().__getattribute__(name)
        if inspect.ismethod(value):
            return _pinned_call(home, value)
        return value

    def __reduce__(self) -> Any:
        return (Task, (self.pathspec,), None)  # unpickled, it reads the process-wide store

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"


def _pinned_call(home: _context.ClientContext, method: Any) -> Any:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _context.pinned(home):
            return method(*args, **kwargs)

    return call


def bound_task(settings: Settings, pathspec: str) -> Task:
    """The task ``pathspec`` of the store ``settings`` names (namespace checks off: the caller
    made it)."""
    home = _context.ClientContext(settings)
    try:
        with _context.pinned(home):
            task = BoundTask(pathspec, _namespace_check=False)
    except BaseException:
        home.close()
        raise
    task.__dict__["_home"] = home
    # The context is the task's alone (a Task has no close()): its connections end when the
    # task is dropped, not whenever the garbage collector gets to them.
    weakref.finalize(task, home.close)
    return task
