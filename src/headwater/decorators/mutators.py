"""Step and flow mutators: code of your own that changes a flow's decorators and parameters at launch.

As with Metaflow, a :class:`StepMutator` sits above ``@step`` and a :class:`FlowMutator` above
the flow class (or above a base class of it: the flows that inherit it run it too); each may
take options (``init(*args, **kwargs)``). When a run starts, once the configs are known, every
mutator's ``pre_mutate`` and then its ``mutate`` is called (:mod:`.mutation`), with a
:class:`~headwater.decorators.mutable.MutableFlow` or
:class:`~headwater.decorators.mutable.MutableStep`. The graph never changes.

This module holds the two bases and where each one's instances are kept: a flow class keeps
its own flow mutators, a step function its step mutators, both in the order Python applied them
(bottom-up), which is the order they run in.
"""

from __future__ import annotations

import types
from typing import Any

from headwater.decorators import user_options
from headwater.decorators.named import Named, full_name
from headwater.exceptions import FlowDefinitionError

STEP_MUTATORS_ATTR = "_hw_step_mutators"
FLOW_MUTATORS_ATTR = "_hw_flow_mutators"


class _Options(Named):
    """``@Mutator`` bare or ``@Mutator(...)`` with options given to ``init``."""

    _hw_register = False
    _hw_static = True  # written in the code (False: added by another mutator)
    _hw_inserted_by: list[str] | None = None  # the mutators that added this one, innermost first

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        user_options.take(self, args, kwargs)  # init now, or once the configs are known

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Take the mutator's options; the default takes none."""
        if args or kwargs:
            raise FlowDefinitionError(
                f"@{type(self).__name__} takes no options",
                fix=f"define init(self, *args, **kwargs) in {type(self).__name__}")

    @property
    def decorator_name(self) -> str:
        """``module.Class``, Metaflow's name for a user decorator."""
        return full_name(type(self))

    def __repr__(self) -> str:
        return f"@{type(self).__name__}"


class StepMutator(_Options):
    """Base of step mutators: override ``pre_mutate`` and/or ``mutate(mutable_step)``."""

    _hw_register = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], types.FunctionType):
            instance = super().__new__(cls)
            instance._hw_args, instance._hw_kwargs = (), {}
            instance.init()
            instance._hw_attach(args[0])
            return args[0]
        return super().__new__(cls)

    def __call__(self, func: Any) -> Any:
        if not isinstance(func, types.FunctionType):
            raise FlowDefinitionError(f"{self!r}(...) decorates a step function, not {func!r}",
                                      fix="place it above @step on a method of your flow")
        self._hw_attach(func)
        return func

    def _hw_attach(self, func: Any) -> None:
        add_step_mutator(func, self)
        further = getattr(super(), "_hw_attach", None)
        if further is not None:
            further(func)

    def pre_mutate(self, mutable_step: Any) -> None:
        """Called first, as soon as the configs are known: the only place where step mutators
        may be added to or removed from the step."""

    def mutate(self, mutable_step: Any) -> None:
        """Called after every pre_mutate: add or remove the step's decorators here."""


class FlowMutator(_Options):
    """Base of flow mutators: override ``pre_mutate`` and/or ``mutate(mutable_flow)``."""

    _hw_register = False
    # The flow class this mutator decorates, the first when it decorates several (Metaflow's
    # name; a hook such as ``add_to_package`` finds the flow's file through it).
    _flow_cls: type | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], type):
            instance = super().__new__(cls)
            instance._hw_args, instance._hw_kwargs = (), {}
            instance.init()
            instance._hw_decorate(args[0])
            return args[0]
        return super().__new__(cls)

    def _hw_decorate(self, flow_cls: type) -> None:
        _own_list(flow_cls, FLOW_MUTATORS_ATTR).append(self)
        if self._flow_cls is None:
            self._flow_cls = flow_cls

    def __call__(self, flow_cls: type) -> type:
        if not isinstance(flow_cls, type):
            raise FlowDefinitionError(f"{self!r}(...) decorates a flow class, not {flow_cls!r}",
                                      fix="place it above `class MyFlow(FlowSpec):`")
        self._hw_decorate(flow_cls)
        return flow_cls

    def pre_mutate(self, mutable_flow: Any) -> None:
        """Called first, as soon as the configs are known: the only place where parameters and
        flow-level decorators may be added or removed."""

    def mutate(self, mutable_flow: Any) -> None:
        """Called after every pre_mutate: change the steps' decorators here."""


def _own_list(target: Any, attr: str) -> list[Any]:
    """The list ``target`` itself holds under ``attr`` (never a base class's)."""
    own = target.__dict__.get(attr)
    if own is None:
        own = []
        setattr(target, attr, own)
    return own


def add_step_mutator(func: Any, mutator: StepMutator) -> None:
    """Keep ``mutator`` on the step function ``func`` (after those applied before it)."""
    _own_list(func, STEP_MUTATORS_ATTR).append(mutator)


def step_mutators(func: Any) -> list[StepMutator]:
    """The step mutators of a step function, the list itself (mutators may add to it)."""
    return _own_list(func, STEP_MUTATORS_ATTR)


def declared_flow_mutators(flow_cls: type) -> list[FlowMutator]:
    """The flow mutators above ``flow_cls`` and its bases: the bases' first (farthest first,
    in the order of the class's MRO reversed), each class's own in the order applied."""
    found: list[FlowMutator] = []
    for klass in reversed(flow_cls.__mro__):
        for mutator in klass.__dict__.get(FLOW_MUTATORS_ATTR) or ():
            if mutator not in found:
                found.append(mutator)
    return found
