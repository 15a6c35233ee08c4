"""The ``@step`` decorator: marks a FlowSpec method as a step of the graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

STEP_MARK = "_hw_is_step"
DECORATORS_ATTR = "_hw_decorators"  # step decorators applied to this step, outermost last


def step(func: F) -> F:
    """Mark ``func`` as a step. Step decorators (``@retry``, ...) may sit above or below it."""
    setattr(func, STEP_MARK, True)
    if not hasattr(func, DECORATORS_ATTR):
        setattr(func, DECORATORS_ATTR, [])
    return func


def is_step(obj: object) -> bool:
    """True for a function marked with ``@step``."""
    return callable(obj) and getattr(obj, STEP_MARK, False) is True
