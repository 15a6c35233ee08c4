"""The registry's shared state, at the bottom so every other module of the package can use it
without importing another: the declarations' records, who waits for which module, and the
pool of active serializers (which tells its listeners when it changes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

RECORDS: dict[str, Any] = {}
"""Declaration name -> :class:`~headwater.store.serializers.status.SerializerRecord`."""
PENDING: dict[str, list[str]] = {}
"""Module name -> names of the declarations parked until it is imported."""
LISTENERS: list[Callable[[], None]] = []
"""Called after every change of :data:`ACTIVE` (the dispatch order cache, the datastore hook)."""


class ActivePool:
    """The active serializers, in the order they became active (re-adding keeps the first place).

    Set-like (``add``, ``discard``, ``update``, ``clear``, ``in``, ``len``, iteration); every
    change is announced to :data:`LISTENERS`.
    """

    __slots__ = ("_members",)

    def __init__(self) -> None:
        self._members: dict[type, None] = {}

    def add(self, cls: type) -> None:
        if cls not in self._members:
            self._members[cls] = None
            _announce()

    def discard(self, cls: type) -> None:
        if self._members.pop(cls, 0) is None:
            _announce()

    def update(self, classes: Iterable[type]) -> None:
        for cls in classes:
            self.add(cls)

    def clear(self) -> None:
        self._members.clear()
        _announce()

    def __contains__(self, cls: object) -> bool:
        return cls in self._members

    def __iter__(self) -> Iterator[type]:
        return iter(list(self._members))

    def __len__(self) -> int:
        return len(self._members)

    def __repr__(self) -> str:
        return f"ActivePool({list(self._members)!r})"


def _announce() -> None:
    for listener in LISTENERS:
        listener()


ACTIVE = ActivePool()
