"""The flow and its steps as a mutator sees them: :class:`MutableFlow` and :class:`MutableStep`.

Metaflow's public surface, with its rules: parameters, flow-level decorators and step mutators
may be added or removed only in ``pre_mutate`` (they decide what the command line offers and
which mutators run); step decorators, built-in or user-defined, in either stage. A decorator
can be given as the decorator itself, its class, or a spec string such as
``"retry:times=2"`` or ``"MyMutator:tag=x"`` (user decorators are found by name, see
:mod:`.named`); ``duplicates`` says what happens when the step or flow already has one.

Changes are made to the flow class and its step functions in the launching process
(:mod:`.mutation` runs the mutators); every task of the run is forked from it and sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headwater.decorators import user_options
from headwater.decorators.base import StepDecorator, _attach
from headwater.decorators.mutators import FlowMutator, StepMutator, add_step_mutator, step_mutators
from headwater.decorators.named import find, full_name, parse_spec, short_name
from headwater.decorators.user_step import USER_WRAPPERS_ATTR, UserStepDecorator, attach_wrapper
from headwater.exceptions import FlowDefinitionError, HeadwaterException
from headwater.flow.step import DECORATORS_ATTR, is_step, step_members

# What a run's configs are while its mutators run (config name -> value), kept on the class.
CONFIG_VALUES_ATTR = "_hw_mutator_configs"
# The flow mutators being applied, a live list: one a mutator adds is run in the same pass.
RUNNING_MUTATORS_ATTR = "_hw_running_mutators"

Spec = tuple[str, str, list[Any], dict[str, Any]]


class _Mutable:
    """What MutableFlow and MutableStep share: the stage, and who is making the change."""

    IGNORE = 1  # add_decorator: keep the existing one
    ERROR = 2  # add_decorator: refuse a second one (when the adder is written in the code)
    OVERRIDE = 3  # add_decorator: replace the existing one

    def __init__(self, flow_spec: Any, pre_mutate: bool, statically_defined: bool,
                 inserted_by: Any) -> None:
        if inserted_by is None:
            raise HeadwaterException(
                f"{type(self).__name__} is made by headwater for a StepMutator or FlowMutator",
                fix="receive it as the argument of pre_mutate/mutate instead of building one")
        self._flow_cls = flow_spec if isinstance(flow_spec, type) else type(flow_spec)
        self._pre_mutate = pre_mutate
        self._statically_defined = statically_defined
        self._inserted_by = inserted_by

    def _only_in_pre_mutate(self, action: str) -> None:
        if not self._pre_mutate:
            raise HeadwaterException(
                f"{action} from {self._inserted_by} is only allowed in the `pre_mutate` method "
                "and not the `mutate` method",
                fix="move that change into pre_mutate")

    def _check_duplicates(self, duplicates: int) -> None:
        if duplicates not in (self.IGNORE, self.ERROR, self.OVERRIDE):
            raise ValueError(f"Invalid duplicates value: {duplicates!r}")

    @staticmethod
    def _spec_options(spec: str, deco_args: list[Any], deco_kwargs: dict[str, Any],
                      where: str) -> tuple[str, dict[str, Any]]:
        """``add_decorator("name:opt=1", ...)``: the name and every keyword option, those of
        the spec string and those given apart (not both)."""
        name, options = parse_spec(spec)
        if options and (deco_args or deco_kwargs):
            raise HeadwaterException(
                f"add_decorator({spec!r}) on {where}: options both in the spec and in "
                "deco_args/deco_kwargs", fix="give them in one place")
        return name, {**options, **deco_kwargs}

    def has_decorator(self, name: str) -> bool:
        """Whether a decorator of that name (short, or full when it has a period) is there."""
        return bool(self.get_decorator_specs(name))

    def get_decorator_specs(self, name: str) -> list[Spec]:
        """The ``decorator_specs`` whose name matches ``name``."""
        return [(short, full, list(args), dict(kwargs))
                for short, full, args, kwargs in self.decorator_specs  # type: ignore[attr-defined]
                if _match_name(short, full, name)]

    def _child_flags(self) -> dict[str, Any]:
        return {"pre_mutate": self._pre_mutate, "statically_defined": self._statically_defined,
                "inserted_by": self._inserted_by}


class MutableStep(_Mutable):
    """One step: its decorators (built-in, user-defined, step mutators), which it may change."""

    def __init__(self, flow_spec: Any, step: Any, pre_mutate: bool = False,
                 statically_defined: bool = False, inserted_by: Any = None) -> None:
        super().__init__(flow_spec, pre_mutate, statically_defined, inserted_by)
        self._my_step = step
        self.name: str = step.__name__

    @property
    def flow(self) -> MutableFlow:
        """The flow this step belongs to."""
        return MutableFlow(self._flow_cls, **self._child_flags())

    @property
    def decorator_specs(self) -> Iterator[Spec]:
        """``(name, full name, args, kwargs)`` of each decorator of the step."""
        for deco in getattr(self._my_step, DECORATORS_ATTR, None) or ():
            yield deco.name, full_name(type(deco)), [], deco.attributes
        for deco in self._user_decorators():
            yield _user_spec(deco)

    def _user_decorators(self) -> list[Any]:
        """The step's user decorators and step mutators, each once (one may be both)."""
        seen: dict[int, Any] = {}
        for deco in [*(self._my_step.__dict__.get(USER_WRAPPERS_ATTR) or ()),
                     *step_mutators(self._my_step)]:
            seen.setdefault(id(deco), deco)
        return list(seen.values())

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None,
                      duplicates: int = _Mutable.IGNORE) -> Any:
        """Add a built-in step decorator (``environment``, ``"retry:times=2"``) or a user one
        (a ``UserStepDecorator`` or ``StepMutator`` class, or its name); returns what was added,
        or None when the step already had one and ``duplicates`` kept it. A user decorator
        added this way wraps the step outside those it already has."""
        self._check_duplicates(duplicates)
        deco_args, deco_kwargs = list(deco_args or ()), dict(deco_kwargs or {})
        if isinstance(deco_type, str):
            name, deco_kwargs = self._spec_options(deco_type, deco_args, deco_kwargs,
                                                   f"step '{self.name}'")
            user_cls = find(name) if not _is_builtin(name) else None
            if user_cls is None:
                return self._add_builtin(_builtin_class(name, self.name), deco_args,
                                         deco_kwargs, duplicates)
            return self._add_user(user_cls, deco_args, deco_kwargs, duplicates)
        if isinstance(deco_type, type) and issubclass(deco_type, (UserStepDecorator, StepMutator)):
            return self._add_user(deco_type, deco_args, deco_kwargs, duplicates)
        return self._add_builtin(_builtin_class(deco_type, self.name), deco_args, deco_kwargs,
                                 duplicates)

    def _add_builtin(self, cls: type[StepDecorator], args: list[Any], kwargs: dict[str, Any],
                     duplicates: int) -> StepDecorator | None:
        if args:
            raise HeadwaterException(
                f"@{cls.name} on step '{self.name}' takes no positional options",
                fix="give them as deco_kwargs={...}")
        deco = cls(**kwargs)
        own = getattr(self._my_step, DECORATORS_ATTR, None) or []
        if any(d.name == deco.name for d in own) and not deco.allow_multiple:
            if duplicates == self.IGNORE:
                return None
            if duplicates == self.ERROR:
                if self._statically_defined:
                    raise FlowDefinitionError(
                        f"{self._inserted_by} added @{deco.name} to step '{self.name}', which "
                        "already has it", fix="pass duplicates=OVERRIDE or IGNORE to add_decorator")
                return None
            own[:] = [d for d in own if d.name != deco.name]
        _attach(self._my_step, deco)
        return deco

    def _add_user(self, cls: type, args: list[Any], kwargs: dict[str, Any],
                  duplicates: int) -> Any:
        if issubclass(cls, StepMutator):
            self._only_in_pre_mutate(f"Adding step mutator '{full_name(cls)}'")
        existing = [d for d in self._user_decorators() if type(d) is cls]
        if existing:
            if duplicates == self.IGNORE or (duplicates == self.ERROR
                                             and not self._statically_defined):
                return None
            if duplicates == self.ERROR:
                raise FlowDefinitionError(
                    f"{self._inserted_by} added @{short_name(cls)} to step '{self.name}', which "
                    "already has it", fix="pass duplicates=OVERRIDE or IGNORE to add_decorator")
            self._drop_user(lambda d: type(d) is cls)
        deco = cls(*args, **kwargs)
        user_options.settle(deco, self._flow_cls.__dict__.get(CONFIG_VALUES_ATTR) or {},
                            f"on step {self.name!r}")
        deco._hw_static = self._statically_defined
        deco._hw_inserted_by = self._inserted_by
        if isinstance(deco, UserStepDecorator):
            attach_wrapper(self._my_step, deco, outermost=True)
        if isinstance(deco, StepMutator):
            add_step_mutator(self._my_step, deco)
        return deco

    def remove_decorator(self, deco_name: str, deco_args: list[Any] | None = None,
                         deco_kwargs: dict[str, Any] | None = None) -> bool:
        """Remove the step's decorators called ``deco_name``; with ``deco_args``/``deco_kwargs``,
        only those given exactly these options. Step mutators only in ``pre_mutate``."""
        do_all = deco_args is None and deco_kwargs is None
        wanted = (list(deco_args or ()), dict(deco_kwargs or {}))

        def matches(deco: Any) -> bool:
            short, full, args, kwargs = _user_spec(deco)
            return _match_name(short, full, deco_name) and (do_all or (args, kwargs) == wanted)

        for deco in self._user_decorators():
            if matches(deco) and isinstance(deco, StepMutator):
                self._only_in_pre_mutate(f"Removing step mutator '{deco.decorator_name}'")
        if self._drop_user(matches):
            return True
        own = getattr(self._my_step, DECORATORS_ATTR, None)
        if not own:
            return False
        keep = [d for d in own if not (_match_name(d.name, full_name(type(d)), deco_name) and (
            do_all or (not wanted[0] and d.attributes == wanted[1])))]
        removed = len(keep) != len(own)
        own[:] = keep
        return removed

    def _drop_user(self, matches: Any) -> bool:
        removed = False
        wrappers = self._my_step.__dict__.get(USER_WRAPPERS_ATTR)
        for found in (wrappers, step_mutators(self._my_step)):
            if found:
                keep = [d for d in found if not matches(d)]
                removed = removed or len(keep) != len(found)
                found[:] = keep
        return removed

    def __repr__(self) -> str:
        return f"MutableStep({self._flow_cls.__name__}.{self.name})"


class MutableFlow(_Mutable):
    """The flow: its configs, parameters, steps and flow-level decorators (the graph is fixed)."""

    def __init__(self, flow_spec: Any, pre_mutate: bool = False, statically_defined: bool = False,
                 inserted_by: Any = None) -> None:
        super().__init__(flow_spec, pre_mutate, statically_defined, inserted_by)

    @property
    def configs(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` of each Config of the flow, as this run resolved them."""
        from headwater.flow.config import flow_configs

        values = self._flow_cls.__dict__.get(CONFIG_VALUES_ATTR) or {}
        for attr, cfg in flow_configs(self._flow_cls).items():
            yield cfg.name, values.get(cfg.name, values.get(attr))

    @property
    def parameters(self) -> Iterator[tuple[str, Any]]:
        """``(attribute name, Parameter)`` of each parameter of the flow (configs excluded)."""
        from headwater.flow.config import Config
        from headwater.flow.parameters import flow_parameters

        for attr, param in flow_parameters(self._flow_cls).items():
            if not isinstance(param, Config):
                yield attr, param

    @property
    def steps(self) -> Iterator[tuple[str, MutableStep]]:
        """``(name, MutableStep)`` of each step."""
        for attr, value in step_members(self._flow_cls):
            yield attr, MutableStep(self._flow_cls, value, **self._child_flags())

    @property
    def decorator_specs(self) -> Iterator[Spec]:
        """``(name, full name, args, kwargs)`` of each flow-level decorator and flow mutator."""
        from headwater.decorators.flow_decorators import flow_decorator_specs

        yield from flow_decorator_specs(self._flow_cls)
        for mutator in self._flow_mutators():
            yield _user_spec(mutator)

    def _flow_mutators(self) -> list[FlowMutator]:
        from headwater.decorators.mutators import declared_flow_mutators

        running = self._flow_cls.__dict__.get(RUNNING_MUTATORS_ATTR)
        return running if running is not None else declared_flow_mutators(self._flow_cls)

    def add_parameter(self, name: str, value: Any, overwrite: bool = False) -> None:
        """Add ``value`` (a Parameter or IncludeFile) as the flow's attribute ``name``: it becomes
        a ``run`` option like the others. Only in ``pre_mutate``."""
        from headwater.flow.config import Config
        from headwater.flow.parameters import Parameter

        self._only_in_pre_mutate(f"Adding parameter '{name}'")
        if hasattr(self._flow_cls, name) and not overwrite:
            raise HeadwaterException(
                f"Flow '{self._flow_cls.__name__}' already has a class member '{name}'",
                fix="set overwrite=True in add_parameter to overwrite it, or pick another name")
        if not isinstance(value, Parameter) or isinstance(value, Config):
            raise HeadwaterException(
                f"add_parameter('{name}') got {type(value).__name__}: only a Parameter or an "
                "IncludeFile can be added", fix=f"pass Parameter({name!r}, default=...)")
        setattr(self._flow_cls, name, value)
        value.__set_name__(self._flow_cls, name)
        _forget_derived(self._flow_cls)

    def remove_parameter(self, parameter_name: str) -> bool:
        """Remove the parameter whose (command-line) name is ``parameter_name``; True when one
        was there. Configs cannot be removed. Only in ``pre_mutate``."""
        self._only_in_pre_mutate(f"Removing parameter '{parameter_name}'")
        for attr, param in self.parameters:
            if param.name == parameter_name:
                if attr in self._flow_cls.__dict__:
                    delattr(self._flow_cls, attr)
                else:  # declared on a base class, which other flows may share: hide it here
                    setattr(self._flow_cls, attr, _removed(attr, self._flow_cls.__name__))
                _forget_derived(self._flow_cls)
                return True
        return False

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None,
                      duplicates: int = _Mutable.IGNORE) -> Any:
        """Add a flow-level decorator (``project``, ``"project:name=x"``) or a FlowMutator
        (its class or name; its ``pre_mutate`` runs after those already there). Only in
        ``pre_mutate``; returns what was added, or None when ``duplicates`` kept the old one."""
        from headwater.decorators.flow_decorators import add_flow_decorator

        label = deco_type if isinstance(deco_type, str) else getattr(
            deco_type, "__name__", repr(deco_type))
        self._only_in_pre_mutate(f"Adding flow-decorator '{label}'")
        self._check_duplicates(duplicates)
        deco_args, deco_kwargs = list(deco_args or ()), dict(deco_kwargs or {})
        if isinstance(deco_type, str):
            name, deco_kwargs = self._spec_options(deco_type, deco_args, deco_kwargs,
                                                   f"flow {self._flow_cls.__name__}")
            found = find(name)
            if found is not None and issubclass(found, FlowMutator):
                return self._add_mutator(found, deco_args, deco_kwargs, duplicates)
            deco_type = name
        elif isinstance(deco_type, type) and issubclass(deco_type, FlowMutator):
            return self._add_mutator(deco_type, deco_args, deco_kwargs, duplicates)
        if deco_args:
            raise HeadwaterException(f"flow decorator {label!r} takes no positional options",
                                     fix="give them as deco_kwargs={...}")
        return add_flow_decorator(self._flow_cls, deco_type, deco_kwargs, duplicates,
                                  refuse=self._statically_defined)

    def _add_mutator(self, cls: type, args: list[Any], kwargs: dict[str, Any],
                     duplicates: int) -> FlowMutator | None:
        mutators = self._flow_mutators()
        existing = [m for m in mutators if type(m) is cls]
        if existing:
            if duplicates == self.IGNORE or (duplicates == self.ERROR
                                             and not self._statically_defined):
                return None
            if duplicates == self.ERROR:
                raise HeadwaterException(f"Duplicate FlowMutator '{full_name(cls)}' on flow "
                                         f"{self._flow_cls.__name__}")
            mutators[:] = [m for m in mutators if type(m) is not cls]
        mutator = cls(*args, **kwargs)
        mutator._hw_static = self._statically_defined
        mutator._hw_inserted_by = self._inserted_by
        mutators.append(mutator)
        return mutator

    def remove_decorator(self, deco_name: str, deco_args: list[Any] | None = None,
                         deco_kwargs: dict[str, Any] | None = None) -> bool:
        """Remove flow-level decorators called ``deco_name`` (with exactly these options, when
        given). Flow mutators cannot be removed. Only in ``pre_mutate``."""
        from headwater.decorators.flow_decorators import remove_flow_decorator

        self._only_in_pre_mutate(f"Removing flow-decorator '{deco_name}'")
        for mutator in self._flow_mutators():
            short, full, _, _ = _user_spec(mutator)
            if _match_name(short, full, deco_name):
                raise HeadwaterException(
                    f"Cannot remove FlowMutator '{deco_name}': flow mutators are being applied",
                    fix="only flow decorators (@project, @schedule, ...) can be removed")
        options = None if deco_args is None and deco_kwargs is None else dict(deco_kwargs or {})
        return remove_flow_decorator(self._flow_cls, deco_name, options)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._flow_cls, name, None)
        if is_step(value):
            return MutableStep(self._flow_cls, value, **self._child_flags())
        from headwater.flow.config import Config
        from headwater.flow.parameters import Parameter

        if isinstance(value, Config):  # a config reads as its value, as in a step
            values = self._flow_cls.__dict__.get(CONFIG_VALUES_ATTR) or {}
            return values.get(value.name, values.get(name))
        if isinstance(value, Parameter):
            return value
        raise AttributeError(f"flow {self._flow_cls.__name__} has no step or parameter {name!r}")

    def __repr__(self) -> str:
        return f"MutableFlow({self._flow_cls.__name__})"


def _match_name(short: str, full: str, query: str) -> bool:
    """Metaflow's rule: a name with a period is a full name, any other a short one."""
    return full == query if "." in query else short == query


def _user_spec(deco: Any) -> Spec:
    kind = type(deco)
    return (short_name(kind), full_name(kind), list(getattr(deco, "_hw_args", ())),
            dict(getattr(deco, "_hw_kwargs", {})))


def _is_builtin(name: str) -> bool:
    from headwater.decorators.registry import decorator_class

    try:
        decorator_class(name)
    except FlowDefinitionError:
        return False
    return True


def _builtin_class(deco_type: Any, step: str) -> type[StepDecorator]:
    """The built-in step decorator class ``deco_type`` names or is."""
    from headwater.decorators.registry import decorator_class

    if isinstance(deco_type, str):
        try:
            return decorator_class(deco_type)
        except FlowDefinitionError as err:
            raise FlowDefinitionError(f"add_decorator on step '{step}': {err.msg}",
                                      fix=f"{err.fix}; or a user decorator's class name"
                                      ) from None
    if isinstance(deco_type, type) and issubclass(deco_type, StepDecorator):
        return deco_type
    cls = getattr(deco_type, "decorator_class", None)
    if cls is None:
        raise FlowDefinitionError(
            f"add_decorator({deco_type!r}) on step '{step}': not a step decorator",
            fix="pass a decorator such as retry, its name ('retry'), or a UserStepDecorator "
            "or StepMutator class")
    return cls


def _removed(attr: str, flow: str) -> property:
    """What hides a removed inherited parameter: reading it fails as for any unknown name."""
    def gone(_self: Any) -> Any:
        raise AttributeError(f"flow {flow} has no parameter {attr!r}: a mutator removed it")
    return property(gone)


def _forget_derived(flow_cls: type) -> None:
    """Drop what was computed from the class's members before a mutator changed them."""
    for attr in ("_hw_constants", "_hw_graph"):
        if attr in flow_cls.__dict__:
            delattr(flow_cls, attr)
