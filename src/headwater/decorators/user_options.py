"""Options of user decorators and mutators that read a config: ``init`` waits for the configs.

``@with_args(foo=cfg.bar)`` or ``@AddArgs(bar=cfg.bar)`` is written in the class body, where a
config is still an expression (a :class:`~headwater.flow.config.ConfigExpr`). As with Metaflow,
such a decorator's ``init`` is not called then but once the run's configs are known
(:func:`settle`, from :mod:`.mutation`), with every expression replaced by its value, so
``init``, ``pre_step`` and ``decorator_specs`` all see ``43``, never the expression. Options
without a config expression are taken at once, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.exceptions import ConfigError, HeadwaterException
from headwater.flow.config import SPREAD_PREFIX, is_deferred, resolve_deferred

_PENDING_ATTR = "_hw_options_pending"


def take(deco: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Keep ``deco``'s options and call its ``init`` now, or later when one reads a config."""
    deco._hw_args, deco._hw_kwargs = args, dict(kwargs)  # for decorator_specs
    if is_deferred(args) or is_deferred(kwargs):
        setattr(deco, _PENDING_ATTR, True)
        return
    deco.init(*args, **kwargs)


def pending(deco: Any) -> bool:
    """Whether ``deco``'s ``init`` still waits for the configs."""
    return bool(getattr(deco, _PENDING_ATTR, False))


def settle(deco: Any, configs: Mapping[str, Any], where: str = "") -> None:
    """Evaluate ``deco``'s config expressions with ``configs`` and call its ``init`` (once).

    ``where`` (``"on step 'start'"``) names the decorator's place in errors: a config value is
    the user's input, so whatever ``init`` makes of it is reported naming the decorator, the
    step and the options it was given, never as a traceback through headwater."""
    if not pending(deco):
        return
    name = f"@{type(deco).__name__}{' ' + where if where else ''}"
    args = resolve_deferred(tuple(deco._hw_args), configs)
    kwargs: dict[str, Any] = {}
    for key, value in deco._hw_kwargs.items():
        if key.startswith(SPREAD_PREFIX):  # ``**cfg``: the config's keys become options
            kwargs.update(_spread_options(name, resolve_deferred(value, configs)))
        else:
            kwargs[key] = resolve_deferred(value, configs)
    setattr(deco, _PENDING_ATTR, False)
    deco._hw_args, deco._hw_kwargs = args, kwargs
    try:
        deco.init(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - the user's init refusing the user's config
        if isinstance(err, HeadwaterException) and name in str(err):
            raise
        raise ConfigError(
            f"{name} could not take the options its configs gave it ({_shown(args, kwargs)}): "
            f"{type(err).__name__}: {_short(str(err), 500)}",
            fix=f"change the config value (--config / --config-value) or what "
                f"{type(deco).__name__}.init accepts") from None


def _spread_options(name: str, value: Any) -> dict[str, Any]:
    """The options ``**config_part`` gives: its keys, each an option name."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{name} spreads a config part (**...) that is a {type(value).__name__}, not an "
            "object of option names and values",
            fix='make that part of the config an object, e.g. {"factor": 3}, or pass the '
                "option by name (factor=cfg.factor)")
    bad = [key for key in value if not isinstance(key, str)]
    if bad:
        raise ConfigError(
            f"{name} spreads a config part (**...) whose key {_short(repr(bad[0]), 100)} is not "
            "an option name",
            fix="each key of that part of the config must be text: the name of an option the "
                "decorator's init takes")
    return dict(value)


def _shown(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The options, each shortened: a config value may be huge or deeply nested."""
    import reprlib  # only on this error path

    short = reprlib.Repr()
    short.maxstring, short.maxother, short.maxlevel = 60, 60, 2
    parts = [short.repr(a) for a in args[:5]] + [
        f"{k}={short.repr(v)}" for k, v in list(kwargs.items())[:10]]
    more = len(args) - 5 if len(args) > 5 else 0
    more += len(kwargs) - 10 if len(kwargs) > 10 else 0
    return ", ".join(parts) + (f", ... ({more} more)" if more else "")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
