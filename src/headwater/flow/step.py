"""The ``@step`` decorator: marks a FlowSpec method as a step of the graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from headwater.exceptions import GraphError

F = TypeVar("F", bound=Callable[..., Any])

STEP_MARK = "_hw_is_step"
DECORATORS_ATTR = "_hw_decorators"  # step decorators applied to this step, outermost last


START_MARK = "_hw_start_step"  # @step(start=True): the flow begins here, whatever its name
END_MARK = "_hw_end_step"  # @step(end=True): the flow finishes here
NODE_INFO_ATTR = "node_info"  # @step(node_info={...}): free-form data tools read from the graph


@overload
def step(func: F, /) -> F: ...


@overload
def step(*, start: bool = False, end: bool = False,
         node_info: dict[str, Any] | None = None) -> Callable[[F], F]: ...


def step(func: F | None = None, /, *, start: bool = False, end: bool = False,
         node_info: dict[str, Any] | None = None, **options: Any) -> Any:
    """Mark ``func`` as a step. Step decorators (``@retry``, ...) may sit above or below it.

    ``@step(start=True)`` / ``@step(end=True)`` make a step the flow's first / last whatever its
    name (Metaflow's API); without them the steps named ``start`` and ``end`` are, and a flow of
    one step needs neither. ``node_info`` is kept on the step's graph node for tools.

    A dunder name (``__init__``, ``__call__``) is refused here, as the class is defined: such a
    step would replace Python's own machinery of the flow before graph validation could run.
    """
    if options:
        # `@step(retries=3)`, Prefect's `@task` options: refuse them on the step's line (Python's
        # TypeError would name neither the step nor where each option goes).
        def refuse(f: F) -> F:
            raise _options_error(f, options)

        return refuse if func is None else refuse(func)
    if func is None:
        return lambda f: _mark(f, start, end, node_info)
    return _mark(func, start, end, node_info)


# An option of another framework's task decorator -> the decorator that does it here.
_OPTION_DECORATORS = {
    **dict.fromkeys(("retries", "retry", "max_retries", "retry_policy"), "@retry(times=3)"),
    **dict.fromkeys(("retry_delay_seconds", "retry_delay"), "@retry(minutes_between_retries=1)"),
    **dict.fromkeys(("timeout", "timeout_seconds", "execution_timeout"), "@timeout(seconds=600)"),
    **dict.fromkeys(("cache", "cache_key_fn", "cache_policy", "cache_expiration",
                     "persist_result", "cache_result_in_memory"), "@cache"),
    **dict.fromkeys(("env", "environment", "env_vars"), "@environment(vars={'NAME': 'value'})"),
    **dict.fromkeys(("resources", "cpu", "memory", "gpu"), "@resources(cpu=2, memory=4000)"),
    **dict.fromkeys(("concurrency", "concurrency_limit", "max_active_tis_per_dag",
                     "max_active_tis_per_dagrun", "task_concurrency", "max_concurrency"),
                    "@concurrency(limit=4)"),
}


def _decorator_for(key: str, value: Any) -> str:
    """The decorator doing what ``key=value`` asked, with the user's own number where one fits
    (``retries=5`` -> ``@retry(times=5)``)."""
    example = _OPTION_DECORATORS[key]
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        if example.startswith("@retry(times="):
            return f"@retry(times={value})"
        if example.startswith("@timeout("):
            return f"@timeout(seconds={value})"
        if example.startswith("@concurrency(") and value >= 1:
            return f"@concurrency(limit={value})"
    return example


def _options_error(func: Any, options: dict[str, Any]) -> GraphError:
    name = getattr(func, "__name__", "?")
    given = ", ".join(f"{key}=" for key in options)
    known = [f"{key}= -> {_decorator_for(key, value)}" for key, value in options.items()
             if key in _OPTION_DECORATORS]
    fix = ("each option of a step is a decorator of its own, stacked above @step: "
           + ("; ".join(known) if known else "@retry, @timeout, @catch, @resources, "
              "@environment, @cache, @card (from headwater import retry, ...)")
           + "; @step itself takes only start=, end= and node_info=")
    refused = "no such option" if len(options) == 1 else "none of these options"
    return GraphError(f"@step({given}) on step {name!r}: @step takes {refused}",
                      step=name, file=getattr(getattr(func, "__code__", None), "co_filename", None),
                      line=_def_line(func), fix=fix)


def _mark(func: F, start: bool, end: bool, node_info: dict[str, Any] | None) -> F:
    name = getattr(func, "__name__", "")
    if name.startswith("__") and name.endswith("__"):
        code = getattr(func, "__code__", None)
        raise GraphError(
            f"step {name!r} has a name the framework owns: a dunder method is Python's, "
            "not a step",
            step=name, file=getattr(code, "co_filename", None), line=_def_line(func),
            fix=f"rename the step, e.g. {name.strip('_')}_step, and the self.next calls that go "
            "to it",
        )
    setattr(func, STEP_MARK, True)
    setattr(func, START_MARK, bool(start))
    setattr(func, END_MARK, bool(end))
    setattr(func, NODE_INFO_ATTR, dict(node_info or {}))
    if not hasattr(func, DECORATORS_ATTR):
        setattr(func, DECORATORS_ATTR, [])
    if getattr(func, "__module__", None) == "__main__":
        # `class MyFlow:` without `(FlowSpec)` makes no flow class to watch: its steps are
        # the only trace of it, checked as the script ends (flow/unstarted.py)
        from headwater.flow import unstarted

        unstarted.watch_step(func)
    return func


def _def_line(func: Any) -> int | None:
    """The line of ``def`` (``co_firstlineno`` is the first decorator's)."""
    import inspect

    try:
        lines, start = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return getattr(getattr(func, "__code__", None), "co_firstlineno", None)
    for offset, text in enumerate(lines):
        if text.lstrip().startswith(("def ", "async def ")):
            return start + offset
    return start


def is_step(obj: object) -> bool:
    """True for a function marked with ``@step``."""
    return callable(obj) and getattr(obj, STEP_MARK, False) is True


def step_members(flow_cls: type) -> list[tuple[str, Any]]:
    """``(name, step function)`` of each step of ``flow_cls`` (base classes included), by name.

    Read from the class dictionaries, as ``getattr`` would find a plain function, so that no
    computed attribute of the flow (``MyFlow._graph`` builds the graph) runs while looking.
    """
    found = []
    for name in dir(flow_cls):
        for klass in flow_cls.__mro__:
            if name in klass.__dict__:
                value = klass.__dict__[name]
                if is_step(value):
                    found.append((name, value))
                break
    return found
