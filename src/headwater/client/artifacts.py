"""Artifacts as the client shows them: ``task.data.x``, ``task['x']``, ``task.artifacts.x``.

Values are loaded from the datastore on first access, one artifact at a time, and cached on the
task: opening a task with a 10 GB model among its artifacts costs nothing until the model is
read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from headwater.client._errors import MissingArtifact
from headwater.records import ArtifactRef

if TYPE_CHECKING:
    from headwater.client.core import Task


class DataArtifact:
    """One artifact of one task: its value (``data``) and what is known without loading it."""

    def __init__(self, pathspec: str, *, _namespace_check: bool = True) -> None:
        from headwater.client.core import Task

        task_pathspec, _, name = pathspec.rpartition("/")
        task = Task(task_pathspec, _namespace_check=_namespace_check)
        other = task[name]
        self._task, self._name, self._ref = other._task, other._name, other._ref

    @classmethod
    def _of(cls, task: Task, name: str, ref: ArtifactRef) -> DataArtifact:
        artifact = cls.__new__(cls)
        artifact._task, artifact._name, artifact._ref = task, name, ref
        return artifact

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataArtifact) and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash(("artifact", self.pathspec))

    @property
    def data(self) -> Any:
        """The value, loaded from the datastore (once per task object)."""
        return self._task._load(self._name)

    @property
    def id(self) -> str:
        return self._name

    @property
    def pathspec(self) -> str:
        return f"{self._task.pathspec}/{self._name}"

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def parent(self) -> Task:
        return self._task

    @property
    def sha(self) -> str:
        """The content hash the value is stored under (same value, same sha, any run): 32 hex
        digits (xxh3-128 of the stored bytes), where Metaflow's is a 40-digit SHA-1 of its
        pickle; see decisions.md (mfdocs2) for why it is not recomputed in Metaflow's shape."""
        return self._ref.key

    @property
    def size(self) -> int:
        """Bytes stored."""
        return self._ref.size

    @property
    def type_name(self) -> str:
        return self._ref.type_name

    @property
    def created_at(self) -> datetime | None:
        """When the task that produced it finished (artifacts are recorded then)."""
        return self._task.finished_at or self._task.created_at

    @property
    def finished_at(self) -> datetime | None:
        return self.created_at

    @property
    def tags(self) -> frozenset[str]:
        return self._task.tags

    @property
    def user_tags(self) -> frozenset[str]:
        return self._task.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self._task.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        """For an artifact of a task resume cloned: the same artifact in the earlier run."""
        origin = self._task.origin_pathspec
        return f"{origin}/{self._name}" if origin else None

    def is_in_namespace(self) -> bool:
        """Whether the run the artifact belongs to is in the current namespace."""
        return self._task.is_in_namespace()


class MetaflowData:
    """``task.data``: attribute access to artifact values, ``'x' in task.data``. A listing
    (iteration, ``dir``, the repr) leaves out names starting with ``_``, as Metaflow's does;
    ``task.data._seen`` still reads one (Metaflow's raises AttributeError there)."""

    __slots__ = ("_task",)

    def __init__(self, task: Task) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Any:
        if name == "_task" or name.startswith("__"):
            raise AttributeError(name)
        if name not in self._task._manifest():
            raise MissingArtifact(self._task._missing_artifact(name)).later(
                lambda: self._task._where_else(name))
        return self._task._load(name)

    def __contains__(self, name: object) -> bool:
        return name in self._task._manifest()

    def __iter__(self) -> Iterator[str]:
        return iter(self._task._listed())

    def __dir__(self) -> list[str]:
        return self._task._listed()  # tab completion in notebooks

    def __repr__(self) -> str:
        return f"<MetaflowData: {', '.join(self._task._listed())}>"


class MetaflowArtifacts:
    """``task.artifacts``: attribute access to :class:`DataArtifact` objects."""

    __slots__ = ("_task",)

    def __init__(self, task: Task) -> None:
        self._task = task

    def __getattr__(self, name: str) -> DataArtifact:
        if name == "_task" or name.startswith("__"):
            raise AttributeError(name)
        ref = self._task._manifest().get(name)
        if ref is None:
            raise MissingArtifact(self._task._missing_artifact(name)).later(
                lambda: self._task._where_else(name))
        return DataArtifact._of(self._task, name, ref)

    def __contains__(self, name: object) -> bool:
        return name in self._task._manifest()

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self._task)

    def __len__(self) -> int:
        return len(self._task._listed())

    def __dir__(self) -> list[str]:
        return self._task._listed()

    def __repr__(self) -> str:
        return f"<MetaflowArtifacts: {', '.join(self._task._listed())}>"
