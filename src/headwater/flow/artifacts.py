"""The lazy view a task has of the artifacts it inherits.

A task starts from its parents' manifests (name -> blob key). Nothing is loaded until the step reads
an attribute; then that one blob is read (memory-mapped where local), verified and unpickled. At the
end of the step only what was assigned or read is serialized again; everything else passes on by
key, costing nothing however large it is.
"""

from __future__ import annotations

from typing import Any, Protocol

from headwater.records import ArtifactRef, Manifest

# Values of these types cannot change in place, so a loaded-but-unassigned one keeps its blob.
IMMUTABLE_TYPES = (int, float, complex, str, bytes, bool, type(None), frozenset, range)


class ArtifactLoader(Protocol):
    def load_artifact(self, ref: ArtifactRef, *, name: str, where: str) -> Any: ...


class ArtifactView:
    """What one task can read: inherited artifacts and the run's parameters, loaded on demand."""

    def __init__(self, loader: ArtifactLoader, inherited: Manifest, params: Manifest, where: str):
        self.loader = loader
        self.inherited: Manifest = dict(inherited)
        self.params = params
        self.where = where
        self.loaded: dict[str, Any] = {}  # name -> the object handed out (to detect reassignment)
        self.deleted: set[str] = set()

    def has(self, name: str) -> bool:
        return name in self.inherited and name not in self.deleted

    def load(self, name: str) -> Any:
        value = self.loader.load_artifact(self.inherited[name], name=name, where=self.where)
        self.loaded[name] = value
        return value

    def load_param(self, name: str) -> Any:
        if name not in self.params:
            raise AttributeError(f"parameter {name!r} has no value in {self.where}")
        if name not in self.loaded:
            self.loaded[name] = self.loader.load_artifact(
                self.params[name], name=name, where=self.where
            )
        return self.loaded[name]

    def unchanged_ref(self, name: str, value: Any) -> ArtifactRef | None:
        """The inherited ref when ``value`` is exactly the immutable object loaded from it."""
        if name in self.inherited and self.loaded.get(name, _MISSING) is value:
            if isinstance(value, IMMUTABLE_TYPES):
                return self.inherited[name]
        return None


_MISSING = object()
