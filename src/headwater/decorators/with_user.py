"""``--with mymodule.my_decorator``: a user step decorator or step mutator on every step.

Metaflow's ``--with`` takes, besides its own decorators, a user-defined one by import path
(``--with myprofiler.my_profile``, ``--with statsprofiler.stats_profile:silent=1``) or by the name
of one the flow already imported. Each step gets its own instance, outside the decorators it
has (as if written on top), unless it already has one of that class (the step's own wins, as
for built-in ones). A step mutator given this way runs with the flow's mutators.

Imported only when a ``--with`` spec is not one of headwater's built-in decorators.
"""

from __future__ import annotations

import importlib
from typing import Any

from headwater.decorators.mutators import StepMutator, add_step_mutator, step_mutators
from headwater.decorators.named import find, parse_spec
from headwater.decorators.user_step import UserStepDecorator, attach_wrapper, user_wrappers
from headwater.exceptions import FlowDefinitionError
from headwater.flow.step import step_members

_ATTACHED_ATTR = "_hw_with_user_attached"  # the specs already attached to this class


def user_class(spec: str, flow_name: str) -> type | None:
    """The user step decorator or step mutator class ``spec`` names; None when ``spec`` is not
    a user decorator's (a dotted path that does not import is an error naming the spec)."""
    name, _ = parse_spec(spec)
    found = find(name)
    if found is None and "." in name:
        module_name, _, attr = name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise FlowDefinitionError(
                f"--with {spec} (flow {flow_name}): could not import the module "
                f"{module_name!r} ({err})",
                fix=f"put {module_name}.py beside the flow (or on PYTHONPATH), or fix the name",
            ) from None
        found = getattr(module, attr, None)
        if not (isinstance(found, type) and issubclass(found, (UserStepDecorator, StepMutator))):
            raise FlowDefinitionError(
                f"--with {spec} (flow {flow_name}): {name} is not a step decorator",
                fix="name a function decorated with @user_step_decorator, or a subclass of "
                    "UserStepDecorator or StepMutator")
    if found is not None and not issubclass(found, (UserStepDecorator, StepMutator)):
        return None  # a FlowMutator's name: not a step decorator
    return found


def attach_with_specs(flow_cls: type, specs: tuple[str, ...]) -> None:
    """Put each user decorator of ``specs`` on every step of ``flow_cls`` (once per class)."""
    done = flow_cls.__dict__.get(_ATTACHED_ATTR, ())
    for spec in specs:
        if spec in done:
            continue
        cls = user_class(spec, flow_cls.__name__)
        if cls is None:
            raise FlowDefinitionError(f"--with {spec} (flow {flow_cls.__name__}): not a step "
                                      "decorator",
                                      fix="name a built-in decorator or a user step decorator")
        _, options = parse_spec(spec)
        for _, func in step_members(flow_cls):
            _attach(func, cls, options)
        done = (*done, spec)
    type.__setattr__(flow_cls, _ATTACHED_ATTR, done)


def _attach(func: Any, cls: type, options: dict[str, Any]) -> None:
    present = [*user_wrappers(func), *step_mutators(func)]
    if any(type(d) is cls for d in present):
        return  # the step's own decorator of that class wins
    deco = cls(**options)
    deco._hw_static = False  # noqa: SLF001 - as a mutator's add_decorator marks its own
    if isinstance(deco, UserStepDecorator):
        attach_wrapper(func, deco, outermost=True)
    if isinstance(deco, StepMutator):
        add_step_mutator(func, deco)
