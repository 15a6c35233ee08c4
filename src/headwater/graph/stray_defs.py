"""Steps written at the wrong indentation: found in the flow file when the graph misses a step.

A step indented one level too far becomes a function nested inside the step above it; one
indented too little leaves the class (with every step after it). Python accepts both, so the
graph only sees a step missing. These helpers look for a ``def`` of that name elsewhere in the
file and say where it is, so the error names the indentation rather than a missing step.
"""

from __future__ import annotations

import ast


def stray_step_def(file: str | None, flow_name: str, name: str) -> str | None:
    """Where ``def name`` sits in ``file`` outside the class ``flow_name``'s own body, in
    words (``"line 16, inside step 'work'"``), or None when there is no such def (or the file
    cannot be read: the caller's message stands alone then)."""
    if not file:
        return None
    try:
        with open(file, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=file)
    except (OSError, SyntaxError, ValueError):
        return None
    return _find(tree, flow_name, name, outer=None, in_flow=False)


def _find(node: ast.AST, flow_name: str, name: str, *, outer: ast.AST | None,
          in_flow: bool) -> str | None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name == name \
                and _is_step(child) and _lost(outer, flow_name, in_flow):
            return _where(child, outer, flow_name, in_flow)
        found = _find(child, flow_name, name,
                      outer=child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                        ast.ClassDef)) else outer,
                      in_flow=in_flow or (isinstance(child, ast.ClassDef)
                                          and child.name == flow_name))
        if found is not None:
            return found
    return None


def _lost(outer: ast.AST | None, flow_name: str, in_flow: bool) -> bool:
    """A step def where indentation put it by mistake: at the module's top level, inside a
    step of the flow, or inside a step that itself left the class. Not a method of the flow
    (where it belongs) nor of another class (another flow's step, in the same file)."""
    if outer is None:
        return True
    if isinstance(outer, ast.ClassDef):
        return False
    return in_flow or _is_step(outer)


def _is_step(fdef: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated ``@step``, ``@step(...)`` or ``@metaflow.step``: a helper of the same name is
    not taken for a lost step."""
    for decorator in fdef.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (isinstance(target, ast.Name) and target.id == "step") or (
                isinstance(target, ast.Attribute) and target.attr == "step"):
            return True
    return False


def _where(fdef: ast.AST, outer: ast.AST | None, flow_name: str, in_flow: bool) -> str:
    line = getattr(fdef, "lineno", 0)
    if isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)) and in_flow:
        return (f"def {getattr(fdef, 'name', '?')} at line {line} is inside step "
                f"{outer.name!r}, indented one level too far: dedent it to line up with "
                f"def {outer.name}")
    if outer is None:
        return (f"def {getattr(fdef, 'name', '?')} at line {line} is at the module's top "
                f"level, outside class {flow_name}: indent it (and the steps after it) to line "
                f"up with the class's other steps")
    # `@step def join` dedented to the module: the steps after it, left where they were, are
    # now its nested functions (the only other case _lost keeps).
    return (f"def {getattr(fdef, 'name', '?')} at line {line} is inside step "
            f"{getattr(outer, 'name', '?')!r} (line {getattr(outer, 'lineno', 0)}), which is "
            f"outside class {flow_name}: indent def {getattr(outer, 'name', '?')} and its body "
            f"one level, to line up with the class's other steps")
