"""The one hook every step decorator implements: contribute to its step's StepPolicy.

A decorator never reaches into the scheduler or the task. It states what it wants (more attempts,
a time limit, a fallback value, environment variables, resources) on a StepPolicy, the scheduler
reads the policy of each step once, and the task runner applies the task-side parts. That keeps
every decorator a few lines long and lets them stack without knowing of one another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from headwater.exceptions import FlowDefinitionError
from headwater.flow.config import SPREAD_PREFIX, is_deferred, resolve_deferred
from headwater.flow.step import DECORATORS_ATTR
from headwater.records import Factory, Record

if TYPE_CHECKING:
    from headwater.decorators.typed import StepDecoratorFunction


class StepPolicy(Record):
    """How the scheduler runs one step, as the step's decorators asked."""

    attempts: int = 1  # total attempts, retries included
    retry_delay_s: float = 0.0
    retry_delay_given: bool = False  # minutes_between_retries written out (else: retry at once)
    timeout_s: float | None = None
    catch_var: str | None = None  # @catch: artifact that receives the exception
    catch_print: bool = True
    env: dict[str, str] = Factory(dict)  # @environment
    resources: dict[str, Any] = Factory(dict)  # @resources (recorded locally)
    kubernetes: dict[str, Any] = Factory(dict)  # @kubernetes's options: deployers read them
    notes: list[str] = Factory(list)  # one-line warnings to print once per run
    cards: list[dict[str, Any]] = Factory(list)  # @card declarations, in order
    python_env: dict[str, Any] | None = None  # @pypi / @conda: the step's declared environment
    cache: bool = False  # @cache: reuse an earlier task with the same cache key
    cache_max_age_s: float | None = None  # @cache(max_age=...): reuse only a younger result
    concurrency: int | None = None  # @concurrency(limit=N): at most N tasks of the step at once
    secrets: list[dict[str, Any]] = Factory(list)  # @secrets: fetched in the task


class StepDecorator:
    """Base of step decorators: validated options, and ``apply(policy)``."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    # A value that fits, per option, for the fix of a refused one: ``@retry(times=3)``.
    examples: ClassVar[dict[str, str]] = {}
    allow_multiple: ClassVar[bool] = False  # e.g. @card: a step may carry several
    # Decorators that cannot work beside this one (e.g. @pypi and @conda): a ``--with`` one is
    # not added to a step holding any of these. The pair written on one step is refused only
    # when it would take effect (environments built), as Metaflow does.
    excludes: ClassVar[tuple[str, ...]] = ()
    # Said after the list of options when one that does not exist is given: what the user
    # most likely wanted from it (``@cache(expiration=...)``: there is no expiry).
    unknown_option_note: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        # ``**config`` in the options: placeholders whose keys are known only at launch.
        self._spreads = {k: options.pop(k) for k in list(options) if k.startswith(SPREAD_PREFIX)}
        self._given = dict(options)
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise FlowDefinitionError(
                f"@{self.name} has no option {', '.join(map(repr, unknown))}",
                fix=f"the options of @{self.name} are: {known}"
                + (f"; {self.unknown_option_note}" if self.unknown_option_note else ""),
            )
        self.attributes: dict[str, Any] = {**self.defaults, **options}
        # An option given as config_expr(...) has no value until launch: check it then.
        if not is_deferred(self.attributes) and not self._spreads:
            self.validate()

    def resolved(self, configs: Mapping[str, Any]) -> StepDecorator:
        """This decorator with its config_expr options evaluated (and then validated)."""
        spreads = getattr(self, "_spreads", {})  # a subclass may not call this __init__
        if not is_deferred(self.attributes) and not spreads:
            return self
        try:
            spread: dict[str, Any] = {}
            for expr in spreads.values():
                value = resolve_deferred(expr, configs)
                spread.update(value.to_dict() if hasattr(value, "to_dict") else value)
            if spread:
                given = getattr(self, "_given", self.attributes)
                return type(self)(**{**spread, **resolve_deferred(given, configs)})
            return type(self)(**resolve_deferred(self.attributes, configs))
        except FlowDefinitionError as err:
            raise FlowDefinitionError(f"{err.msg} (from a config_expr)", fix=err.fix) from None

    def validate(self) -> None:
        """Check option values; raise FlowDefinitionError naming the decorator and option."""

    def apply(self, policy: StepPolicy) -> None:
        """Write this decorator's wishes into ``policy``."""

    def bad_option(self, option: str, why: str) -> FlowDefinitionError:
        """The refusal of one option's value, with a fix: the number itself for a number
        written as text (``times="3"``, which Metaflow's decorators convert), else an example
        from :attr:`examples`."""
        value = self.attributes[option]
        fix = None
        example = self.examples.get(option)
        if example is not None:
            fix = f"write it as e.g. @{self.name}({option}={example})"
        if isinstance(value, str) and _a_number(value):
            fix = (f"write the number itself, not text: @{self.name}({option}="
                   f"{value.strip()})")
        return FlowDefinitionError(f"@{self.name}({option}={value!r}): {why}", fix=fix)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.attributes.items())
        return f"@{self.name}({opts})"


def _a_number(text: str) -> bool:
    """Whether ``text`` is a number an option could take (finite, not negative): ``"nan"`` or
    ``"-1"`` written as the number would be refused again, so they get the example instead."""
    try:
        number = float(text)
    except ValueError:
        return False
    return math.isfinite(number) and number >= 0


def make_step_decorator(cls: type[StepDecorator]) -> StepDecoratorFunction:
    """The user-facing decorator: ``@retry`` and ``@retry(times=3)`` both work."""

    def decorator(func: Callable[..., Any] | None = None, **options: Any) -> Any:
        if func is not None and callable(func) and not options:
            return _attach(func, cls())
        if func is not None and not callable(func):
            # `@timeout(10)`, `@retry(3)`: a value without its name was taken for no option at
            # all (the decorator then ran with its defaults, or failed naming `seconds=0`).
            raise _positional(cls, func)
        instance = cls(**options)
        return lambda f: _attach(f, instance)

    decorator.__name__ = cls.name
    decorator.__doc__ = cls.__doc__
    decorator.decorator_class = cls  # type: ignore[attr-defined]
    return cast("StepDecoratorFunction", decorator)


# The option a bare value most likely meant, per decorator (the first option otherwise).
_MEANT = {"timeout": "seconds", "retry": "times", "catch": "var", "resources": "cpu",
          "environment": "vars", "card": "type", "pypi": "packages", "conda": "packages"}


def _positional(cls: type[StepDecorator], value: Any) -> FlowDefinitionError:
    names = sorted(cls.defaults)
    meant = _MEANT.get(cls.name) if _MEANT.get(cls.name) in names else (names[:1] or [None])[0]
    example = f"@{cls.name}({meant}={value!r})" if meant else f"@{cls.name}"
    return FlowDefinitionError(
        f"@{cls.name}({value!r}): a step decorator's options are given by name, and "
        f"{value!r} has none",
        fix=f"write {example}" + (f" (its options: {', '.join(names)})" if names else ""))


def flow_positional(name: str, value: Any, option: str) -> FlowDefinitionError:
    """``@schedule('0 6 * * *')`` above a flow class: a flow decorator given a value without
    its option's name, which was dropped (no schedule, no packages) before."""
    return FlowDefinitionError(
        f"@{name}({value!r}): a flow decorator's options are given by name, and {value!r} has "
        "none", fix=f"write @{name}({option}={value!r})")


def _attach(func: Callable[..., Any], instance: StepDecorator) -> Callable[..., Any]:
    existing = getattr(func, DECORATORS_ATTR, None)
    if existing is None:
        existing = []
        setattr(func, DECORATORS_ATTR, existing)
    same = [d for d in existing if d.name == instance.name]
    if same and not instance.allow_multiple:
        raise FlowDefinitionError(
            f"step '{func.__name__}' has @{instance.name} twice; keep one"
        )
    new_id = instance.attributes.get("id")
    if new_id is not None and any(d.attributes.get("id") == new_id for d in same):
        raise FlowDefinitionError(
            f"step '{func.__name__}' has two @{instance.name} with id={new_id!r}",
            fix="give each its own id",
        )
    if same:  # decorators apply bottom-up: keep several of a kind in source order
        existing.insert(existing.index(same[0]), instance)
    else:
        existing.append(instance)
    return func
