"""``inputs`` of a join step: one read-only view per branch (or foreach item) that joined."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headwater.exceptions import ReservedAttributeError
from headwater.flow.artifacts import ArtifactLoader, ArtifactView
from headwater.records import Frame, ParentRef


class InputView:
    """The artifacts of one finished parent task, read lazily: ``inp.x``, ``inp.input``."""

    def __init__(self, parent: ParentRef, view: ArtifactView, item_loader: Any) -> None:
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_view", view)
        object.__setattr__(self, "_item_loader", item_loader)
        object.__setattr__(self, "_cache", {})

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
        cache = self.__dict__["_cache"]
        if name in cache:
            return cache[name]
        view: ArtifactView = self.__dict__["_view"]
        if name.startswith("__") or not (view.has(name) or name in view.params):
            raise AttributeError(
                f"input from step '{self.step_name}' (task {self.task_id}) has no artifact {name!r}"
            )
        value = view.load(name) if view.has(name) else view.load_param(name)
        cache[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise ReservedAttributeError(
            f"inputs are read-only: cannot set {name!r} on the input from step '{self.step_name}'",
            fix=f"assign to self.{name} in the join step instead",
        )

    def __repr__(self) -> str:
        return f"<input {self.step_name}/{self.task_id}>"


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
    views = [
        InputView(p, ArtifactView(loader, p.manifest, params, f"{where} (input {p.step}/{p.task_id})"),
                  item_loader)
        for p in parents
    ]
    return Inputs(views)


def _top_foreach(frames: tuple[Frame, ...]) -> Frame | None:
    for frame in reversed(frames):
        if frame.is_foreach:
            return frame
    return None
