"""``current``: what the running task knows about itself (flow, run, step, task, retry, ...).

One module-level object, filled by the task runner in the task's own process just before the step
function runs. Outside a running task every field is None/empty and ``is_running_flow`` is False.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

# Fields computed on first read while a task runs (``current.run``, ``current.task``): layers
# above the flow API (the client) register how to make them, so this module imports none of them.
_COMPUTED: dict[str, Callable[[Current], Any]] = {}


def register_computed(name: str, make: Callable[[Current], Any]) -> None:
    """Let ``current.<name>`` be made by ``make(current)`` while a task runs."""
    _COMPUTED[name] = make


class Current:
    """Read-only facts about the task this process is running."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.flow_name: str | None = None
        self.run_id: str | None = None
        self.step_name: str | None = None
        self.task_id: str | None = None
        self.retry_count: int = 0
        self.origin_run_id: str | None = None
        self.parameter_names: list[str] = []
        self.username: str | None = None
        self.tags: set[str] = set()
        self.namespace: str | None = None
        self.is_running_flow: bool = False
        self._extra: dict[str, Any] = {}

    def _bind(self, **fields: Any) -> None:
        """Called by the task runner; extra keys (project_name, card, parallel, ...) are kept too."""
        for key, value in fields.items():
            if hasattr(self, key) and not key.startswith("_"):
                object.__setattr__(self, key, value)
            else:
                self._extra[key] = value
        self.is_running_flow = True

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

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("_extra", {})
        if name in extra:
            return extra[name]
        if name in _COMPUTED and self.__dict__.get("is_running_flow"):
            value = _COMPUTED[name](self)
            extra[name] = value
            return value
        raise AttributeError(
            f"current has no attribute {name!r}"
            + ("" if self.__dict__.get("is_running_flow") else " (no task is running in this process)")
        )

    def __repr__(self) -> str:
        return f"<current {self.pathspec or 'not running'}>"


class CardCollector:
    """``current.card`` of a step without ``@card``: accepts components and keeps them, for
    nothing (a step with ``@card`` gets :class:`headwater.cards.collector.CardCollector`)."""

    def __init__(self) -> None:
        self.components: dict[str | None, list[Any]] = {None: []}

    def __getitem__(self, card_id: str) -> list[Any]:
        return self.components.setdefault(card_id, [])

    def append(self, component: Any) -> None:
        self.components[None].append(component)

    def extend(self, components: Any) -> None:
        self.components[None].extend(components)

    def clear(self) -> None:
        self.components[None].clear()

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        """No card to refresh on a step without ``@card``."""


current = Current()
