"""What a card type's ``render(task)`` sees: the task being carded, read in its own process.

The card is made at the end of the task, before the scheduler records anything, so this is not a
client ``Task`` but a small view with the same everyday names (``pathspec``, ``data``,
``task["name"].data``, ``finished_at``, ...). Artifact values are loaded only when read; one the
step did not touch and that is larger than :data:`PREVIEW_LOAD_MAX` is described by its stored
size and type instead of being loaded, so a card never reads a 10 GB blob to preview it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PREVIEW_LOAD_MAX = 4 * 1024 * 1024
"""Inherited artifacts up to this many stored bytes are loaded to be previewed."""

_MISSING = object()


@dataclass
class ArtifactInfo:
    """One artifact of the task as the card sees it."""

    name: str
    type_name: str
    size: int | None  # stored bytes (None: made by this task, not stored yet)
    _value: Any = _MISSING
    _loader: Any = None

    @property
    def loaded(self) -> bool:
        return self._value is not _MISSING

    @property
    def previewable(self) -> bool:
        return self.loaded or (self.size is not None and self.size <= PREVIEW_LOAD_MAX)

    @property
    def data(self) -> Any:
        if self._value is _MISSING:
            self._value = self._loader()
        return self._value


class _DataNamespace:
    def __init__(self, artifacts: dict[str, ArtifactInfo]) -> None:
        self._artifacts = artifacts

    def __getattr__(self, name: str) -> Any:
        try:
            return self._artifacts[name].data
        except KeyError:
            raise AttributeError(f"the task has no artifact {name!r}") from None


@dataclass
class CardTask:
    """The task a card is made for."""

    flow_name: str
    run_id: str
    step_name: str
    id: str
    attempt: int
    status: str  # "running", "succeeded" or "failed"
    started_at: float
    finished_at: float | None
    parameter_names: list[str]
    artifacts: dict[str, ArtifactInfo]
    graph: Any = None
    exception: Any = None  # TaskFailure of a failed task
    tags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.id}"

    @property
    def current_attempt(self) -> int:
        return self.attempt

    @property
    def successful(self) -> bool:
        return self.status == "succeeded"

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.started_at)

    @property
    def data(self) -> _DataNamespace:
        return _DataNamespace(self.artifacts)

    def __getitem__(self, name: str) -> ArtifactInfo:
        return self.artifacts[name]

    def __contains__(self, name: object) -> bool:
        return name in self.artifacts

    def __iter__(self) -> Any:
        return iter(self.artifacts.values())
