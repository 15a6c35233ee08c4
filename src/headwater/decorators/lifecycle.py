"""Step and flow decorators written against Metaflow's plug-in lifecycle (``metaflow.decorators``).

Organisations ship decorators as ``metaflow_extensions`` packages: a ``StepDecorator`` subclass
overrides the task hooks it needs (``task_pre_step``, ``task_decorate``, ``task_post_step``,
``task_exception``, ``task_finished``, and ``step_init``), a ``FlowDecorator`` subclass
``flow_init`` and declares ``options`` that become top-level command-line options. headwater
calls those hooks in the task, with Metaflow's positional arguments, so such decorators run
unchanged. What headwater has no object for (the task's datastore, the metadata provider, the
environment, the logger) is passed as ``None``; ``step_init`` also runs at launch
(:func:`step_init_at_launch`); the scheduler-side hooks (``runtime_*``) are not called (see
docs/decisions.md).

Nothing here is imported by a run whose flow carries no such decorator: the task checks a
class attribute first (:data:`TASK_HOOKS_ATTR`, :data:`FLOW_PLUGINS_ATTR`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from headwater.decorators.base import StepDecorator as _PolicyDecorator
from headwater.decorators.base import StepPolicy, _attach
from headwater.exceptions import FlowDefinitionError
from headwater.flow.config import is_deferred, resolve_deferred

TASK_HOOKS_ATTR = "_hw_task_hooks"  # True on decorators whose task hooks the task must call
FLOW_PLUGINS_ATTR = "_hw_flow_plugins"  # the flow class's lifecycle flow decorators
_GIVEN_ATTR = "_hw_flow_option_values"  # options given on the command line, by option name
# Set on the flow class once this process called the steps' ``step_init`` (at launch): a task
# forked from it does not call them again (Metaflow calls them once per process).
_STEP_INIT_DONE_ATTR = "_hw_step_init_done"


def _checked_attributes(kind: str, name: str, defaults: Mapping[str, Any],
                        given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise FlowDefinitionError(
            f"{kind} @{name} has no option {', '.join(map(repr, unknown))}",
            fix=f"the options of @{name} are: {', '.join(sorted(defaults)) or 'none'}")
    return {**defaults, **given}


class StepDecorator(_PolicyDecorator):
    """Base of a step decorator written for Metaflow's lifecycle; override the hooks you need.

    ``self.attributes`` holds ``defaults`` updated with the options written on the step.
    """

    name: ClassVar[str] = "NONAME"
    defaults: ClassVar[dict[str, Any]] = {}
    allow_multiple: ClassVar[bool] = False
    IS_PARALLEL: ClassVar[bool] = False
    _hw_task_hooks: ClassVar[bool] = True

    def __init__(self, attributes: Mapping[str, Any] | None = None,
                 statically_defined: bool = False, inserted_by: Any = None,
                 **options: Any) -> None:
        given = {**(attributes or {}), **options}
        self._spreads: dict[str, Any] = {}
        self._given = dict(given)
        self.attributes = _checked_attributes("step decorator", self.name, self.defaults, given)
        self.statically_defined = statically_defined
        self.inserted_by = inserted_by
        self._hw_static = statically_defined

    def resolved(self, configs: Mapping[str, Any]) -> StepDecorator:
        if not is_deferred(self.attributes):
            return self
        return type(self)(attributes=resolve_deferred(self.attributes, configs),
                          statically_defined=self.statically_defined,
                          inserted_by=self.inserted_by)

    def apply(self, policy: StepPolicy) -> None:
        """The scheduler needs nothing from these: their work happens in the task's hooks."""

    # Metaflow's hooks, with its positional arguments. Each does nothing by default.
    def step_init(self, flow: Any, graph: Any, step_name: str, decorators: list[Any],
                  environment: Any, flow_datastore: Any, logger: Any) -> None:
        """Called in the task, before ``task_pre_step``."""

    def task_pre_step(self, step_name: str, task_datastore: Any, metadata: Any, run_id: str,
                      task_id: str, flow: Any, graph: Any, retry_count: int,
                      max_user_code_retries: int, ubf_context: Any, inputs: Any) -> None:
        """Before the step function runs."""

    def task_decorate(self, step_func: Callable[..., Any], flow: Any, graph: Any,
                      retry_count: int, max_user_code_retries: int,
                      ubf_context: Any) -> Callable[..., Any]:
        """Return the function to run as the step (``step_func`` itself by default)."""
        return step_func

    def task_post_step(self, step_name: str, flow: Any, graph: Any, retry_count: int,
                       max_user_code_retries: int) -> None:
        """After the step succeeded; artifacts set here are stored with the step's."""

    def task_exception(self, exception: BaseException, step_name: str, flow: Any, graph: Any,
                       retry_count: int, max_user_code_retries: int) -> Any:
        """The step raised ``exception``; return True to handle it (the task then succeeds)."""
        return None

    def task_finished(self, step_name: str, flow: Any, graph: Any, is_task_ok: bool,
                      retry_count: int, max_user_code_retries: int) -> None:
        """Last, whether the task succeeded or not."""

    def __repr__(self) -> str:
        return f"@{self.name}"


class FlowDecorator:
    """Base of a flow decorator written for Metaflow's lifecycle.

    ``options`` (option name -> click keyword arguments) become top-level options of the flow's
    command line (``python flow.py --foobar X run``), also read from ``METAFLOW_<NAME>``;
    ``flow_init`` receives their values as ``options`` in every task.
    """

    name: ClassVar[str] = "NONAME"
    defaults: ClassVar[dict[str, Any]] = {}
    options: ClassVar[dict[str, dict[str, Any]]] = {}
    allow_multiple: ClassVar[bool] = False

    def __init__(self, attributes: Mapping[str, Any] | None = None,
                 statically_defined: bool = False, inserted_by: Any = None,
                 **given: Any) -> None:
        merged = {**(attributes or {}), **given}
        self.attributes = _checked_attributes("flow decorator", self.name, self.defaults, merged)
        self.statically_defined = statically_defined
        self.inserted_by = inserted_by

    def flow_init(self, flow: Any, graph: Any, environment: Any, flow_datastore: Any,
                  metadata: Any, logger: Any, echo: Any, options: Mapping[str, Any]) -> None:
        """Called in every task before the step decorators' hooks."""

    def get_top_level_options(self) -> list[Any]:
        return []

    def __repr__(self) -> str:
        return f"@{self.name}"


def make_lifecycle_step_decorator(cls: type[StepDecorator]) -> Callable[..., Any]:
    """``@name`` and ``@name(option=...)`` on a step, for a :class:`StepDecorator` subclass."""

    return _both_spellings(cls, _attach, lambda target: target is not None and callable(target))


def make_lifecycle_flow_decorator(cls: type[FlowDecorator]) -> Callable[..., Any]:
    """``@name`` and ``@name(option=...)`` on a flow class, for a :class:`FlowDecorator`."""

    def attach(flow_cls: type, instance: FlowDecorator) -> type:
        own = flow_cls.__dict__.get(FLOW_PLUGINS_ATTR)
        if own is None:
            own = list(getattr(flow_cls, FLOW_PLUGINS_ATTR, ()))  # a subclass extends its base's
            setattr(flow_cls, FLOW_PLUGINS_ATTR, own)
        if not instance.allow_multiple and any(d.name == instance.name for d in own):
            raise FlowDefinitionError(f"flow {flow_cls.__name__} has @{instance.name} twice",
                                      fix="keep one")
        own.append(instance)
        return flow_cls

    return _both_spellings(cls, attach, lambda target: isinstance(target, type))


def _both_spellings(cls: type, attach: Callable[[Any, Any], Any],
                    is_target: Callable[[Any], bool]) -> Callable[..., Any]:
    """``@name`` (``is_target`` of the argument, no options) and ``@name(option=...)``, each
    attaching one instance of the plug-in class ``cls`` with ``attach(target, instance)``."""

    def decorator(target: Any = None, **options: Any) -> Any:
        if is_target(target) and not options:
            return attach(target, cls(statically_defined=True))
        instance = cls(attributes=options, statically_defined=True)
        return lambda later: attach(later, instance)

    decorator.__name__ = cls.name
    decorator.__doc__ = cls.__doc__
    decorator.decorator_class = cls  # type: ignore[attr-defined]
    return decorator


def flow_plugins(flow_cls: type) -> list[FlowDecorator]:
    return list(getattr(flow_cls, FLOW_PLUGINS_ATTR, None) or ())


def flow_option_specs(flow_cls: type) -> dict[str, dict[str, Any]]:
    """Every top-level option the flow's lifecycle flow decorators declare, by name."""
    specs: dict[str, dict[str, Any]] = {}
    for deco in flow_plugins(flow_cls):
        for option, spec in (deco.options or {}).items():
            if option in specs:
                raise FlowDefinitionError(
                    f"flow {flow_cls.__name__}: two flow decorators declare the option "
                    f"--{option}", fix="rename the option in one of them")
            specs[option] = dict(spec)
    return specs


def give_options(flow_cls: type, values: Mapping[str, Any]) -> None:
    """Record the options given on the command line (before the run is launched)."""
    setattr(flow_cls, _GIVEN_ATTR, dict(values))


def flow_option_values(flow_cls: type) -> dict[str, Any]:
    """Each option's value: given on the command line, else ``METAFLOW_<NAME>`` (as Metaflow's
    command line reads it), else its default."""
    given = getattr(flow_cls, _GIVEN_ATTR, None) or {}
    values: dict[str, Any] = {}
    for option, spec in flow_option_specs(flow_cls).items():
        if option in given:
            values[option] = given[option]
            continue
        env = os.environ.get("METAFLOW_" + option.upper().replace("-", "_"))
        values[option] = env if env is not None else spec.get("default")
    return values


def step_init_at_launch(flow_cls: type, step_names: Iterable[str]) -> None:
    """``step_init`` of each plug-in step decorator, at launch, before the steps' policies are
    read, as Metaflow calls it in the process that starts the run (and again in each task).
    A plug-in may put decorators on its step there (``_attach_decorators_to_step``, or the
    ``decorators`` list it is given, which is the step's own): those then count for the run,
    as with Metaflow. A step without such a decorator costs one attribute read."""
    from headwater.flow.step import DECORATORS_ATTR

    pending = []
    for name in step_names:
        own = getattr(getattr(flow_cls, name, None), DECORATORS_ATTR, None) or []
        pending.extend((name, own, deco) for deco in list(own)
                       if getattr(deco, TASK_HOOKS_ATTR, False))
    if not pending:
        return
    flow = flow_cls.__new__(flow_cls)
    graph = _graph_of(flow)
    for name, own, deco in pending:
        deco.step_init(flow, graph, name, own, None, None, None)
    type.__setattr__(flow_cls, _STEP_INIT_DONE_ATTR, True)


class TaskHooks:
    """The lifecycle hooks of one task: its flow's flow decorators and its step's decorators."""

    def __init__(self, flow: Any, step_name: str, decorators: list[Any], retry_count: int,
                 max_user_code_retries: int, options: Mapping[str, Any] | None,
                 frames: tuple[Any, ...] = ()) -> None:
        from headwater.flow.unbounded import ubf_context

        self.flow = flow
        self.ubf_context = ubf_context(frames)
        self.step_name = step_name
        self.all_decorators = decorators
        self.decorators = [d for d in decorators if getattr(d, TASK_HOOKS_ATTR, False)]
        self.retry_count = retry_count
        self.max_retries = max_user_code_retries
        self.options = dict(options) if options is not None else None
        self.graph = _graph_of(flow)
        self._finished = False

    def start(self, run_id: str, task_id: str, inputs: Any) -> None:
        """``flow_init`` of the flow decorators, then ``step_init`` and ``task_pre_step``."""
        flow_cls = type(self.flow)
        options = self.options if self.options is not None else flow_option_values(flow_cls)
        for deco in flow_plugins(flow_cls):
            deco.flow_init(self.flow, self.graph, None, None, None, None, _echo, options)
        # Once per process, as Metaflow calls it: a task forked from the launching process
        # (the local executor's) inherits the launch's call and what it attached; a task in a
        # new interpreter (spawn, Dask, deployed) calls it here.
        if not flow_cls.__dict__.get(_STEP_INIT_DONE_ATTR):
            for deco in self.decorators:
                deco.step_init(self.flow, self.graph, self.step_name, self.all_decorators,
                               None, None, None)
        for deco in self.decorators:
            deco.task_pre_step(self.step_name, None, None, _current("run_id"),
                               _current("task_id"), self.flow, self.graph, self.retry_count,
                               self.max_retries, self.ubf_context, inputs)

    def decorate(self, step_func: Callable[..., Any]) -> Callable[..., Any]:
        for deco in self.decorators:
            step_func = deco.task_decorate(step_func, self.flow, self.graph, self.retry_count,
                                           self.max_retries, self.ubf_context)
        return step_func

    def succeeded(self) -> None:
        for deco in self.decorators:
            deco.task_post_step(self.step_name, self.flow, self.graph, self.retry_count,
                                self.max_retries)

    def handled(self, exception: BaseException) -> bool:
        """Whether a decorator's ``task_exception`` handled ``exception`` (each one is asked)."""
        handled = False
        for deco in self.decorators:
            if deco.task_exception(exception, self.step_name, self.flow, self.graph,
                                   self.retry_count, self.max_retries):
                handled = True
        return handled

    def finished(self, ok: bool) -> None:
        """``task_finished``, once (a failure in one hook is the task's failure, reported
        without calling them again)."""
        if self._finished:
            return
        self._finished = True
        for deco in self.decorators:
            deco.task_finished(self.step_name, self.flow, self.graph, ok, self.retry_count,
                               self.max_retries)


def _graph_of(flow: Any) -> Any:
    try:
        return flow._graph
    except Exception:  # noqa: BLE001 - a flow without a graph view still runs its hooks
        return None


def _current(field: str) -> Any:
    from headwater.flow.current import current

    return getattr(current, field, None)


def _echo(*args: Any, **kwargs: Any) -> None:
    """Metaflow's ``echo`` as flow decorators call it: a line on the task's stderr."""
    print(*args, file=sys.stderr)
