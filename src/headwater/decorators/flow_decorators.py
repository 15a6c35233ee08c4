"""Built-in flow-level decorators as a flow mutator reads, adds and removes them.

Each built-in flow decorator records itself on the flow class in its own way (``@project`` its
name, ``@schedule``/``@trigger``/``@trigger_on_finish`` their options, ``@exit_hook`` its hooks,
``@pypi_base``/``@conda_base`` the flow-wide environment's declaration);
this module is the one place that knows those records, so :class:`MutableFlow` can offer them
as Metaflow's ``(name, full name, args, kwargs)`` specs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from headwater.exceptions import HeadwaterException

# name -> the module and function of the decorator
_DECORATORS = {
    "project": "headwater.decorators.project:project",
    "schedule": "headwater.decorators.deployment:schedule",
    "trigger": "headwater.decorators.deployment:trigger",
    "trigger_on_finish": "headwater.decorators.deployment:trigger_on_finish",
    "exit_hook": "headwater.decorators.exit_hook:exit_hook",
    "pypi_base": "headwater.environments.decorators:pypi_base",
    "conda_base": "headwater.environments.decorators:conda_base",
}
_BASES = ("pypi_base", "conda_base")  # one flow-wide environment: either, not both
_PROJECT_ATTR = "_hw_project"
_PROJECT_OPTIONS_ATTR = "_hw_project_options"
_DEPLOYMENT_ATTR = "_hw_flow_decorators"
_HOOKS_ATTR = "_hw_exit_hooks"
# environments.decorators.BASE_ATTR, named here rather than imported: environments build on
# decorators, not the other way round (the decorator itself is loaded by name, as the others).
_BASE_ATTR = "_hw_env_base"
_IGNORE, _ERROR, _OVERRIDE = 1, 2, 3


def flow_decorator_specs(flow_cls: type) -> Iterator[tuple[str, str, list[Any], dict[str, Any]]]:
    """``(name, full name, [], options)`` of each built-in flow decorator on ``flow_cls``."""
    for name, options in _present(flow_cls):
        yield name, _DECORATORS[name].replace(":", "."), [], options


def _present(flow_cls: type) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    project = getattr(flow_cls, _PROJECT_ATTR, None)
    if project is not None:
        found.append(("project", {"name": project,
                                  **(getattr(flow_cls, _PROJECT_OPTIONS_ATTR, None) or {})}))
    for name, record in (getattr(flow_cls, _DEPLOYMENT_ATTR, None) or {}).items():
        found.append((name, dict(record.get("options") or {})))
    for hooks in getattr(flow_cls, _HOOKS_ATTR, None) or ():
        found.append(("exit_hook", _present_hook(hooks)))
    base = _present_base(flow_cls)
    if base is not None:
        found.append(base)
    return found


def _present_base(flow_cls: type) -> tuple[str, dict[str, Any]] | None:
    """``@pypi_base``/``@conda_base`` with the options it was given (as declared: a declaration
    whose options come from configs not read yet shows those it wrote out)."""
    declared = getattr(flow_cls, _BASE_ATTR, None)
    if declared is None:
        return None
    if not isinstance(declared, dict):  # a DeferredBase: options from configs
        if declared.value is None:
            return declared.name, dict(declared.options)
        declared = declared.value
    options: dict[str, Any] = {"packages": dict(declared["packages"]),
                               "python": declared["python"], "disabled": declared["disabled"]}
    if declared["kind"] == "conda":
        options["channels"] = list(declared["channels"])
    return f"{declared['kind']}_base", options


def _decorator(deco_type: Any) -> tuple[str, Any]:
    """(name, decorator function) for a name or one of the decorator functions."""
    for name, target in _DECORATORS.items():
        module, _, attr = target.partition(":")
        function = getattr(importlib.import_module(module), attr)
        if deco_type in (name, function):
            return name, function
    known = ", ".join(sorted(_DECORATORS))
    raise HeadwaterException(f"add_decorator({deco_type!r}): not a flow decorator headwater "
                             "knows", fix=f"flow decorators: {known}; or a FlowMutator")


def add_flow_decorator(flow_cls: type, deco_type: Any, options: dict[str, Any],
                       duplicates: int, *, refuse: bool) -> Any:
    """Apply the flow decorator ``deco_type`` with ``options`` to ``flow_cls``; returns its name,
    or None when the flow has one already and ``duplicates`` keeps it (``refuse``: ERROR
    raises, as for a mutator written in the code)."""
    name, function = _decorator(deco_type)
    if name in _BASES:
        other = next((present for present, _ in _present(flow_cls)
                      if present in _BASES and present != name), None)
        if other is not None:
            raise HeadwaterException(
                f"flow {flow_cls.__name__} has @{other}: it cannot have @{name} as well",
                fix=f"remove_decorator('{other}') first, then add @{name}")
    if name != "exit_hook" and any(present == name for present, _ in _present(flow_cls)):
        if duplicates == _IGNORE or (duplicates == _ERROR and not refuse):
            return None
        if duplicates == _ERROR:
            raise HeadwaterException(f"flow {flow_cls.__name__} already has @{name}",
                                     fix="pass duplicates=OVERRIDE or IGNORE to add_decorator")
        remove_flow_decorator(flow_cls, name, None)
    function(**options)(flow_cls)
    return name


def remove_flow_decorator(flow_cls: type, name: str, options: dict[str, Any] | None) -> bool:
    """Remove the flow decorators called ``name`` (only those with exactly ``options``, when
    given); True when one was there."""
    if not any(present == name and (options is None or got == options)
               for present, got in _present(flow_cls)):
        return False
    if name == "project":
        setattr(flow_cls, _PROJECT_ATTR, None)
        setattr(flow_cls, _PROJECT_OPTIONS_ATTR, None)
    elif name in _BASES:
        setattr(flow_cls, _BASE_ATTR, None)
    elif name == "exit_hook":
        hooks = [h for h in getattr(flow_cls, _HOOKS_ATTR, None) or () if options is not None
                 and _present_hook(h) != options]
        setattr(flow_cls, _HOOKS_ATTR, hooks)
    else:
        records = dict(getattr(flow_cls, _DEPLOYMENT_ATTR, None) or {})
        records.pop(name, None)
        setattr(flow_cls, _DEPLOYMENT_ATTR, records)
    return True


def _present_hook(hooks: dict[str, Any]) -> dict[str, Any]:
    return {"on_success": list(hooks["on_success"]), "on_error": list(hooks["on_error"]),
            "options": dict(hooks["options"])}
