"""Step and flow mutators: code of your own that adds or removes a flow's decorators at launch.

As with Metaflow, a :class:`StepMutator` sits above ``@step`` and a :class:`FlowMutator` above
the flow class; each may take options (``init(*args, **kwargs)``). When a run starts, once the
configs are known, every mutator's ``pre_mutate`` and then its ``mutate`` is called, flow
mutators before step mutators: ``mutate(mutable_flow)`` sees the configs, the parameters and the
steps; ``mutate(mutable_step)`` sees one step's decorators and can add (``add_decorator``) or
remove (``remove_decorator``) built-in and user-defined ones. The graph never changes.

Mutations happen in the launching process before any task starts, so every task of the run
(forked from it) sees them. They apply to the flow class once per process.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any

from headwater.decorators.base import StepDecorator, _attach
from headwater.decorators.user_step import USER_WRAPPERS_ATTR, UserStepDecorator, attach_wrapper
from headwater.exceptions import FlowDefinitionError
from headwater.flow.step import DECORATORS_ATTR, is_step

STEP_MUTATORS_ATTR = "_hw_step_mutators"
FLOW_MUTATORS_ATTR = "_hw_flow_mutators"
_APPLIED_ATTR = "_hw_mutators_applied"


class _Options:
    """``@Mutator`` bare or ``@Mutator(...)`` with options given to ``init``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.init(*args, **kwargs)

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Take the mutator's options; the default takes none."""
        if args or kwargs:
            raise FlowDefinitionError(
                f"@{type(self).__name__} takes no options",
                fix=f"define init(self, *args, **kwargs) in {type(self).__name__}")

    def __repr__(self) -> str:
        return f"@{type(self).__name__}"


class StepMutator(_Options):
    """Base of step mutators: override ``pre_mutate`` and/or ``mutate(mutable_step)``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], types.FunctionType):
            instance = super().__new__(cls)
            instance.init()
            _remember(args[0], STEP_MUTATORS_ATTR, instance)
            return args[0]
        return super().__new__(cls)

    def __call__(self, func: Any) -> Any:
        _remember(func, STEP_MUTATORS_ATTR, self)
        return func

    def pre_mutate(self, mutable_step: MutableStep) -> None:
        """Called first, as soon as the configs are known."""

    def mutate(self, mutable_step: MutableStep) -> None:
        """Called after every pre_mutate: add or remove the step's decorators here."""


class FlowMutator(_Options):
    """Base of flow mutators: override ``pre_mutate`` and/or ``mutate(mutable_flow)``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], type):
            instance = super().__new__(cls)
            instance.init()
            _remember(args[0], FLOW_MUTATORS_ATTR, instance)
            return args[0]
        return super().__new__(cls)

    def __call__(self, flow_cls: type) -> type:
        if not isinstance(flow_cls, type):
            raise FlowDefinitionError(f"{self!r}(...) decorates a flow class, not {flow_cls!r}",
                                      fix="place it above `class MyFlow(FlowSpec):`")
        _remember(flow_cls, FLOW_MUTATORS_ATTR, self)
        return flow_cls

    def pre_mutate(self, mutable_flow: MutableFlow) -> None:
        """Called first, as soon as the configs are known."""

    def mutate(self, mutable_flow: MutableFlow) -> None:
        """Called after every pre_mutate: change the steps' decorators here."""


def _remember(target: Any, attr: str, mutator: Any) -> None:
    own = target.__dict__.get(attr)
    if own is None:  # a subclass keeps its base's mutators and adds its own
        own = list(getattr(target, attr, ()))
        setattr(target, attr, own)
    own.insert(0, mutator)  # decorators apply bottom-up: keep them in source order


class MutableStep:
    """One step as a mutator sees it: its name and its decorators, which it may change."""

    IGNORE = 1  # add_decorator: keep the existing one of that name
    ERROR = 2  # add_decorator: refuse a second one of that name
    OVERRIDE = 3  # add_decorator: replace the existing one of that name

    def __init__(self, flow: MutableFlow, name: str, func: Any) -> None:
        self._flow = flow
        self.name = name
        self._func = func

    @property
    def flow(self) -> MutableFlow:
        return self._flow

    @property
    def decorator_specs(self) -> Iterator[tuple[str, str, list[Any], dict[str, Any]]]:
        """``(name, full name, args, kwargs)`` of each decorator on the step."""
        for deco in getattr(self._func, DECORATORS_ATTR, None) or ():
            yield deco.name, deco.name, [], dict(deco.attributes)
        for wrapper in self._func.__dict__.get(USER_WRAPPERS_ATTR) or ():
            kind = type(wrapper)
            yield kind.__name__, f"{kind.__module__}.{kind.__qualname__}", [], \
                dict(getattr(wrapper, "_attributes", {}))

    def has_decorator(self, name: str) -> bool:
        return any(name in (short, full) for short, full, _, _ in self.decorator_specs)

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None,
                      duplicates: int = IGNORE) -> Any:
        """Add a built-in decorator (``retry``, ``"retry:times=2"``) or a user-defined one;
        returns what was added, or None when ``duplicates=IGNORE`` kept the existing one."""
        if isinstance(deco_type, type) and issubclass(deco_type, UserStepDecorator):
            wrapper = deco_type(*(deco_args or ()), **(deco_kwargs or {}))
            attach_wrapper(self._func, wrapper, outermost=False)
            return wrapper
        deco = _builtin_instance(deco_type, deco_args, deco_kwargs, self.name)
        existing = [d for d in getattr(self._func, DECORATORS_ATTR, None) or ()
                    if d.name == deco.name]
        if existing and not deco.allow_multiple:
            if duplicates == MutableStep.IGNORE:
                return None
            if duplicates == MutableStep.ERROR:
                raise FlowDefinitionError(
                    f"a mutator added @{deco.name} to step '{self.name}', which already has it",
                    fix="pass duplicates=MutableStep.OVERRIDE or IGNORE to add_decorator")
            self.remove_decorator(deco.name)
        _attach(self._func, deco)
        return deco

    def remove_decorator(self, deco_name: str, deco_args: list[Any] | None = None,
                         deco_kwargs: dict[str, Any] | None = None) -> bool:
        """Remove the step's decorators of that name (and options, when given)."""
        removed = False
        builtins = getattr(self._func, DECORATORS_ATTR, None)
        if builtins:
            keep = [d for d in builtins if not (
                d.name == deco_name and _options_match(d.attributes, deco_kwargs))]
            removed = len(keep) != len(builtins)
            builtins[:] = keep
        wrappers = self._func.__dict__.get(USER_WRAPPERS_ATTR)
        if wrappers:
            keep_w = [w for w in wrappers if deco_name not in _wrapper_names(w)]
            removed = removed or len(keep_w) != len(wrappers)
            wrappers[:] = keep_w
        return removed


class MutableFlow:
    """The flow as a mutator sees it: configs, parameters and steps (the graph is fixed)."""

    def __init__(self, flow_cls: type, configs: Mapping[str, Any]) -> None:
        self._flow_cls = flow_cls
        self._configs = dict(configs)

    @property
    def configs(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` of every Config of the flow, as this run resolved them."""
        from headwater.flow.config import Config

        for attr in dir(self._flow_cls):
            if isinstance(getattr(self._flow_cls, attr, None), Config) and attr in self._configs:
                yield attr, self._configs[attr]

    @property
    def parameters(self) -> Iterator[tuple[str, Any]]:
        """``(name, Parameter)`` of every parameter of the flow."""
        from headwater.flow.config import Config
        from headwater.flow.parameters import Parameter

        for attr in dir(self._flow_cls):
            value = getattr(self._flow_cls, attr, None)
            if isinstance(value, Parameter) and not isinstance(value, Config):
                yield attr, value

    @property
    def steps(self) -> Iterator[tuple[str, MutableStep]]:
        for name, func in _step_functions(self._flow_cls):
            yield name, MutableStep(self, name, func)

    def __getattr__(self, name: str) -> MutableStep:
        func = dict(_step_functions(self._flow_cls)).get(name)
        if func is None:
            raise AttributeError(f"flow {self._flow_cls.__name__} has no step {name!r}")
        return MutableStep(self, name, func)


def apply_mutators(flow_cls: type, configs: Mapping[str, Any]) -> None:
    """Run the flow's mutators once (flow mutators first), with the run's configs."""
    if flow_cls.__dict__.get(_APPLIED_ATTR):
        return
    flow_mutators = list(getattr(flow_cls, FLOW_MUTATORS_ATTR, ()))
    steps = _step_functions(flow_cls)
    if not flow_mutators and not any(getattr(f, STEP_MUTATORS_ATTR, None) for _, f in steps):
        return
    setattr(flow_cls, _APPLIED_ATTR, True)
    flow = MutableFlow(flow_cls, configs)
    for stage in ("pre_mutate", "mutate"):
        for mutator in flow_mutators:
            getattr(mutator, stage)(flow)
        for name, func in _step_functions(flow_cls):
            for mutator in list(getattr(func, STEP_MUTATORS_ATTR, None) or ()):
                getattr(mutator, stage)(MutableStep(flow, name, func))


def _step_functions(flow_cls: type) -> list[tuple[str, Any]]:
    found = []
    for attr in dir(flow_cls):
        value = getattr(flow_cls, attr, None)
        if is_step(value):
            found.append((attr, value))
    return found


def _builtin_instance(deco_type: Any, args: list[Any] | None, kwargs: dict[str, Any] | None,
                      step: str) -> StepDecorator:
    from headwater.decorators.registry import decorator_class, parse_with

    if args:
        raise FlowDefinitionError(
            f"a mutator gave positional options to a decorator on step '{step}'",
            fix="built-in decorators take keyword options: deco_kwargs={...}")
    if isinstance(deco_type, str):
        if ":" in deco_type and kwargs:
            raise FlowDefinitionError(
                f"add_decorator({deco_type!r}) on step '{step}': options both in the "
                "string and in deco_kwargs", fix="give them in one place")
        if ":" in deco_type:
            return parse_with(deco_type)
        return decorator_class(deco_type)(**(kwargs or {}))
    cls = getattr(deco_type, "decorator_class", None)
    if isinstance(deco_type, type) and issubclass(deco_type, StepDecorator):
        cls = deco_type
    if cls is None:
        raise FlowDefinitionError(
            f"add_decorator({deco_type!r}) on step '{step}': not a step decorator",
            fix="pass a decorator such as retry, its name ('retry') or a UserStepDecorator")
    return cls(**(kwargs or {}))


def _options_match(attributes: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> bool:
    return not wanted or all(attributes.get(k) == v for k, v in wanted.items())


def _wrapper_names(wrapper: Any) -> tuple[str, str]:
    kind = type(wrapper)
    return kind.__name__, f"{kind.__module__}.{kind.__qualname__}"
