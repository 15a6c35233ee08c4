"""Metaflow's user-defined decorators and mutators (``UserStepDecorator``, ``user_step_decorator``,
``StepMutator``, ``FlowMutator``): importable, refused with a clear message when used.

Every flow file Metaflow's own tooling generates imports these names, so they must exist for such
a file to load; headwater does not run user-defined decorators or mutators yet, and a flow that
applies one fails at class definition naming what is missing rather than running without it.
"""

from __future__ import annotations

from typing import Any

from headwater.exceptions import FlowDefinitionError


def _refuse(what: str, name: str) -> FlowDefinitionError:
    return FlowDefinitionError(
        f"{what} {name!r} cannot be used: headwater does not run Metaflow's user-defined "
        "decorators and mutators yet",
        fix="move the decorator's work into the step itself, or use headwater's built-in "
        "decorators (@retry, @catch, @timeout, @environment, ...)",
    )


class UserStepDecorator:
    """Base of user-defined step decorators (not run by headwater yet)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _refuse("the user-defined step decorator", type(self).__name__)


class StepMutator:
    """Base of step mutators (not run by headwater yet)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _refuse("the step mutator", type(self).__name__)


class FlowMutator:
    """Base of flow mutators (not run by headwater yet)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _refuse("the flow mutator", type(self).__name__)


def user_step_decorator(func: Any) -> Any:
    """Turn a generator function into a step decorator (not run by headwater yet)."""
    raise _refuse("the user step decorator", getattr(func, "__name__", repr(func)))


__all__ = ["FlowMutator", "StepMutator", "UserStepDecorator", "user_step_decorator"]
