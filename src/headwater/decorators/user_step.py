"""User-defined step decorators: code of your own around a step (Metaflow's public API).

Two ways to write one, as with Metaflow:

- ``@user_step_decorator`` on a generator function ``(step_name, flow, inputs[, attributes])``:
  the code before its one ``yield`` runs before the step, the code after it once the step
  succeeded; a ``try`` around the ``yield`` sees the step's exception (swallow it and the step
  succeeds). Yielding a callable runs it instead of the step; yielding a dict skips the step
  (the dict, if not empty, holds ``self.next`` options such as ``foreach``).
- a subclass of :class:`UserStepDecorator` with ``init(**kwargs)``, ``pre_step(step_name, flow,
  inputs)`` (returns None or a replacement callable) and ``post_step(step_name, flow, exception)``
  (returns the exception to raise, or ``(exception, next_options)``), and ``skip_step``.

Either is applied above ``@step`` bare (``@timing``) or with keyword options (``@timing(x=1)``).
They run inside the task, around the step function only: the outermost decorator's ``pre_step``
first and its ``post_step`` last; artifacts they set are stored with the step's.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

from headwater.decorators import user_options
from headwater.decorators.named import Named
from headwater.exceptions import FlowDefinitionError
from headwater.records import Record

USER_WRAPPERS_ATTR = "_hw_user_wrappers"  # user step decorators of a step, outermost first


def _is_function(obj: Any) -> bool:
    return isinstance(obj, types.FunctionType)


def attach_wrapper(func: Any, deco: UserStepDecorator, *, outermost: bool = True) -> None:
    """Record ``deco`` on the step function ``func``."""
    wrappers = func.__dict__.get(USER_WRAPPERS_ATTR)
    if wrappers is None:
        wrappers = []
        setattr(func, USER_WRAPPERS_ATTR, wrappers)
    if outermost:
        wrappers.insert(0, deco)
    else:
        wrappers.append(deco)


def user_wrappers(func: Any) -> list[UserStepDecorator]:
    """The user step decorators of a step function, outermost first."""
    return list(getattr(func, USER_WRAPPERS_ATTR, None) or ())


class UserStepDecorator(Named):
    """Base of user-defined step decorators; subclass it and override the hooks you need.

    A class may subclass both this and ``StepMutator``: it then wraps the step's tasks and
    mutates the step at launch (each base attaches its part in ``_hw_attach``).
    """

    _hw_register = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and _is_function(args[0]):
            # ``@MyDecorator`` without parentheses: decorate the step function at once.
            instance = super().__new__(cls)
            instance._skip = False
            instance._hw_args, instance._hw_kwargs = (), {}
            instance.init()
            instance._hw_attach(args[0])
            return args[0]
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._skip: bool | dict[str, Any] = False
        user_options.take(self, args, kwargs)  # init now, or once the configs are known

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if not _is_function(func):
            raise FlowDefinitionError(
                f"@{type(self).__name__}(...) decorates a step function, not {func!r}",
                fix="place it above @step on a method of your flow")
        self._hw_attach(func)
        return func

    def _hw_attach(self, func: Any) -> None:
        """Attach this decorator to ``func`` (a subclass that is also a mutator adds itself
        as one too, through the next base's ``_hw_attach``)."""
        attach_wrapper(func, self)
        further = getattr(super(), "_hw_attach", None)
        if further is not None:
            further(func)

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Take the decorator's options (``@MyDecorator(x=1)``); the default takes none."""
        if args or kwargs:
            raise FlowDefinitionError(
                f"@{type(self).__name__} takes no options",
                fix=f"define init(self, **kwargs) in {type(self).__name__} to accept them")

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Callable[..., Any] | None:
        """Before the step: return None to run it, or a callable to run instead."""
        return None

    def post_step(self, step_name: str, flow: Any, exception: BaseException | None = None) -> Any:
        """After the step: return the exception to raise (None: the step succeeded), or
        ``(exception, next_options)`` to also call ``self.next`` with those options."""
        return exception, None

    @property
    def skip_step(self) -> bool | dict[str, Any]:
        """True (or a dict of ``self.next`` options) to skip what this decorator wraps."""
        return getattr(self, "_skip", False)

    @skip_step.setter
    def skip_step(self, value: bool | dict[str, Any]) -> None:
        self._skip = value

    def __repr__(self) -> str:
        return f"@{type(self).__name__}"


def user_step_decorator(func: Any = None, **options: Any) -> Any:
    """Turn a generator function into a step decorator (see the module's docstring)."""
    if func is None:
        return lambda f: user_step_decorator(f, **options)
    import inspect  # here, not at the top: a run whose flow defines no such decorator never needs it

    name = getattr(func, "__name__", repr(func))
    if not _is_function(func) or not inspect.isgeneratorfunction(func):
        raise FlowDefinitionError(
            f"@user_step_decorator on {name!r}: it decorates a generator function",
            fix="write the decorator as a function with one `yield` where the step runs")
    arity = len(inspect.signature(func).parameters)
    if arity not in (3, 4):
        raise FlowDefinitionError(
            f"@user_step_decorator on {name!r}: the function takes {arity} arguments",
            fix="take (step_name, flow, inputs) or (step_name, flow, inputs, attributes)")
    return type(name, (_GeneratorDecorator,), {
        "_generator_func": staticmethod(func), "_arity": arity, "__doc__": func.__doc__,
        "__module__": func.__module__, "__qualname__": getattr(func, "__qualname__", name),
    })


class _GeneratorDecorator(UserStepDecorator):
    """A UserStepDecorator driven by the generator function given to user_step_decorator."""

    _hw_register = False

    _generator_func: Callable[..., Iterator[Any]]
    _arity = 3

    def init(self, *args: Any, **kwargs: Any) -> None:
        if args:
            raise FlowDefinitionError(
                f"@{type(self).__name__} takes keyword options only, got {args!r}")
        if kwargs and self._arity != 4:
            raise FlowDefinitionError(
                f"@{type(self).__name__} was given options {sorted(kwargs)} but its function "
                "takes no `attributes`",
                fix="add a fourth parameter, attributes, to the generator function")
        self._attributes = dict(kwargs)
        self._running: Iterator[Any] | None = None

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Any:
        args = (step_name, flow, inputs) + ((self._attributes,) if self._arity == 4 else ())
        self._running = self._generator_func(*args)
        try:
            yielded = next(self._running)
        except StopIteration:  # no yield at all: the step does not run
            self._running = None
            self.skip_step = True
            return None
        if isinstance(yielded, dict):
            self.skip_step = yielded or True
            return None
        return yielded

    def post_step(self, step_name: str, flow: Any, exception: BaseException | None = None) -> Any:
        running, self._running = self._running, None
        if running is None:  # it never yielded: nothing ran, nothing to hand back
            return exception
        try:
            if exception is not None:
                running.throw(exception)
            else:
                next(running)
        except StopIteration as done:  # what the generator returned: None keeps the outcome
            return done.value
        except Exception as raised:  # noqa: BLE001 - the decorator's (or the step's) error
            return raised, None
        return FlowDefinitionError(f"@{type(self).__name__} yielded more than once",
                                   fix="a user step decorator yields exactly once"), None


class StepCall(Record):
    """One step to run under its user decorators; ``take_next(options)`` makes the step's own
    ``self.next`` call (options may change ``foreach``, ``condition``, ``num_parallel``)."""

    step_name: str
    flow: Any
    inputs: Any
    run_step: Callable[[], None]
    take_next: Callable[[dict[str, Any]], None]


def run_under(wrappers: list[UserStepDecorator], call: StepCall) -> None:
    """Run ``call.run_step`` inside ``wrappers`` (outermost first), as Metaflow does.

    The ``pre_step`` hooks run outermost first and stop at one that skips the step or gives a
    replacement; then the step (or the replacement) runs; then the ``post_step`` of each
    decorator whose ``pre_step`` ran, innermost first, each seeing the error left by the one
    before (None once swallowed). A step whose error was swallowed, or that was skipped, goes
    where its own ``self.next`` would have gone. Each application uses a copy of the decorator,
    so no state leaks from one task to the next.
    """
    import copy  # only tasks of steps with user decorators get here

    entered: list[UserStepDecorator] = []
    next_options: Any = None
    replacement = None
    for original in wrappers:
        deco = copy.copy(original)
        deco.skip_step = False
        replacement = deco.pre_step(call.step_name, call.flow, call.inputs)
        entered.append(deco)
        if deco.skip_step:
            next_options = deco.skip_step
            break
        if replacement is not None:
            break
    error: BaseException | None = None
    raised = False
    try:
        if not next_options:
            if replacement is not None:
                next_options = (replacement(call.flow) if call.inputs is None
                                else replacement(call.flow, call.inputs)) or None
            else:
                call.run_step()
    except Exception as exc:  # noqa: BLE001 - handed to the decorators, which may swallow it
        error, raised = exc, True
    for deco in reversed(entered):
        try:
            outcome = deco.post_step(call.step_name, call.flow, error)
        except Exception as exc:  # noqa: BLE001 - the decorator's own failure is the step's
            outcome = exc
        error, next_options = _outcome(outcome, next_options)
    if error is not None:
        raise error
    if raised or (next_options is not None and next_options is not False):
        call.take_next(next_options if isinstance(next_options, dict) else {})


def _outcome(value: Any, next_options: Any) -> tuple[BaseException | None, Any]:
    """``post_step``'s answer: (the error still standing, the ``self.next`` options)."""
    if value is None:
        return None, next_options
    if isinstance(value, BaseException):
        return value, next_options
    if isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1]
    raise FlowDefinitionError(f"a user step decorator's post_step returned {value!r}",
                              fix="return None, an exception, or (exception, next_options)")
