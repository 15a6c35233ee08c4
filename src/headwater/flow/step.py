"""The ``@step`` decorator: marks a FlowSpec method as a step of the graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from headwater.exceptions import GraphError

F = TypeVar("F", bound=Callable[..., Any])

STEP_MARK = "_hw_is_step"
DECORATORS_ATTR = "_hw_decorators"  # step decorators applied to this step, outermost last


def step(func: F) -> F:
    """Mark ``func`` as a step. Step decorators (``@retry``, ...) may sit above or below it.

    A dunder name (``__init__``, ``__call__``) is refused here, as the class is defined: such a
    step would replace Python's own machinery of the flow before graph validation could run.
    """
    name = getattr(func, "__name__", "")
    if name.startswith("__") and name.endswith("__"):
        code = getattr(func, "__code__", None)
        raise GraphError(
            f"step {name!r} has a name the framework owns: a dunder method is Python's, "
            "not a step",
            step=name, file=getattr(code, "co_filename", None), line=_def_line(func),
            fix=f"rename the step, e.g. {name.strip('_')}_step, and the self.next calls that go "
            "to it",
        )
    setattr(func, STEP_MARK, True)
    if not hasattr(func, DECORATORS_ATTR):
        setattr(func, DECORATORS_ATTR, [])
    return func


def _def_line(func: Any) -> int | None:
    """The line of ``def`` (``co_firstlineno`` is the first decorator's)."""
    import inspect

    try:
        lines, start = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return getattr(getattr(func, "__code__", None), "co_firstlineno", None)
    for offset, text in enumerate(lines):
        if text.lstrip().startswith(("def ", "async def ")):
            return start + offset
    return start


def is_step(obj: object) -> bool:
    """True for a function marked with ``@step``."""
    return callable(obj) and getattr(obj, STEP_MARK, False) is True
