"""Card types: ``default``, ``blank``, and any user subclass of :class:`MetaflowCard`.

A card type is a class with a ``type`` name and a ``render(task) -> str`` method returning a
whole HTML page. Subclassing registers the type by its name (a class in the flow's own file is
enough); a package can register one through the ``headwater.cards`` entry-point group. The table
below is the small local registry of card types; it moves into the backend registry when that
lands (see docs/cards.md).
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from headwater.exceptions import FlowDefinitionError

BUILTIN_TYPES: dict[str, str] = {
    "default": "headwater.cards.default_card:DefaultCard",
    "blank": "headwater.cards.default_card:BlankCard",
}
ENTRY_POINT_GROUP = "headwater.cards"
_registered: dict[str, type[MetaflowCard]] = {}


class MetaflowCard:
    """Base of card types.

    ``render(task)`` gets a :class:`~headwater.cards.task_view.CardTask` (the task's pathspec,
    status, timing, parameters and artifacts) and returns the HTML of the card. Set
    ``ALLOW_USER_COMPONENTS`` to receive the step's ``current.card`` components (in
    ``self.components``) and ``RUNTIME_UPDATABLE`` to be re-rendered on ``current.card.refresh()``.
    """

    type: ClassVar[str] = ""
    ALLOW_USER_COMPONENTS: ClassVar[bool] = False
    RUNTIME_UPDATABLE: ClassVar[bool] = False

    def __init__(self, options: dict[str, Any] | None = None, components: list[Any] | None = None,
                 graph: Any = None, flow: Any = None, **kwargs: Any) -> None:
        self.options = dict(options or {})
        self.components = list(components or [])
        self.graph = graph
        self.flow = flow

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("type")
        if isinstance(name, str) and name:
            _registered[name] = cls

    def render(self, task: Any) -> str:
        raise NotImplementedError(f"card type {self.type!r} must define render(task)")

    def render_runtime(self, task: Any, data: dict[str, Any]) -> str:
        """The card while the task runs (live cards); the final render by default."""
        return self.render(task)


def card_class(name: str) -> type[MetaflowCard]:
    """The card type called ``name``: built in, defined by a subclass, or from an entry point."""
    if name in _registered:
        return _registered[name]
    target = BUILTIN_TYPES.get(name)
    if target is None:
        target = _entry_point(name)
    if target is None:
        known = sorted({*BUILTIN_TYPES, *_registered})
        raise FlowDefinitionError(
            f"@card(type={name!r}): no card type is called {name!r}",
            fix=f"use one of {', '.join(known)}, or define a subclass of MetaflowCard with "
            f"type = {name!r} (in the flow's file or a package registering it)",
        )
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _entry_point(name: str) -> str | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.value
    return None


def known_card_types() -> list[str]:
    return sorted({*BUILTIN_TYPES, *_registered})
