"""One write transaction per thread, whatever the backend: nested uses join the outer one.

The scheduler wraps a whole turn of its loop in a transaction while the writer methods each open
their own; joining keeps that to one commit. Only how a transaction begins and ends differs per
backend, so that is all a backend passes in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def joined_transaction(local: threading.local,
                       begin: Callable[[], AbstractContextManager[T]]) -> Iterator[T]:
    """Enter ``begin()`` unless this thread is already inside one; then yield its handle."""
    depth = getattr(local, "depth", 0)
    if depth:
        local.depth = depth + 1
        try:
            yield local.handle
        finally:
            local.depth = depth
        return
    local.depth = 1
    try:
        with begin() as handle:
            local.handle = handle
            yield handle
    finally:
        local.depth = 0
        local.handle = None
