"""ExecutingTask: a ``spin`` the Runner started, and the task it recorded.

The spin command writes, once its task succeeded, which task it recorded and in which store
(the ``--runner-attribute-file``, as Metaflow's). ``.task`` is that task, read from the spin
database without switching the process-wide client away from the runs (see
:mod:`headwater.client.bound`). A spin that fails, or times out, writes nothing: the Runner then
raises :class:`SpinFailedError`, quoting the output, where the reason is.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from headwater.runner.executing import (
    ExecutingProcess,
    RunNotStartedError,
    _not_started_message,
    loop_running,
)
from headwater.runner.process import LoggedProcess

if TYPE_CHECKING:
    from headwater.client import Task


class SpinFailedError(RunNotStartedError):
    """The spin command ended without recording its task (the step failed or timed out, the
    pathspec names no task, an option is wrong). A RuntimeError too, as Metaflow's."""

    headline = "The spin did not complete"


class ExecutingTask(ExecutingProcess):
    """One spin started by a :class:`~headwater.runner.Runner`: its process, output and the
    client Task it recorded."""

    def __init__(self, runner: Any, process: LoggedProcess, *, attribute_file: str) -> None:
        super().__init__(runner, process)
        self._attribute_file = attribute_file
        self._attributes: dict[str, Any] | None = None
        self._task: Task | None = None

    @property
    def task(self) -> Task | None:
        """The spun task as recorded (artifacts too, with ``persist=True``).

        Waits for the spin to end. None if it ended without recording one (``stderr`` tells
        why); the process-wide client keeps reading what it read before.
        """
        if self._task is None:
            self._process.wait()
            attributes = self._read_attributes()
            if attributes is not None:
                from headwater.client.bound import bound_task
                from headwater.settings import Settings

                where = Settings(datastore_root=attributes["datastore_root"],
                                 metadata_url=attributes["metadata"])
                pathspec = "/".join(attributes[key] for key in
                                    ("flow_name", "run_id", "step_name", "task_id"))
                self._task = bound_task(where, pathspec)
        return self._task

    def _read_attributes(self) -> dict[str, Any] | None:
        """What the spin wrote; kept, so ``.task`` works after the Runner's files are removed."""
        if self._attributes is None:
            try:
                with open(self._attribute_file, encoding="utf-8") as handle:
                    self._attributes = json.load(handle)
            except (FileNotFoundError, json.JSONDecodeError):
                pass
        return self._attributes

    def _finished_or_raise(self) -> ExecutingTask:
        """This object once the spin ended having recorded its task; else SpinFailedError."""
        if self.returncode is not None and self._read_attributes() is None:
            raise SpinFailedError(_not_started_message(self, "recording the spun task"), fix=(
                "the reason is in the output quoted above: correct the step or the argument it "
                "names, then spin again"))
        return self

    def __await__(self) -> Generator[Any, None, ExecutingTask]:
        return self._ended().__await__()

    async def _ended(self) -> ExecutingTask:
        await self._process.wait_async()
        return self._finished_or_raise()


def spin_started(start: Any) -> Any:
    """``start()`` (which returns an ExecutingTask) for ``async_spin``: in async code a
    coroutine that returns it once the spin ended (raising if it failed, as Metaflow's
    ``async_spin``); from plain code the ExecutingTask at once."""
    if not loop_running():
        return start()

    async def ended() -> ExecutingTask:
        return await start()

    return ended()
