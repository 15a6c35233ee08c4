"""What ``@trigger`` and ``@trigger_on_finish`` name: checked when a run starts, evaluated when
the flow is deployed.

Each option takes a fixed value or a *deploy-time function*, called with a ``ParameterContext``
when the flow is deployed (``@trigger(events=names_for_this_team)``), as Metaflow allows:

- ``@trigger(event=...)``: a name, ``{"name": NAME, "parameters": PARAMS}`` (NAME may itself be
  a function), or a function returning either; ``events=`` a list of those, or a function
  returning such a list. PARAMS maps a parameter to the payload field it is read from: a dict
  ``{param: field}``, a list of ``param`` (the field of the same name) and ``(param, field)``
  pairs, or a function returning either.
- ``@trigger_on_finish(flow=...)``: a flow name, ``{"name": FLOW, "project": ...,
  "project_branch": ...}``, or a function returning either; ``flows=`` a list of those, or a
  function returning one.

A shape neither runtime could use is refused before anything runs (:func:`check_options`), so a
flow is not found broken only when it is deployed; the functions' results are checked the same
way when they are called (:func:`resolve_events`, :func:`resolve_upstream`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from headwater.exceptions import FlowDefinitionError

_EVENT_EXAMPLE = ("@trigger(event='data_ready') or @trigger(event={'name': 'data_ready', "
                  "'parameters': {'alpha': 'field_in_payload'}})")
_PARAMS_FIX = ("give a dict {'parameter': 'payload_field'}, or a list of parameter names and "
               "('parameter', 'payload_field') pairs")


def _is_function(value: Any) -> bool:
    return callable(value) and not isinstance(value, type)


def _refuse(flow_name: str, what: str, fix: str) -> FlowDefinitionError:
    return FlowDefinitionError(f"{what} of flow {flow_name} is invalid", fix=fix)


def _one_of(flow_name: str, deco: str, options: Mapping[str, Any], one: str, many: str
            ) -> tuple[str, Any]:
    given = [key for key in (one, many) if options.get(key)]
    if len(given) > 1:
        raise _refuse(flow_name, f"@{deco}", f"give either {one}= or {many}=, not both")
    if not given:
        raise _refuse(flow_name, f"@{deco}", f"name what starts the flow with {one}= or {many}=")
    return given[0], options[given[0]]


def check_options(flow_name: str, deco: str, options: Mapping[str, Any]) -> None:
    """Refuse an ``@trigger`` / ``@trigger_on_finish`` whose fixed parts have no valid shape
    (what deploy-time functions return is checked when they are called)."""
    if deco == "trigger":
        key, value = _one_of(flow_name, deco, options, "event", "events")
        items = [value] if key == "event" else _listed(flow_name, "events", value)
        names = [_event(flow_name, item)["event"] for item in items if not _is_function(item)]
        named = [n for n in names if isinstance(n, str)]
        if len(named) != len(set(named)):
            raise _refuse(flow_name, "@trigger", "name each event once")
    elif deco == "trigger_on_finish":
        key, value = _one_of(flow_name, deco, options, "flow", "flows")
        items = [value] if key == "flow" else _listed(flow_name, "flows", value)
        for item in items:
            if not _is_function(item):
                _upstream(flow_name, item)


def _listed(flow_name: str, key: str, value: Any) -> list[Any]:
    if _is_function(value):
        return [value]  # called at deploy time; must return a list then
    if not isinstance(value, (list, tuple)):
        raise _refuse(flow_name, f"{key}= of @trigger{'_on_finish' if key == 'flows' else ''}",
                      f"give {key}= a list (or a function returning one)")
    return list(value)


def _event(flow_name: str, item: Any) -> dict[str, Any]:
    """One fixed event: ``{"event": name or function, "parameters": dict or function}``."""
    if isinstance(item, str):
        return {"event": item, "parameters": {}}
    if isinstance(item, Mapping):
        if "name" not in item:
            raise _refuse(flow_name, f"the event {dict(item)!r} of @trigger",
                          f"give the event a 'name': {_EVENT_EXAMPLE}")
        name = item["name"]
        if not isinstance(name, str) and not _is_function(name):
            raise _refuse(flow_name, f"the event name {name!r} of @trigger",
                          "give a text (or a function returning one)")
        return {"event": name, "parameters": _parameters(flow_name, name,
                                                          item.get("parameters") or {})}
    raise _refuse(flow_name, f"the event {item!r} of @trigger", f"write {_EVENT_EXAMPLE}")


def _parameters(flow_name: str, event: Any, params: Any) -> dict[str, str] | Callable[..., Any]:
    if _is_function(params):
        return params
    label = event if isinstance(event, str) else getattr(event, "__name__", "?")
    what = f"the parameters of event {label!r} in @trigger"
    found: dict[str, str] = {}
    if isinstance(params, Mapping):
        for key, value in params.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise _refuse(flow_name, what, _PARAMS_FIX + f" (got {key!r}: {value!r})")
            found[key] = value
    elif isinstance(params, (list, tuple)):
        for entry in params:
            if isinstance(entry, str):
                found[entry] = entry
            elif (isinstance(entry, (list, tuple)) and len(entry) == 2
                  and all(isinstance(part, str) for part in entry)):
                found[entry[0]] = entry[1]
            else:
                raise _refuse(flow_name, what, _PARAMS_FIX + f" (got {entry!r})")
    else:
        raise _refuse(flow_name, what, _PARAMS_FIX + f" (got {params!r})")
    return found


def _upstream(flow_name: str, item: Any) -> dict[str, str]:
    if isinstance(item, str):
        return {"name": item}
    if isinstance(item, Mapping) and isinstance(item.get("name"), str):
        extra = {k: v for k, v in item.items() if k in ("project", "project_branch")}
        if all(isinstance(v, str) for v in extra.values()):
            return {"name": item["name"], **extra}
    raise _refuse(flow_name, f"the upstream flow {item!r} of @trigger_on_finish",
                  "give a flow name, or {'name': 'Flow', 'project': ..., 'project_branch': "
                  "...} with text values (a function may return either)")


def _call(flow_name: str, function: Callable[..., Any], context: Any, deco: str) -> Any:
    try:
        return function(context)
    except Exception as err:
        raise FlowDefinitionError(
            f"the deploy-time function {getattr(function, '__name__', function)!r} of @{deco} "
            f"(flow {flow_name}) raised {type(err).__name__}: {err}",
            fix="fix the function; it is called with a ParameterContext when the flow is "
                "deployed") from err


def resolve_events(flow_name: str, options: Mapping[str, Any], context: Any
                   ) -> list[dict[str, Any]]:
    """The events of ``@trigger`` with every deploy-time function called:
    ``[{"event": name, "parameters": {parameter: payload field}}]``."""
    check_options(flow_name, "trigger", options)
    value = options.get("event") or options.get("events")
    items = [value] if options.get("event") else list(value) if not _is_function(value) else [
        value]
    expanded: list[Any] = []
    for item in items:
        if _is_function(item):
            got = _call(flow_name, item, context, "trigger")
            expanded.extend(got if isinstance(got, list) else [got])
        else:
            expanded.append(item)
    out = []
    for item in expanded:
        event = _event(flow_name, item)
        if _is_function(event["event"]):
            name = _call(flow_name, event["event"], context, "trigger")
            if not isinstance(name, str):
                raise _refuse(flow_name, f"the event name {name!r} returned to @trigger",
                              "return a text from the function")
            event["parameters"] = _parameters(flow_name, name, item.get("parameters") or {})
            event["event"] = name
        if _is_function(event["parameters"]):
            got = _call(flow_name, event["parameters"], context, "trigger")
            event["parameters"] = _parameters(flow_name, event["event"], got)
        out.append(event)
    return out


def resolve_upstream(flow_name: str, options: Mapping[str, Any], context: Any
                     ) -> list[dict[str, str]]:
    """The upstream flows of ``@trigger_on_finish``, deploy-time functions called:
    ``[{"name": flow, "project"?: ..., "project_branch"?: ...}]``."""
    check_options(flow_name, "trigger_on_finish", options)
    value = options.get("flow") or options.get("flows")
    items = [value] if options.get("flow") else list(value) if not _is_function(value) else [
        value]
    out = []
    for item in items:
        if _is_function(item):
            got = _call(flow_name, item, context, "trigger_on_finish")
            out.extend(_upstream(flow_name, one) for one in (got if isinstance(got, list)
                                                             else [got]))
        else:
            out.append(_upstream(flow_name, item))
    return out
