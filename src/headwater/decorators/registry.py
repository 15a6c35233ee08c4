"""Step decorators by name (for ``--with``), and the policy of a step from its decorators.

Decorator classes register as ``name -> "module:Class"`` and are imported only when used.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping
from typing import Any

from headwater.decorators.base import StepDecorator, StepPolicy
from headwater.exceptions import ConfigError, FlowDefinitionError
from headwater.flow.step import DECORATORS_ATTR

STEP_DECORATORS: dict[str, str] = {
    "retry": "headwater.decorators.retry:RetryDecorator",
    "catch": "headwater.decorators.catch:CatchDecorator",
    "timeout": "headwater.decorators.timeout:TimeoutDecorator",
    "resources": "headwater.decorators.resources:ResourcesDecorator",
    "environment": "headwater.decorators.environment:EnvironmentDecorator",
    "parallel": "headwater.decorators.parallel:ParallelDecorator",
    "secrets": "headwater.decorators.secrets:SecretsDecorator",
    "concurrency": "headwater.decorators.concurrency:ConcurrencyDecorator",
}
# Decorators that let a step not run at all: @cache reuses an earlier task with the same key.
CACHE_DECORATORS: dict[str, str] = {
    "cache": "headwater.decorators.cache:CacheDecorator",
}
# Decorators that add to what a task leaves behind rather than change how it runs.
REPORT_DECORATORS: dict[str, str] = {
    "card": "headwater.decorators.card:CardDecorator",
}

# Declarations of a step's own Python environment (acting with --environment=pypi|conda).
ENVIRONMENT_DECORATORS: dict[str, str] = {
    "pypi": "headwater.environments.decorators:PypiDecorator",
    "conda": "headwater.environments.decorators:CondaDecorator",
}


# Accepted for flows written for Metaflow; they run the step locally (see decorators/fallbacks.py).
FALLBACK_NAMES = ("kubernetes", "batch")


def decorator_class(name: str) -> type[StepDecorator]:
    if name in FALLBACK_NAMES:
        from headwater.decorators.fallbacks import FALLBACK_CLASSES

        return FALLBACK_CLASSES[name]
    target = (STEP_DECORATORS.get(name) or REPORT_DECORATORS.get(name)
              or CACHE_DECORATORS.get(name) or ENVIRONMENT_DECORATORS.get(name))
    if target is None:
        raise FlowDefinitionError(
            f"unknown step decorator {name!r}",
            fix=f"known step decorators: {', '.join(sorted(STEP_DECORATORS))}, and "
            f"{', '.join(sorted(REPORT_DECORATORS))}; "
            f"caching: {', '.join(sorted(CACHE_DECORATORS))}; "
            f"environments: {', '.join(sorted(ENVIRONMENT_DECORATORS))}",
        )
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def split_with(flow_cls: type, specs: tuple[str, ...] | list[str]) -> list[StepDecorator]:
    """The built-in decorators of ``--with`` specs, parsed; the others name user step decorators
    or step mutators (``--with myprofiler.my_profile``), which are put on every step of
    ``flow_cls`` here, before its mutators run."""
    builtin, user = [], []
    for spec in specs:
        (builtin if _is_builtin(spec) else user).append(spec)
    if user:
        from headwater.decorators.with_user import attach_with_specs

        attach_with_specs(flow_cls, tuple(user))
    return [parse_with(spec) for spec in builtin]


def user_specs(specs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The ``--with`` specs that name user step decorators or step mutators."""
    return tuple(spec for spec in specs if not _is_builtin(spec))


def _is_builtin(spec: str) -> bool:
    name = spec.partition(":")[0].strip()
    if name in FALLBACK_NAMES:
        return True
    return any(name in table for table in (STEP_DECORATORS, REPORT_DECORATORS, CACHE_DECORATORS,
                                           ENVIRONMENT_DECORATORS)) or "." not in name and (
        not _user_named(name))


def _user_named(name: str) -> bool:
    """Whether a user decorator the flow imported is called ``name`` (``--with my_profile``)."""
    from headwater.decorators.named import find

    try:
        return find(name) is not None
    except FlowDefinitionError:
        return True  # ambiguous: with_user says so, naming both


# A comma separates options only where the next option's ``NAME=`` follows (Metaflow's rule), so a
# JSON value keeps its own commas: ``environment:vars={"A": "1", "B": "2"},other=1``.
_OPTION_COMMA = re.compile(r",(?=\s*\w+\s*=)")


def parse_with(spec: str) -> StepDecorator:
    """``retry`` or ``retry:times=3,minutes_between_retries=0`` -> a decorator instance."""
    name, _, rest = spec.partition(":")
    # A @secrets spec may hold inline secret values: its errors name the option, never the text.
    shown, hidden = (f"{name}:...", True) if name.strip() == "secrets" and rest else (spec, False)
    options: dict[str, Any] = {}
    for item in filter(None, _OPTION_COMMA.split(rest)):
        key, sep, raw = item.partition("=")
        if not sep:
            raise FlowDefinitionError(
                f"--with {shown}: expected OPTION=VALUE, got "
                f"{'a part without =' if hidden else repr(item)}",
                fix=f"e.g. --with {name}:option=value",
            )
        options[key.strip()] = _parse_value(raw.strip())
    try:
        return decorator_class(name.strip())(**options)
    except FlowDefinitionError as err:
        raise FlowDefinitionError(f"--with {shown}: {err.msg}", fix=err.fix) from None


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def step_decorators(func: Any, extra: list[StepDecorator] = ()) -> list[StepDecorator]:
    """The step's own decorators plus ``--with`` ones it does not already have (nor one they
    exclude: ``--with pypi`` leaves a @conda step alone)."""
    own: list[StepDecorator] = list(getattr(func, DECORATORS_ATTR, []) or [])
    names = {d.name for d in own}
    return own + [d for d in extra if d.name not in names and not names & set(d.excludes)]


def plugins_step_init(flow_cls: type, step_names: list[str]) -> None:
    """``step_init`` of the steps' Metaflow-style plug-in decorators, at launch, before the
    policies are read, as Metaflow calls it (a plug-in may add decorators there); a flow
    without any (the usual one) imports nothing of them, as in the task."""
    if any(getattr(deco, "_hw_task_hooks", False) for name in step_names
           for deco in getattr(getattr(flow_cls, name, None), DECORATORS_ATTR, None) or ()):
        from headwater.decorators.lifecycle import step_init_at_launch

        step_init_at_launch(flow_cls, step_names)


def step_policy(func: Any, extra: list[StepDecorator] = (),
                configs: Mapping[str, Any] | None = None) -> StepPolicy:
    """The policy of one step; ``configs`` (name -> value) evaluates config_expr options."""
    policy = StepPolicy()
    for deco in step_decorators(func, extra):
        try:
            resolved = deco.resolved(configs or {})
        except ConfigError as err:  # say which decorator of which step read the config
            step = getattr(func, "__name__", "?")
            raise ConfigError(f"@{deco.name} of step '{step}': {err.msg}", fix=err.fix) from None
        except FlowDefinitionError as err:  # a config's value the decorator refuses: which step
            step = getattr(func, "__name__", "?")
            raise FlowDefinitionError(f"step '{step}': {err.msg}", fix=err.fix) from None
        resolved.apply(policy)
    return policy
