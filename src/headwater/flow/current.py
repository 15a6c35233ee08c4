"""``current``: what the running task knows about itself (flow, run, step, task, retry, ...).

One module-level object, filled by the task runner in the task's own process just before the step
function runs. Outside a running task every field is None/empty and ``is_running_flow`` is False.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only, never imported at run time (a task reads none of them)
    from typing import Protocol

    from headwater.cards.collector import CardCollector
    from headwater.client.core import Run, Task
    from headwater.flow.trigger import Trigger

    class ParallelFacts(Protocol):
        """``current.parallel`` in a task of a ``num_parallel`` fan-out (declared here for
        type checkers: the value is the parallel decorator's record, a layer above)."""

        @property
        def node_index(self) -> int: ...
        @property
        def num_nodes(self) -> int: ...
        @property
        def main_ip(self) -> str: ...
        @property
        def control_task_id(self) -> str | None: ...


# Fields computed on first read while a task runs (``current.run``, ``current.task``): layers
# above the flow API (the client) register how to make them, so this module imports none of them.
_COMPUTED: dict[str, Callable[[Current], Any]] = {}


# The computed fields the client provides (it registers them on import).
_CLIENT_FIELDS = ("run", "task")


def register_computed(name: str, make: Callable[[Current], Any]) -> None:
    """Let ``current.<name>`` be made by ``make(current)`` while a task runs."""
    _COMPUTED[name] = make


_FIELDS: dict[str, Callable[[], Any]] = {
    "flow_name": lambda: None, "run_id": lambda: None, "step_name": lambda: None,
    "task_id": lambda: None, "retry_count": lambda: 0, "origin_run_id": lambda: None,
    "parameter_names": list, "username": lambda: None, "tags": set, "namespace": lambda: None,
    "is_running_flow": lambda: False,
}
"""The task's facts and their values outside a task. Each is kept in a private attribute
(``_flow_name``, ...) behind a read-only property, as Metaflow keeps them: harnesses that save
and restore ``current``'s private state between tests (Metaflow's do) then restore these too."""


def _field(name: str) -> property:
    private, default = f"_{name}", _FIELDS[name]
    return property(lambda self: self.__dict__[private] if private in self.__dict__
                    else default(), doc=f"The running task's {name} (outside a task: "
                    f"{default()!r}).")


class Current:
    """Read-only facts about the task this process is running."""

    if TYPE_CHECKING:  # for type checkers and editors: made from _FIELDS and __getattr__ below
        @property
        def flow_name(self) -> str | None: ...
        @property
        def run_id(self) -> str | None: ...
        @property
        def step_name(self) -> str | None: ...
        @property
        def task_id(self) -> str | None: ...
        @property
        def retry_count(self) -> int: ...
        @property
        def origin_run_id(self) -> str | None: ...
        @property
        def parameter_names(self) -> list[str]: ...
        @property
        def username(self) -> str | None: ...
        @property
        def tags(self) -> set[str]: ...
        @property
        def namespace(self) -> str | None: ...
        @property
        def is_running_flow(self) -> bool: ...
        # Present while a task runs, some only on steps that ask for them (@card, @parallel,
        # @project); reading one elsewhere raises AttributeError. ``card`` (the card collector),
        # ``run`` and ``task`` (the client's Run and Task) live in layers above this one: their
        # types are named for checkers only (see test_layering's TYPES_ONLY).
        card: CardCollector
        parallel: ParallelFacts
        project_name: str
        branch_name: str
        project_flow_name: str
        is_user_branch: bool
        is_production: bool
        run: Run
        task: Task
        graph: dict[str, Any]
        trigger: Trigger

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        for name, default in _FIELDS.items():
            object.__setattr__(self, f"_{name}", default())
        self._extra: dict[str, Any] = {}

    def _bind(self, **fields: Any) -> None:
        """Called by the task runner; extra keys (project_name, card, parallel, ...) are kept too."""
        for key, value in fields.items():
            if key in _FIELDS:
                object.__setattr__(self, f"_{key}", value)
            else:
                self._extra[key] = value
        self._is_running_flow = True

    def _set_env(self, flow: Any = None, run_id: str | None = None, step_name: str | None = None,
                 task_id: str | None = None, retry_count: Any = None,
                 origin_run_id: str | None = None, namespace: str | None = None,
                 username: str | None = None, metadata_str: str | None = None,
                 is_running: bool = True, tags: Any = None) -> None:
        """Metaflow's hook for tests and tools that fake a running task (its positional order).
        Prefer running a real flow: this sets the facts and nothing else."""
        fields = {"run_id": run_id, "step_name": step_name, "task_id": task_id,
                  "retry_count": retry_count, "origin_run_id": origin_run_id,
                  "namespace": namespace, "username": username, "tags": tags}
        if flow is not None:
            fields["flow_name"] = getattr(flow, "name", type(flow).__name__)
        self._bind(**{k: v for k, v in fields.items() if v is not None})
        self._is_running_flow = bool(is_running)

    def _update_env(self, fields: dict[str, Any]) -> None:
        """Add fields (Metaflow's name for it): a plug-in's ``flow_init`` or ``task_pre_step``
        sets values the step then reads as ``current.<name>``."""
        self._extra.update(fields)

    def _bind_launch(self, **fields: Any) -> None:
        """Facts known before any task runs (the project and branch), readable while the launch
        evaluates parameter defaults, as Metaflow allows; no task is running yet."""
        self._extra.update(fields)

    @property
    def tempdir(self) -> str:
        """Where a step may put temporary files: ``HEADWATER_TEMPDIR`` or ``METAFLOW_TEMPDIR``
        when set, else the system's temporary folder (readable outside a task too)."""
        import tempfile

        return (os.environ.get("HEADWATER_TEMPDIR") or os.environ.get("METAFLOW_TEMPDIR")
                or tempfile.gettempdir())

    @property
    def pathspec(self) -> str | None:
        if not self.task_id:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    def __contains__(self, name: str) -> bool:
        """``"project_name" in current``: whether the fact is set (not None) here, as Metaflow
        answers; a step without @project (or outside a task) has no project facts."""
        return getattr(self, name, None) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """``current.get("project_name", default)``: the fact, or ``default`` when absent."""
        return getattr(self, name, default)

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("_extra", {})
        if name in extra:
            return extra[name]
        if name in _CLIENT_FIELDS and name not in _COMPUTED and \
                self.__dict__.get("_is_running_flow"):
            # The client registers current.run and current.task when it is imported; a flow
            # that imports only FlowSpec, step and current has not imported it yet.
            import headwater.client  # noqa: F401
        if name in _COMPUTED and self.__dict__.get("_is_running_flow"):
            value = _COMPUTED[name](self)
            extra[name] = value
            return value
        if name == "card" and self.__dict__.get("_is_running_flow"):
            # As in Metaflow, only a step with @card has current.card (hasattr() says False).
            raise AttributeError(
                f"current has no attribute 'card': step {self.step_name!r} of {self.flow_name} "
                "has no @card. Fix: decorate the step with @card, or run with --with card")
        raise AttributeError(
            f"current has no attribute {name!r}"
            + ("" if self.__dict__.get("_is_running_flow") else " (no task is running in this process)")
        )

    def __repr__(self) -> str:
        return f"<current {self.pathspec or 'not running'}>"


for _name in _FIELDS:
    setattr(Current, _name, _field(_name))
del _name


current = Current()
