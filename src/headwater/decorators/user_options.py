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


def settle(deco: Any, configs: Mapping[str, Any]) -> None:
    """Evaluate ``deco``'s config expressions with ``configs`` and call its ``init`` (once)."""
    if not pending(deco):
        return
    args = resolve_deferred(tuple(deco._hw_args), configs)
    kwargs: dict[str, Any] = {}
    for key, value in deco._hw_kwargs.items():
        if key.startswith(SPREAD_PREFIX):  # ``**cfg``: the config's keys become options
            spread = resolve_deferred(value, configs)
            kwargs.update(spread.to_dict() if hasattr(spread, "to_dict") else spread)
        else:
            kwargs[key] = resolve_deferred(value, configs)
    setattr(deco, _PENDING_ATTR, False)
    deco._hw_args, deco._hw_kwargs = args, kwargs
    deco.init(*args, **kwargs)
