"""``@exit_hook(on_success=[...], on_error=[...])``: functions run once a run has ended.

As with Metaflow, the hooks run after the run (or resume) ends, whatever its outcome: the
``on_success`` functions when the end step succeeded, the ``on_error`` ones otherwise. Each runs
in a process of its own (``python -m headwater.cli.exit_hook_cmd``), so a hook that crashes or
hangs the interpreter cannot change the run's outcome: its failure is printed and the next hook
runs. A function with a ``run`` parameter (or ``**kwargs``) gets the client :class:`Run`.

A hook is a function of the flow file (given as the function or its name) or an importable
``"package.module.function"``. The decorator may be applied several times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from headwater.exceptions import FlowDefinitionError

HOOKS_ATTR = "_hw_exit_hooks"
"""On the flow class: ``[{"on_success": [name, ...], "on_error": [name, ...]}, ...]``."""


def _names(kind: str, hooks: Iterable[Any], flow_module: str) -> list[str]:
    if isinstance(hooks, (str, bytes)) or callable(hooks):
        hooks = [hooks]
    names = []
    for hook in hooks:
        if isinstance(hook, str) and hook:
            names.append(hook)
        elif callable(hook) and hasattr(hook, "__name__"):
            module = getattr(hook, "__module__", None)
            local = module in (None, "__main__", flow_module)
            names.append(hook.__name__ if local else f"{module}.{hook.__name__}")
        else:
            raise FlowDefinitionError(
                f"@exit_hook({kind}=...): {hook!r} is neither a function nor a function's name",
                fix=f"pass functions (or their names): @exit_hook({kind}=[notify])")
    return names


C = TypeVar("C", bound=type)


@overload
def exit_hook(cls: C, /) -> C: ...


@overload
def exit_hook(*, on_success: Iterable[Any] = (), on_error: Iterable[Any] = (),
              options: dict[str, Any] | None = None) -> Callable[[C], C]: ...


def exit_hook(cls: Any = None, *, on_success: Iterable[Any] = (), on_error: Iterable[Any] = (),
              options: dict[str, Any] | None = None) -> Any:
    """Record the hooks on the flow class; the launcher runs them when the run has ended."""

    def attach(flow_cls: type) -> type:
        success = _names("on_success", on_success, flow_cls.__module__)
        error = _names("on_error", on_error, flow_cls.__module__)
        if not success and not error:
            raise FlowDefinitionError(
                f"@exit_hook on {flow_cls.__name__} names no function",
                fix="give on_success=[...] and/or on_error=[...]")
        declared = list(getattr(flow_cls, HOOKS_ATTR, []))
        declared.append({"on_success": success, "on_error": error, "options": options or {}})
        setattr(flow_cls, HOOKS_ATTR, declared)
        return flow_cls

    if isinstance(cls, type):
        return attach(cls)
    return attach


def hooks_to_run(flow_cls: type, succeeded: bool) -> list[str]:
    """The names of the hooks the outcome calls for, in the order declared."""
    key = "on_success" if succeeded else "on_error"
    return [name for declared in getattr(flow_cls, HOOKS_ATTR, []) for name in declared[key]]

