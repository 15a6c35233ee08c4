"""Card types: ``default``, ``blank``, and any user subclass of :class:`MetaflowCard`.

A card type is a class with a ``type`` name and a ``render(task) -> str`` method returning a
whole HTML page. Subclassing registers the type by its name (a class in the flow's own file is
enough); the built-in types, and those a package declares through the ``headwater.cards``
entry-point group, are ``card`` backends of the registry (:mod:`headwater.backends`). A name
found nowhere else is looked up in Metaflow extension packages (:mod:`.extension_cards`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, ClassVar

from headwater.exceptions import FlowDefinitionError

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
    # Set before each render, as Metaflow does: {"user": the step's last
    # current.card.refresh(data), "render_seq": ..., "mode": "render" | "render_runtime", ...}.
    runtime_data: dict[str, Any] | None = None
    # When a viewer of a running task should reload the card, as Metaflow's types declare it:
    # never, on every live render, or when reload_content_token(task, data) changes. The token
    # replaces RELOAD_POLICY_TOKEN in the HTML and is kept with the card's data ("final" once
    # the task has ended).
    RELOAD_POLICY_NEVER: ClassVar[str] = "never"
    RELOAD_POLICY_ALWAYS: ClassVar[str] = "always"
    RELOAD_POLICY_ONCHANGE: ClassVar[str] = "onchange"
    RELOAD_POLICY_TOKEN: ClassVar[str] = "[METAFLOW_RELOAD_TOKEN]"
    RELOAD_POLICY: ClassVar[str] = "never"

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

    def refresh(self, task: Any, data: dict[str, Any]) -> Any:
        """What a live card's viewer is sent on ``current.card.refresh()`` instead of a new
        render (kept as the card's data, ``Card.get_data()``): the render's data by default.
        Metaflow's reference documents this hook; a card type overrides it to send less."""
        return data

    def reload_content_token(self, task: Any, data: dict[str, Any]) -> str:
        """For ``RELOAD_POLICY_ONCHANGE``: a text that changes when the card's content does
        (by default, when its components were last changed)."""
        return f"changed-{data.get('component_update_ts')}"

    def _get_mustache(self) -> Any:
        """A Mustache engine (``.render(template, data)``), as Metaflow gives card types: the
        card packages published for it fill their HTML templates with it."""
        from headwater.cards import mustache

        return mustache


def card_class(name: str) -> type[MetaflowCard]:
    """The card type called ``name``: defined by a subclass, or a ``card`` backend."""
    if name in _registered:
        return _registered[name]
    from headwater.backends import UnknownBackendError, get

    try:
        return get("card", name).load()
    except UnknownBackendError:
        pass
    found = _extension_cards().get(name)
    if found is not None:
        return found
    if _metaflow_test_card(name):
        return _registered[name]
    from headwater.cards.extension_cards import broken_modules

    broken = broken_modules()
    why = "".join(f"; the card module {module} failed to import: {error}"
                  for module, error in broken.items())
    raise FlowDefinitionError(
        f"@card(type={name!r}): no card type is called {name!r}{why}",
        fix=(f"fix the failing module{'s' if len(broken) > 1 else ''} above, or use one of "
             if broken else "use one of ")
        + f"{', '.join(known_card_types())}, or define a subclass of "
        f"MetaflowCard with type = {name!r} (in the flow's file, a package registering it, or "
        "a metaflow_extensions package's plugins.cards)",
    )


def _extension_cards() -> dict[str, type[MetaflowCard]]:
    """The card types of ``metaflow_extensions`` packages (searched on the first call)."""
    from headwater.cards import extension_cards

    found = extension_cards.find(MetaflowCard)
    # Classes a broken module defined before it raised registered their type names: a type
    # whose module does not import is not available (as with Metaflow).
    for module in extension_cards.broken_modules():
        forget_types_of(module)
    return found


def forget_types_of(module: str) -> None:
    """Unregister the card types defined by ``module`` (or its submodules): it failed to import,
    so its types are not available."""
    for name, cls in list(_registered.items()):
        if cls.__module__ == module or cls.__module__.startswith(module + "."):
            del _registered[name]


def _metaflow_test_card(name: str) -> bool:
    """A flow written for Metaflow may name one of the card types of Metaflow's own test suite;
    where headwater serves ``metaflow``, they are defined at Metaflow's module path."""
    served = getattr(sys.modules.get("metaflow"), "__version__", "")
    if not (name.startswith("test_") and isinstance(served, str) and served.endswith("+headwater")):
        return False
    try:
        importlib.import_module("metaflow.plugins.cards.card_modules.test_cards")
    except ImportError:
        return False
    return name in _registered


def known_card_types() -> list[str]:
    from headwater.backends import names
    return sorted({*names("card"), *_registered, *_extension_cards()})
