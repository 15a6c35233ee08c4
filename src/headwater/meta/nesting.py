"""One write transaction per thread, whatever the backend: nested uses join the outer one.

The scheduler wraps a whole turn of its loop in a transaction while the writer methods each open
their own; joining keeps that to one commit. Only how a transaction begins and ends differs per
backend, so that is all a backend passes in.

A plain class rather than ``@contextmanager``: every metadata write enters one (several per
task of a run), and a generator-based context manager costs about three times as much to enter
and leave.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import threading

T = TypeVar("T")


class joined_transaction(Generic[T]):  # noqa: N801 - used like the function it replaced
    """Enter ``begin()`` unless this thread is already inside one; ``as`` gives its handle."""

    __slots__ = ("_local", "_begin", "_outer", "_depth")

    def __init__(self, local: threading.local,
                 begin: Callable[[], AbstractContextManager[T]]) -> None:
        self._local = local
        self._begin = begin
        self._outer: AbstractContextManager[T] | None = None
        self._depth = 0

    def __enter__(self) -> T:
        local = self._local
        depth = getattr(local, "depth", 0)
        self._depth = depth
        if depth:
            local.depth = depth + 1
            return local.handle
        local.depth = 1
        try:
            outer = self._begin()
            handle = outer.__enter__()
        except BaseException:
            local.depth = 0
            local.handle = None
            raise
        self._outer = outer
        local.handle = handle
        return handle

    def __exit__(self, *exc: Any) -> bool | None:
        local = self._local
        if self._depth:
            local.depth = self._depth
            return None
        try:
            return self._outer.__exit__(*exc) if self._outer is not None else None
        finally:
            self._outer = None
            local.depth = 0
            local.handle = None
