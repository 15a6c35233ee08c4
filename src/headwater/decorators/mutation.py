"""Running a flow's mutators: every ``pre_mutate``, then every ``mutate``, once per process.

The order is Metaflow's: flow mutators (those of the base classes first), then each step's step
mutators, in the order their decorators were applied (bottom-up). A mutator added during
``pre_mutate`` (by ``add_decorator``) joins the pass under way, so its own ``pre_mutate`` runs
too. This happens in the launching process once the configs are known, before the parameters
are read (a mutator may add some) and before the step policies are; every task is forked
afterwards and sees the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.decorators import user_options
from headwater.decorators.mutators import declared_flow_mutators, step_mutators
from headwater.decorators.user_step import user_wrappers
from headwater.flow.step import step_members

_APPLIED_ATTR = "_hw_mutators_applied"
_FAILED_ATTR = "_hw_mutators_failed"  # what a mutator raised, for each later apply_mutators


def has_mutators(flow_cls: type) -> bool:
    """Whether the flow or one of its steps carries a mutator, or a user step decorator whose
    options read a config (its ``init`` waits for the configs, as a mutator does)."""
    return bool(declared_flow_mutators(flow_cls)) or any(
        getattr(func, "_hw_step_mutators", None)
        or any(user_options.pending(d) for d in user_wrappers(func))
        for _, func in _steps(flow_cls))


def mutators_pending(flow_cls: type) -> bool:
    """Whether the flow has mutators this process has not run yet."""
    return not flow_cls.__dict__.get(_APPLIED_ATTR) and has_mutators(flow_cls)


def apply_mutators(flow_cls: type, configs: Mapping[str, Any]) -> None:
    """Run the flow's mutators once, with the run's configs (config name -> value).

    The class is marked even when it has none, so the tasks forked afterwards (and a second
    launch in this process) learn that at once instead of scanning the class again."""
    if flow_cls.__dict__.get(_APPLIED_ATTR):
        failed = flow_cls.__dict__.get(_FAILED_ATTR)
        if failed is not None:  # a mutator raised the first time: every later caller hears it
            raise failed
        return
    type.__setattr__(flow_cls, _APPLIED_ATTR, True)
    if not has_mutators(flow_cls):
        return
    try:
        _apply(flow_cls, configs)
    except Exception as exc:
        type.__setattr__(flow_cls, _FAILED_ATTR, exc)
        raise


def _apply(flow_cls: type, configs: Mapping[str, Any]) -> None:
    # MutableFlow and MutableStep only for flows that have mutators: a plain run skips them.
    from headwater.decorators.mutable import (
        CONFIG_VALUES_ATTR,
        RUNNING_MUTATORS_ATTR,
        MutableFlow,
        MutableStep,
    )

    type.__setattr__(flow_cls, CONFIG_VALUES_ATTR, dict(configs))
    running = declared_flow_mutators(flow_cls)
    for deco in running:
        user_options.settle(deco, configs, f"on flow {flow_cls.__name__}")
    for name, func in _steps(flow_cls):
        for deco in [*step_mutators(func), *user_wrappers(func)]:
            user_options.settle(deco, configs, f"on step {name!r}")
    type.__setattr__(flow_cls, RUNNING_MUTATORS_ATTR, running)
    for pre in (True, False):
        _each(running, lambda m, pre=pre: MutableFlow(flow_cls, **_flags(m, pre)), pre)
        for _, func in _steps(flow_cls):
            _each(step_mutators(func),
                  lambda m, func=func, pre=pre: MutableStep(flow_cls, func, **_flags(m, pre)), pre)


def _each(mutators: list[Any], mutable: Any, pre: bool) -> None:
    """Call each mutator's stage; the list may grow while it runs (a mutator added one)."""
    index = 0
    while index < len(mutators):
        mutator = mutators[index]
        index += 1
        (mutator.pre_mutate if pre else mutator.mutate)(mutable(mutator))


def _flags(mutator: Any, pre: bool) -> dict[str, Any]:
    inserted_by = [mutator.decorator_name, *(getattr(mutator, "_hw_inserted_by", None) or ())]
    return {"pre_mutate": pre, "statically_defined": getattr(mutator, "_hw_static", True),
            "inserted_by": inserted_by}


def _steps(flow_cls: type) -> list[tuple[str, Any]]:
    return step_members(flow_cls)
