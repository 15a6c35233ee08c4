"""A run's shape as it was recorded: its start and end steps, and its graph.

A flow may begin and finish at steps of any name (``@step(start=True)``, a flow of one step), so
readers ask the run rather than assume ``start`` and ``end``. The run's system tags name the two
steps when they are not ``start`` and ``end`` (:func:`headwater.meta.tags.endpoint_tags`); its
start task keeps the whole graph, as ``current.graph`` describes it.

Metaflow serves both through a pseudo-step, ``run['_parameters']``, whose one task carries the
run's parameters, a ``_graph_info`` artifact and ``start_step`` / ``end_step`` metadata. Tools
written for Metaflow read them there, so :class:`ParametersStep` gives that view (it is not a step
of the run: iterating a run never lists it, as with Metaflow).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headwater.client._errors import MissingChild, artifact_not_found
from headwater.client._lookup import meta
from headwater.meta.tags import endpoints_of

PARAMETERS_STEP = "_parameters"
GRAPH_INFO = "_graph_info"
_TASK_ID = "1"


def endpoints(run_row: Any) -> tuple[str, str]:
    """The run's (start step, end step)."""
    return endpoints_of(run_row.system_tags)


def recorded_graph(run_row: Any) -> dict[str, Any] | None:
    """The graph the run's start task recorded (``current.graph``'s shape, with ``start_step``
    and ``end_step``); None before its start task has finished, or for a run recorded before
    headwater kept it."""
    start, end = endpoints(run_row)
    tasks = meta().list_tasks(run_row.flow, run_row.run_id, start, limit=1)
    graph = ((tasks[0].transition or {}).get("graph") if tasks else None)
    if not graph or not isinstance(graph, dict):  # a record changed by hand is no graph
        return None
    return {**graph, "start_step": graph.get("start_step") or start,
            "end_step": graph.get("end_step") or end}


class _Value:
    """An artifact of the ``_parameters`` task: a name and its value (``.data``)."""

    def __init__(self, task: ParametersTask, name: str, value: Any) -> None:
        self.id, self.data, self._task = name, value, task
        self.pathspec = f"{task.pathspec}/{name}"

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"


class _Data:
    """``task.data``: the values by attribute."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._values


class ParametersTask:
    """The one task of ``run['_parameters']``: parameters, ``_graph_info``, start/end metadata."""

    def __init__(self, step: ParametersStep) -> None:
        self._step = step
        self.id = _TASK_ID
        self.pathspec = f"{step.pathspec}/{_TASK_ID}"
        self._cache: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"

    @property
    def parent(self) -> ParametersStep:
        return self._step

    def _values(self) -> dict[str, Any]:
        if self._cache is None:
            run = self._step.parent
            values = {"name": run._run_row.flow, **run.parameters}
            graph = recorded_graph(run._run_row)
            if graph is not None:
                values[GRAPH_INFO] = graph
            self._cache = values
        return self._cache

    @property
    def metadata_dict(self) -> dict[str, str]:
        """The run's facts (``user``, ``runtime``, ``python_version``, ``metaflow_version``,
        ``script-name``), ``attempt-done`` and its first and last steps, as Metaflow records
        them on this task."""
        run_row = self._step.parent._run_row
        start, end = endpoints(run_row)
        facts = {"attempt-done": "0"}
        for tag in run_row.system_tags:
            name, _, value = tag.partition(":")
            if name in ("user", "runtime", "python_version", "metaflow_version"):
                facts[name] = value
        script = str((recorded_graph(run_row) or {}).get("file") or "")
        if script:
            facts["script-name"] = script.replace("\\", "/").rsplit("/", 1)[-1]
        return {**facts, "start_step": start, "end_step": end}

    @property
    def data(self) -> _Data:
        return _Data(self._values())

    def __getitem__(self, name: str) -> _Value:
        values = self._values()
        if name not in values:
            raise MissingChild(artifact_not_found(self.pathspec, name, list(values)))
        return _Value(self, name, values[name])

    def __contains__(self, name: object) -> bool:
        return name in self._values()

    def __iter__(self) -> Iterator[_Value]:
        """Its artifacts but the internal ``_graph_info`` (readable by name), as Metaflow's."""
        return iter([_Value(self, name, value) for name, value in sorted(self._values().items())
                     if not name.startswith("_")])

    @property
    def successful(self) -> bool:
        return True

    @property
    def finished(self) -> bool:
        return True


class ParametersStep:
    """``run['_parameters']``: Metaflow's pseudo-step of a run's constants."""

    id = PARAMETERS_STEP

    def __init__(self, run: Any) -> None:
        self._run = run
        self.pathspec = f"{run.pathspec}/{PARAMETERS_STEP}"

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"

    @property
    def parent(self) -> Any:
        return self._run

    @property
    def task(self) -> ParametersTask:
        return ParametersTask(self)

    def tasks(self, *tags: str) -> Iterator[ParametersTask]:
        return iter([self.task])

    def __iter__(self) -> Iterator[ParametersTask]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> ParametersTask:
        if task_id != _TASK_ID:
            raise MissingChild(f"{self.pathspec} has one task, {_TASK_ID}, not {task_id!r}")
        return self.task
