"""Per-task details fetched for a whole step at once.

Iterating a foreach step of 10,000 tasks and reading ``task.data.x`` or ``task.stdout`` on each
must not cost 10,000 metadata queries. Tasks made by listing a step share one
:class:`TaskDetails` that, on the first request, fetches the manifests (or the attempts) of every
task of that step in one query. A task made alone by pathspec gets one of its own, scoped to
itself.

A listing of a large step (more than ``WHOLE_STEP_AT_ONCE`` tasks) is not fetched whole for
the first task asked about: reading one task's value out of 100,000 took a 3-second query of
every task's manifest. Its first ``ONE_BY_ONE`` tasks are fetched one query each; a caller that
goes on asking is iterating, and the step is then fetched whole, once.
"""

from __future__ import annotations

from headwater.client import _context
from headwater.meta import AttemptRow
from headwater.records import Manifest

WHOLE_STEP_AT_ONCE = 1000  # a listed step of up to this many tasks is fetched whole at once
ONE_BY_ONE = 16  # tasks of a larger step fetched alone before the whole step is


class TaskDetails:
    """Manifests and attempts of the tasks of one step (or of a single task), loaded lazily."""

    def __init__(self, flow: str, run_id: str, step: str, only_task: str | None = None,
                 tasks: int = 0) -> None:
        self.flow = flow
        self.run_id = run_id
        self.step = step
        self.only_task = only_task
        self._manifests: dict[str, Manifest] | None = None
        self._attempts: dict[str, list[AttemptRow]] | None = None
        # a large listed step: what was fetched task by task so far (None: fetch it whole)
        self._some_manifests: dict[str, Manifest] | None = None
        self._some_attempts: dict[str, list[AttemptRow]] | None = None
        if only_task is None and tasks > WHOLE_STEP_AT_ONCE:
            self._some_manifests, self._some_attempts = {}, {}
        self.graph: dict | None = None  # the run's recorded graph, once a task's facts need it

    def manifest(self, task_id: str) -> Manifest:
        some = self._some_manifests
        if self._manifests is None and some is not None and (
                task_id in some or len(some) < ONE_BY_ONE):
            if task_id not in some:
                some[task_id] = _context.current().meta.get_artifacts(
                    self.flow, self.run_id, self.step, task_id)
            return some[task_id]
        if self._manifests is None:
            meta = _context.current().meta
            if self.only_task is None:
                self._manifests = meta.get_step_artifacts(self.flow, self.run_id, self.step)
            else:
                self._manifests = {
                    self.only_task: meta.get_artifacts(
                        self.flow, self.run_id, self.step, self.only_task
                    )
                }
        return self._manifests.get(task_id, {})

    def attempts(self, task_id: str) -> list[AttemptRow]:
        some = self._some_attempts
        if self._attempts is None and some is not None and (
                task_id in some or len(some) < ONE_BY_ONE):
            if task_id not in some:
                some[task_id] = _context.current().meta.list_attempts(
                    self.flow, self.run_id, self.step, task_id)
            return some[task_id]
        if self._attempts is None:
            meta = _context.current().meta
            if self.only_task is None:
                self._attempts = dict(meta.list_step_attempts(self.flow, self.run_id, self.step))
            else:
                self._attempts = {
                    self.only_task: meta.list_attempts(
                        self.flow, self.run_id, self.step, self.only_task
                    )
                }
        return self._attempts.get(task_id, [])

    def forget(self) -> None:
        """Drop what was loaded (a task still running may since have finished)."""
        self._manifests = None
        self._attempts = None
        if self._some_manifests is not None:
            self._some_manifests, self._some_attempts = {}, {}
