"""Turning launch-time parameter values into the run's read-only parameter artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.exceptions import ParameterError
from headwater.flow.config import ConfigExpr
from headwater.flow.parameters import flow_parameters
from headwater.records import Manifest
from headwater.spelling import closest


class ParameterNotGivenError(ParameterError):
    """A required parameter has no value, or a value names no parameter: what Metaflow's Runner
    refuses with a ValueError (a value of the wrong form stays a plain ParameterError)."""


def resolve_parameters(flow_cls: type, given: Mapping[str, Any], user: str,
                       configs: Mapping[str, Any] | None = None,
                       skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Values for every parameter, attribute name -> value.

    ``given`` maps parameter *names* to raw values (strings from the command line, or Python values
    from the API). Missing ones fall back to the environment (METAFLOW_RUN_X), then the default.
    ``configs`` (the flow's config scope) evaluates a ``config_expr`` default. The parameters whose
    attribute names are in ``skip`` are left out (a deployed run has their values already).
    """
    flow_name = flow_cls.__name__
    values: dict[str, Any] = {}
    known = {p.name for p in flow_parameters(flow_cls).values()}
    unknown = sorted(set(given) - known)
    if unknown:
        close = [match for name in unknown if (match := closest(name, sorted(known)))]
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ParameterNotGivenError(
            f"flow {flow_name} has no parameter {', '.join(map(repr, unknown))}{hint}",
            fix=f"known parameters: {', '.join(sorted(known)) or 'none'}",
        )
    for attr, param in flow_parameters(flow_cls).items():
        if attr in skip:
            continue
        deferred = isinstance(param.default, ConfigExpr)
        # A config_expr default is evaluated first: its value also gives the parameter its type.
        default = param.resolve_default(flow_name, user, configs) if deferred else None
        raw = given.get(param.name)
        if raw == () and param.multiple:  # a repeatable option given no time
            raw = None
        if raw is None:
            raw = param.env_default()
            if raw is not None and param.multiple:  # as click reads such a variable
                raw = tuple(raw.split())
        if raw is None:
            if not deferred:
                default = param.resolve_default(flow_name, user, configs)
            if default is None and param.required:
                raise ParameterNotGivenError(
                    f"flow {flow_name} needs a value for the required parameter '{param.name}'",
                    fix=f"pass --{param.name} VALUE",
                )
            raw = default
            if raw is not None and param.is_include_file:  # looked for beside the flow too
                values[attr] = param.convert_default(raw, flow_cls)
                continue
        if raw is None:
            values[attr] = () if param.multiple else None
        else:
            values[attr] = param.convert(raw)
    return values


def store_parameters(values: Mapping[str, Any], store: Any, where: str) -> Manifest:
    """Save each parameter value as a blob; the manifest is shared by every task of the run."""
    return {name: store.save_artifact(v, name=name, where=where) for name, v in values.items()}


def one_value_for_a_list(param: Any, value: Any) -> tuple[str, str] | None:
    """``(message, fix)`` when a foreach iterates over ``param`` and its ``value`` is one
    number (``--lrs 0.1`` for a sweep), else None. A step cannot set a parameter, so the store's
    own "convert it first" would not help. Anything a foreach takes (a sequence, a set, ...)
    passes, and what the store refuses of another collection it names itself."""
    if value is None or hasattr(value, "__iter__") or hasattr(value, "__getitem__"):
        return None
    from headwater.flow.parameters import JSONTypeClass

    option = f"--{param.name}"
    if isinstance(param.type, JSONTypeClass):
        fix = f"pass a JSON list: {option} '[{value!r}]'"
    else:
        fix = (f"declare it Parameter({param.name!r}, type=JSONType, default='[...]') and pass "
               f"{option} '[{value!r}, ...]', or Parameter(..., separator=',') and pass "
               f"{option} {value!r},...")
    return (f"a foreach iterates over the parameter '{param.name}', whose value {value!r} is "
            f"one {type(value).__name__}, not a list", fix)


def check_swept_parameters(flow_cls: type, graph: Any, values: Mapping[str, Any]) -> None:
    """Before a run is recorded: each foreach over a parameter has a list to iterate over
    (:func:`one_value_for_a_list`), so a mistyped sweep is a launch error, not a failed run
    whose resume would keep the same value."""
    params = flow_parameters(flow_cls)
    for node in graph:
        var = getattr(node, "foreach_var", None)
        if var and var in params and var in values:
            problem = one_value_for_a_list(params[var], values[var])
            if problem is not None:
                raise ParameterError(f"flow {flow_cls.__name__}, step '{node.name}': "
                                     f"{problem[0]}", fix=problem[1])
