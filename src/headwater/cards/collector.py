"""``current.card`` in a step that has ``@card``: where components go, and live refreshes.

``current.card.append(c)`` adds to the step's *default editable card*: the one marked
``customize=True``, else the only card that takes components, else the first such card without
an id. ``current.card["id"]`` is the card with that id. ``refresh()`` re-renders the live cards
(at most once per their ``refresh_interval``) and writes them where a viewer finds them while the
task runs (:mod:`headwater.cards.live`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class ComponentsById(dict):
    """Components by the id they were appended with; ``[None]`` is every component, in order
    (what ``current.card.components[None]`` gave before cards were rendered)."""

    def __init__(self, owner: CardComponents) -> None:
        super().__init__()
        self._owner = owner

    def __getitem__(self, key: str | None) -> Any:
        if key is None:
            return list(self._owner)
        return super().__getitem__(key)


class CardComponents:
    """The components of one card: a list with ids, ``refresh()`` and ``components[id]``."""

    def __init__(self, refresh: Callable[[], None] = lambda: None) -> None:
        self._items: list[Any] = []
        self.components: dict[str | None, Any] = ComponentsById(self)
        self._refresh = refresh
        self.user_data: Any = None  # the last ``refresh(data)``: the card's runtime_data["user"]
        self.updated_at: float | None = None  # when it was last refreshed (epoch seconds)

    def append(self, component: Any, id: str | None = None) -> None:
        self._items.append(component)
        if id is not None:
            self.components[id] = component
            if hasattr(component, "component_id"):
                component.component_id = id
        elif getattr(component, "component_id", None):
            self.components[component.component_id] = component

    def extend(self, components: Iterable[Any]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        self._items.clear()
        self.components.clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Re-render this card for viewers of the running task; ``data`` (JSON-able) reaches
        the card type as ``runtime_data["user"]``, as in Metaflow."""
        self.user_data = data
        self.updated_at = time.time()
        self._refresh()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Any:
        return self._items[index]

    def __repr__(self) -> str:
        return f"<card components {self._items!r}>"


class CardCollector:
    """``current.card``: components per declared ``@card`` of the running step."""

    def __init__(self, decls: list[dict[str, Any]], editable: list[bool],
                 live: Callable[[int], None] | None = None, where: str = "") -> None:
        self.decls = decls
        self._where = where
        self._live = live
        self._cards = [CardComponents(lambda i=i: self._refresh_one(i)) for i in range(len(decls))]
        self._editable = editable
        self._last: dict[int, float] = {}
        self._default = self._pick_default()
        self._warned: set[str] = set()

    def _pick_default(self) -> int | None:
        candidates = [i for i, ok in enumerate(self._editable) if ok]
        custom = [i for i in candidates if self.decls[i].get("customize")]
        if custom:
            return custom[0]
        if len(candidates) == 1:
            return candidates[0]
        no_id = [i for i in candidates if not self.decls[i].get("id")]
        return no_id[0] if no_id else None

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            print(f"@card in {self._where}: {message}", file=sys.stderr)

    def _target(self) -> CardComponents:
        if self._default is None:
            self._warn("default", "no card takes components from current.card (give one @card "
                       "customize=True, or use current.card['ID']); these are dropped")
            return CardComponents()
        return self._cards[self._default]

    def components_of(self, index: int) -> list[Any]:
        return list(self._cards[index])

    # -- Metaflow's current.card ------------------------------------------------------------
    def __getitem__(self, card_id: str) -> CardComponents:
        for i, decl in enumerate(self.decls):
            if decl.get("id") == card_id:
                if not self._editable[i]:
                    self._warn(card_id, f"card {card_id!r} is of type {decl['type']!r}, which "
                               "takes no components; these are dropped")
                    return CardComponents()
                return self._cards[i]
        self._warn(card_id, f"no @card(id={card_id!r}) on this step; its components are dropped")
        return CardComponents()

    def __setitem__(self, card_id: str, components: Iterable[Any]) -> None:
        target = self[card_id]
        target.clear()
        target.extend(components)

    def get(self, type: str | None = None) -> list[CardComponents]:  # noqa: A002 - Metaflow's name
        """The components of each of the step's cards of ``type`` (a list per card; empty when
        the step has none of that type)."""
        return [self._cards[i] for i, decl in enumerate(self.decls) if decl["type"] == type]

    @property
    def components(self) -> dict[str, Any]:
        return self._target().components

    def append(self, component: Any, id: str | None = None) -> None:
        self._target().append(component, id=id)

    def extend(self, components: Iterable[Any]) -> None:
        self._target().extend(components)

    def clear(self) -> None:
        self._target().clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Re-render the default card for viewers of the running task (throttled); ``data`` is
        handed to its card type as ``runtime_data["user"]``."""
        if self._default is not None:
            self._cards[self._default].refresh(data, force)

    def user_data_of(self, index: int) -> Any:
        return self._cards[index].user_data

    def updated_at(self, index: int) -> float | None:
        return self._cards[index].updated_at

    def _refresh_one(self, index: int) -> None:
        if self._live is None:
            return
        interval = float(self.decls[index].get("refresh_interval") or 0)
        now = time.monotonic()
        if index in self._last and now - self._last[index] < interval:
            return
        self._last[index] = now
        try:
            self._live(index)
        except Exception as exc:  # noqa: BLE001 - a failed live update must not fail the step
            self._warn(f"live{index}", f"a live card update failed: {exc}")
