"""A hash of the code a flow really runs, for @cache keys when that code has no file to read.

A flow in a ``.py`` file is keyed on the file's bytes (:mod:`headwater.runtime.step_cache`). A flow
whose steps were compiled from a string (``exec`` of generated code, a tool that registers its
text with ``linecache`` as IPython does) has no such file: the text may be gone, partial or stale.
The code objects are what the tasks will run, so they are hashed instead: bytecode, constants,
names and argument layout, recursively through nested functions, lambdas and comprehensions;
never what only moves when lines move (file name, line numbers, position tables), so the same
code keys the same wherever it was compiled.

Beside each function's code, the values it reaches by name in its module's globals are hashed
too: functions and classes compiled without a file (followed the same way), and plain constants
(``FACTOR = 2``). Modules, and functions and classes from real files, are named only: they are
"modules imported from other files", which the key does not see (docs/datastore.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from types import CodeType, FunctionType
from typing import Any

_PLAIN = (int, float, complex, str, bytes, bool, type(None), type(Ellipsis))

# The headwater and metaflow classes a flow inherits from: the same for every flow of this
# version (which the key holds), so they are not walked.
_LIBRARY_ROOTS = ("headwater", "metaflow")


def has_file(code: CodeType) -> bool:
    """Whether ``code`` was compiled from a file that is still there to read."""
    return os.path.isfile(code.co_filename)


def flow_code_parts(flow_cls: type) -> list[str]:
    """What the flow's own classes define, as hashable text: one entry per member, by class and
    name (methods by their code, plain class constants by value), then the globals they name."""
    walk = _Walk()
    for cls in flow_cls.__mro__:
        if cls is object or (cls.__module__ or "").split(".")[0] in _LIBRARY_ROOTS:
            continue
        walk.add_class(cls)
    return walk.finish()


def function_parts(func: Callable[..., Any]) -> list[str]:
    """One function's code and the globals it names, as :func:`flow_code_parts` gives them."""
    walk = _Walk()
    walk.add_value("function", func)
    return walk.finish()


class _Walk:
    """Collects the parts; each function and class is walked once (the graph may have cycles)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._seen: set[int] = set()
        self._globals: list[tuple[Mapping[str, Any], CodeType]] = []

    def finish(self) -> list[str]:
        # Globals are looked up after the members, by name, until nothing new is reached.
        done: set[tuple[int, str]] = set()
        while self._globals:
            namespace, code = self._globals.pop(0)
            for name in sorted(_names(code)):
                if name in namespace and (id(namespace), name) not in done:
                    done.add((id(namespace), name))
                    self.add_value(f"global {name}", namespace[name])
        return self.parts

    def add_class(self, cls: type) -> None:
        if id(cls) in self._seen:
            return
        self._seen.add(id(cls))
        self.parts.append(f"class {cls.__qualname__}")
        for name in sorted(vars(cls)):
            # Dunders are Python's (``__firstlineno__`` moves with the lines), ``_hw_*`` is
            # headwater's bookkeeping; ``__init__`` and ``__call__`` are the user's code.
            if name.startswith("_hw_"):
                continue
            if not name.startswith("__") or name in ("__init__", "__call__"):
                self.add_value(f"{cls.__qualname__}.{name}", vars(cls)[name])

    def add_value(self, label: str, value: Any) -> None:
        value = _function_of(value)
        if isinstance(value, FunctionType):
            self._add_function(label, value)
        elif isinstance(value, type):
            if _fileless_class(value):
                self.add_class(value)
            else:
                self.parts.append(f"{label}: class {value.__module__}.{value.__qualname__}")
        elif _is_plain(value):
            self.parts.append(f"{label} = {constant_text(value)}")
        else:  # an instance (a Parameter, a module, a decorator object): its kind only
            self.parts.append(f"{label}: {type(value).__module__}.{type(value).__qualname__}")

    def _add_function(self, label: str, func: FunctionType) -> None:
        code = func.__code__
        module = func.__module__ or ""  # None for code exec'd without a __name__
        if has_file(code) and module.split(".")[0] in _LIBRARY_ROOTS + ("builtins",):
            self.parts.append(f"{label}: {func.__module__}.{func.__qualname__}")
            return
        if id(func) in self._seen:
            self.parts.append(f"{label}: see {func.__qualname__}")
            return
        self._seen.add(id(func))
        if has_file(code) and label.startswith("global "):
            # A helper from another real file: named, not followed (as an imported module is).
            self.parts.append(f"{label}: {func.__module__}.{func.__qualname__}")
            return
        defaults = (func.__defaults__, sorted((func.__kwdefaults__ or {}).items()))
        self.parts.append(f"{label}: {code_text(code)} defaults {constant_text(defaults)}")
        self._globals.append((func.__globals__, code))


def code_text(code: CodeType) -> str:
    """``code`` as text that changes whenever what it does changes (see the module docstring)."""
    consts = ", ".join(code_text(c) if isinstance(c, CodeType) else constant_text(c)
                       for c in code.co_consts)
    fields = (
        code.co_name, code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
        code.co_flags, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
        code.co_code.hex(), getattr(code, "co_exceptiontable", b"").hex(),
    )
    return f"code{fields!r}[{consts}]"


def constant_text(value: Any) -> str:
    """A constant as stable text: reprs of plain values, containers element by element (a
    frozenset sorted, its order varying with string hashing), other objects by type only (their
    repr may hold a memory address)."""
    if isinstance(value, CodeType):
        return code_text(value)
    if isinstance(value, tuple | list):
        inner = ", ".join(constant_text(v) for v in value)
        return f"{type(value).__name__}({inner})"
    if isinstance(value, frozenset | set):
        return f"{type(value).__name__}({', '.join(sorted(constant_text(v) for v in value))})"
    if isinstance(value, dict):
        items = sorted(f"{constant_text(k)}: {constant_text(v)}" for k, v in value.items())
        return "dict(" + ", ".join(items) + ")"
    if isinstance(value, _PLAIN):
        return f"{type(value).__name__}:{value!r}"
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _is_plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, tuple | list | frozenset | set):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


def _function_of(value: Any) -> Any:
    """The function behind a method wrapper or a decorated step (``__wrapped__``)."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    for _ in range(100):  # a __wrapped__ chain, as inspect.unwrap follows it (without inspect)
        inner = getattr(value, "__wrapped__", None) if callable(value) else None
        if inner is None or inner is value:
            break
        value = inner
    return value


def _fileless_class(cls: type) -> bool:
    """A user class whose methods were compiled without a file (its members then need walking)."""
    codes = [f.__code__ for f in map(_function_of, vars(cls).values())
             if isinstance(f, FunctionType)]
    return bool(codes) and not any(has_file(code) for code in codes)


def _names(code: CodeType) -> Iterator[str]:
    """Every global or attribute name ``code`` and the code nested in it refer to."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _names(const)
