"""``metaflow.decorators``: the bases of step and flow decorators written against Metaflow's
plug-in lifecycle (see ``headwater.decorators.lifecycle``), and the private helper plug-ins
call to put decorators on a step, ``_attach_decorators_to_step``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from headwater.decorators.lifecycle import FlowDecorator, StepDecorator
from headwater.decorators.mutable import MutableStep
from headwater.decorators.named import find, parse_spec
from headwater.exceptions import FlowDefinitionError
from headwater.flow.step import STEP_MARK

__all__ = ["FlowDecorator", "StepDecorator"]

_WHO = "_attach_decorators_to_step"


def _attach_decorators_to_step(step: Any, decospecs: Iterable[str]) -> None:
    """Put the decorators ``decospecs`` names (``"retry"``, ``"card:type=blank,id=x"``, a user
    step decorator's or a ``metaflow_extensions`` plug-in's name) on ``step``, as if they were
    written on it; Metaflow's private helper, which plug-ins call.

    As Metaflow's: a decorator the step already has is left as it is (the one written in the
    code wins), unless the decorator allows several (``@card``). ``step`` is a step function
    (``MyFlow.train``, bound or not) or a step of the flow's graph (``for step in flow``).
    What the run does with the step is read when it is launched: attach before that (when the
    flow module is imported, in a mutator), not from a task's own hooks.
    """
    if isinstance(decospecs, str):
        decospecs = [decospecs]
    func = _step_function(step)
    mutable = MutableStep(_flow_class_of(func), func, pre_mutate=True, statically_defined=False,
                          inserted_by=_WHO)
    for spec in decospecs:
        name, options = parse_spec(spec)
        plugin = None if _headwater_knows(name) else _plugin(name)
        if plugin is not None:
            mutable.add_decorator(plugin, deco_kwargs=options, duplicates=MutableStep.IGNORE)
        else:
            mutable.add_decorator(spec, duplicates=MutableStep.IGNORE)


def _step_function(step: Any) -> Any:
    """The function under ``step``: a graph node's, a bound method's, or ``step`` itself."""
    func = getattr(step, "_func", None) or getattr(step, "__func__", None) or step
    if not getattr(func, STEP_MARK, False):
        raise FlowDefinitionError(
            f"{_WHO}({step!r}, ...): not a step",
            fix="pass a step function (MyFlow.train) or a step of the flow's graph "
            "(for step in flow)")
    return func


def _flow_class_of(func: Any) -> Any:
    """The class the step function was defined in (for the options of a user decorator that
    reads configs), or ``object`` when it cannot be found."""
    owner = func.__qualname__.rpartition(".")[0]
    found = sys.modules.get(func.__module__)
    for part in owner.split(".") if owner else ():
        found = getattr(found, part, None)
    return found if isinstance(found, type) else object


def _headwater_knows(name: str) -> bool:
    """A built-in step decorator (or one accepted for Metaflow's sake), or a user one."""
    from headwater.decorators.registry import decorator_class

    try:
        decorator_class(name)
        return True
    except FlowDefinitionError:
        return find(name) is not None


def _plugin(name: str) -> Any:
    """The ``@name`` a ``metaflow_extensions`` package declares, or None."""
    from headwater.compat.extension_points import plugin_decorator

    try:
        return plugin_decorator(name)
    except AttributeError:
        return None
