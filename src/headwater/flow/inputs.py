"""``inputs`` of a join step: one read-only view per branch (or foreach item) that joined."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headwater.exceptions import ReservedAttributeError
from headwater.flow.artifacts import ArtifactLoader
from headwater.records import Frame, Manifest, ParentRef


class InputView:
    """The artifacts of one finished parent task, read lazily: ``inp.x``, ``inp.input``.

    A join over a foreach has one per item (100,000 of them in a large run), so a view is slots
    over the parent's own manifest, never a copy of it: an input is read-only, it has nothing
    of its own to track but the values already loaded (``_cache``, made on the first read).
    """

    __slots__ = ("_parent", "_loader", "_params", "_where", "_item_loader", "_cache")

    def __init__(self, parent: ParentRef, loader: ArtifactLoader, params: Manifest, where: str,
                 item_loader: Any) -> None:
        put = object.__setattr__
        put(self, "_parent", parent)
        put(self, "_loader", loader)
        put(self, "_params", params)
        put(self, "_where", where)  # the join task's; an input's own is made when it reads
        put(self, "_item_loader", item_loader)
        put(self, "_cache", None)

    @property
    def step_name(self) -> str:
        return self._parent.step

    @property
    def task_id(self) -> str:
        return self._parent.task_id

    @property
    def index(self) -> int | None:
        frame = _top_foreach(self._parent.frames)
        return None if frame is None else frame.index

    @property
    def input(self) -> Any:
        frame = _top_foreach(self._parent.frames)
        if frame is None or frame.items_key is None:
            return None
        return self._item_loader(frame)

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        return [
            (f.index, f.num_splits, self._item_loader(f) if f.items_key else None)
            for f in self._parent.frames
            if f.is_foreach
        ]

    def __getattr__(self, name: str) -> Any:
        # only called for what the slots are not: artifact names (and an unset slot, below)
        if name in InputView.__slots__:
            raise AttributeError(name)
        cache = self._cache
        if cache is not None and name in cache:
            return cache[name]
        manifest, params = self._parent.manifest, self._params
        ref = manifest.get(name)
        if ref is None:
            ref = params.get(name)
        if name.startswith("__") or ref is None:
            raise AttributeError(
                f"input from step '{self.step_name}' (task {self.task_id}) has no artifact "
                f"{name!r}{self._caught_hint(name)}")
        value = self._loader.load_artifact(ref, name=name, where=self._input_where())
        if cache is None:
            cache = {}
            object.__setattr__(self, "_cache", cache)
        cache[name] = value
        return value

    def _caught_hint(self, name: str) -> str:
        """When the input is @catch's stand-in (its variable holds a CaughtException): its step
        failed, so it set nothing; say which variable tells such inputs apart. Read from the
        types the manifest records, nothing is loaded."""
        if name.startswith("_"):
            return ""
        caught = [var for var, ref in self._parent.manifest.items()
                  if ref.type_name.endswith(".CaughtException")]
        if not caught:
            return ""
        var = caught[0]
        return (f": that task failed and @catch caught it (self.{var} holds the exception), "
                f"so it set nothing. Leave such inputs out, e.g. [i.{name} for i in inputs "
                f"if i.{var} is None]")

    def _input_where(self) -> str:
        parent = self._parent
        return f"{self._where} (input {parent.step}/{parent.task_id})"

    def _inherited(self) -> Manifest:
        """The parent's artifacts as stored (what ``merge_artifacts`` compares by key)."""
        return self._parent.manifest

    @property
    def _datastore(self) -> StoredNames:
        """The names and content hashes of what this input stored, read from its manifest.

        Metaflow's join inputs carry their task's datastore, and join helpers in extension
        packages list an input's artifacts with ``inp._datastore.items()`` (npow's
        metaflow-coordinator merges branches that way, as Metaflow's merge_artifacts does).
        The flow's parameters are left out: such helpers skip Metaflow's, which are
        properties of the flow class, and setting one in the join would fail here."""
        params = self._params
        return StoredNames({name: ref for name, ref in self._parent.manifest.items()
                            if name not in params})

    def __setattr__(self, name: str, value: Any) -> None:
        raise ReservedAttributeError(
            f"inputs are read-only: cannot set {name!r} on the input from step '{self.step_name}'",
            fix=f"assign to self.{name} in the join step instead",
        )

    def __repr__(self) -> str:
        return f"<input {self.step_name}/{self.task_id}>"


class StoredNames:
    """What one input stored, by name: ``items()`` gives (name, content hash) pairs, as
    Metaflow's task datastore does; values are read through the input itself."""

    __slots__ = ("_manifest",)

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest

    def items(self) -> list[tuple[str, str]]:
        return [(name, ref.key) for name, ref in self._manifest.items()]

    def __contains__(self, name: object) -> bool:
        return name in self._manifest

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._manifest))

    def __len__(self) -> int:
        return len(self._manifest)


class Inputs:
    """Iterable, indexable by position, and by branch step name (``inputs.train_a.score``)."""

    def __init__(self, views: list[InputView]) -> None:
        self._views = views

    def __iter__(self) -> Iterator[InputView]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __getitem__(self, index: int) -> InputView:
        return self._views[index]

    def __getattr__(self, name: str) -> InputView:
        if name.startswith("_"):
            raise AttributeError(name)
        for view in self._views:
            if view.step_name == name:
                return view
        steps = ", ".join(sorted({v.step_name for v in self._views}))
        raise AttributeError(f"no input comes from a step named {name!r}; inputs come from: {steps}")

    def __repr__(self) -> str:
        return f"<inputs of {len(self)} tasks>"


def make_inputs(parents: list[ParentRef], loader: ArtifactLoader, params: dict, item_loader: Any,
                where: str) -> Inputs:
    return Inputs([InputView(p, loader, params, where, item_loader) for p in parents])


def _top_foreach(frames: tuple[Frame, ...]) -> Frame | None:
    for frame in reversed(frames):
        if frame.is_foreach:
            return frame
    return None
