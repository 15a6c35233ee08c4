"""The flow file NBRunner writes for a flow class defined in a notebook.

A notebook class has no file to run, but its source is known: IPython registers each cell with
``linecache``, so ``inspect.getsource`` finds functions, and a class is found through the cell its
methods were compiled from. The script written here contains:

* the class's source, and the source of every function or class of the notebook it names
  (its base classes, helper functions), recursively, dependencies first;
* an import line for every module or importable object it names (``np``, ``FlowSpec``, ``step``);
* an assignment for every plain literal it names (``SCALE = 10``);
* ``if __name__ == '__main__': TheFlow()``.

Anything else a step names at module level (a DataFrame built in an earlier cell, an open
connection) cannot be carried to another process: it is listed in a comment at the top of the
script, and the step fails with a NameError naming it. A flow imported from a module is simply
imported from it.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import sys
import textwrap
from typing import Any

from headwater.exceptions import HeadwaterException

_MAX_LITERAL = 100_000  # characters: a bigger literal belongs in a file or a Parameter


class NotebookSourceError(HeadwaterException):
    """The source of a notebook flow class cannot be found."""

    headline = "Cannot run this flow from the notebook"


def flow_script(flow_cls: type) -> str:
    """A runnable flow file for ``flow_cls`` (see the module docstring)."""
    module = sys.modules.get(flow_cls.__module__)
    name = flow_cls.__name__
    main = f'\n\nif __name__ == "__main__":\n    {name}()\n'
    if module is not None and flow_cls.__module__ != "__main__" and getattr(module, "__file__", None):
        return f"from {flow_cls.__module__} import {name}{main}"
    writer = _ScriptWriter(vars(module) if module is not None else {}, flow_cls.__module__)
    writer.add_definition(name, flow_cls)
    return writer.render() + main


class _ScriptWriter:
    def __init__(self, namespace: dict[str, Any], module_name: str) -> None:
        self.namespace = namespace
        self.module_name = module_name
        self.imports: dict[str, None] = {}
        self.constants: list[str] = []
        self.definitions: list[str] = []
        self.skipped: dict[str, str] = {}
        self.seen: set[str] = set()

    def add_definition(self, name: str, obj: Any) -> None:
        self.seen.add(name)
        source = textwrap.dedent(definition_source(obj))
        for ref in _referenced_names(ast.parse(source)):
            self.add_name(ref)
        self.definitions.append(source.rstrip() + "\n")

    def add_name(self, name: str) -> None:
        if name in self.seen or name not in self.namespace:
            return  # a builtin, a local variable, or already handled
        self.seen.add(name)
        value = self.namespace[name]
        line = import_line(name, value, self.module_name)
        if line is not None:
            self.imports[line] = None
        elif _defined_here(value, self.module_name):
            self.add_definition(name, value)
        elif (literal := _literal(value)) is not None:
            self.constants.append(f"{name} = {literal}")
        else:
            self.skipped[name] = type(value).__name__

    def render(self) -> str:
        header = ["# Written by headwater's NBRunner from notebook cells; changes here are lost."]
        if self.skipped:
            listed = ", ".join(f"{n} ({t})" for n, t in sorted(self.skipped.items()))
            header.append(f"# Not carried over (not importable, not a literal): {listed}")
        parts = ["\n".join(header), "\n".join(self.imports), "\n".join(self.constants),
                 "\n\n".join(self.definitions)]
        return "\n\n".join(part for part in parts if part)


def import_line(name: str, value: Any, own_module: str) -> str | None:
    """``import x as name`` / ``from m import a as name`` that rebinds ``value``, if one exists."""
    if inspect.ismodule(value):
        target = value.__name__
        return f"import {target}" if target == name else f"import {target} as {name}"
    headwater = sys.modules.get("headwater")
    if headwater is not None and name in getattr(headwater, "__all__", ()):
        if getattr(headwater, name) is value:
            return f"from headwater import {name}"
    module_name = getattr(value, "__module__", None)
    if not isinstance(module_name, str) or module_name in (own_module, "__main__"):
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    for attr in (getattr(value, "__qualname__", None), getattr(value, "__name__", None), name):
        if isinstance(attr, str) and attr.isidentifier() and getattr(module, attr, None) is value:
            return f"from {module_name} import {attr}" + ("" if attr == name else f" as {name}")
    return None


def definition_source(obj: Any) -> str:
    """Source of a function or class, including for a class defined in a notebook cell."""
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        if not isinstance(obj, type):
            raise NotebookSourceError(f"the source of {obj!r} cannot be found") from None
    return _class_source_from_cell(obj)


def _class_source_from_cell(cls: type) -> str:
    """Find ``class cls`` in the cell (linecache entry) one of its methods was compiled from.

    ``inspect.getsource`` of a class needs its module's file, which a notebook's ``__main__``
    lacks; the methods' code objects still name the cell.
    """
    for value in vars(cls).values():
        func = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
        code = getattr(inspect.unwrap(func), "__code__", None) if callable(func) else None
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        try:
            tree = ast.parse("".join(lines))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.ClassDef) and node.name == cls.__name__
                    and node.lineno <= code.co_firstlineno <= (node.end_lineno or 0)):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return "".join(lines[start - 1:node.end_lineno])
    raise NotebookSourceError(
        f"the source of class {cls.__name__} cannot be found",
        fix="define the flow in a notebook cell (or a .py file) and pass the class itself",
    )


def _referenced_names(tree: ast.AST) -> list[str]:
    names = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)]
    return list(dict.fromkeys(names))


def _defined_here(value: Any, module_name: str) -> bool:
    return (inspect.isfunction(value) or inspect.isclass(value)) and \
        getattr(value, "__module__", None) == module_name


def _literal(value: Any) -> str | None:
    """``repr(value)`` if it reads back as an equal value of the same type, else None."""
    if not isinstance(value, (str, bytes, int, float, complex, bool, type(None), tuple, list,
                              dict, set, frozenset)):
        return None
    try:
        text = repr(value)
        if len(text) > _MAX_LITERAL:
            return None
        back = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
        return None
    return text if type(back) is type(value) and back == value else None
