"""Build a :class:`Graph` from a flow class by reading the source of its step methods.

Nothing is run: each step's transition comes from the ``self.next(...)`` call written in its body,
so a malformed flow is reported before any task starts, at the user's file and line.

Problems that belong to one step's source (no ``self.next``, two of them, an argument we cannot
read, ...) are recorded on ``StepNode.problems`` instead of raised, so the whole graph is still
built; :func:`headwater.graph.validate.validate` raises them, first one first. Only a step whose
source cannot be read at all stops the build.
"""

from __future__ import annotations

import ast
import os
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from headwater.exceptions import GraphError
from headwater.flow.step import DECORATORS_ATTR, END_MARK, NODE_INFO_ATTR, START_MARK, is_step
from headwater.graph.model import END, FOREACH, LINEAR, PARALLEL, SPLIT, SWITCH, Graph, StepNode
from headwater.records import Record

NEXT_KEYWORDS = ("foreach", "condition", "num_parallel")
_MISSING = object()
_NOT_UNDERSTOOD = "could not understand the self.next call"
_NEXT_FORMS = (
    "write it as self.next(self.a), self.next(self.a, self.b), "
    "self.next(self.a, foreach='items'), self.next(self.a, num_parallel=4) or "
    "self.next({'x': self.a, 'y': self.b}, condition='var')"
)


def build_graph(flow_cls: type) -> Graph:
    """Return the graph of ``flow_cls``: one :class:`StepNode` per ``@step`` method.

    Steps defined on base classes count (a subclass's definition wins). Nodes are kept in source
    order: base-class steps first, then by line. The graph is not validated here.
    """
    found = _find_steps(flow_cls)
    names = set(found)
    start, end = find_endpoints({name: func for name, (_, func) in found.items()})
    returned: list[str] = []
    nodes = [_parse_step(name, func, flow_cls, names, name == end, returned)
             for name, (_, func) in found.items()]
    rank = {name: found[name][0] for name in found}
    nodes.sort(key=lambda node: (rank[node.name], node.line))
    graph = Graph(
        flow_name=flow_cls.__name__,
        nodes={node.name: node for node in nodes},
        file=_class_file(flow_cls),
        doc=_cleandoc(flow_cls.__dict__.get("__doc__") or ""),
        line=_class_line(flow_cls),
        start_step=start,
        end_step=end,
    )
    if start is not None:
        graph.nodes[start].is_start = True
    _link(graph)
    graph.warnings.extend(rebound_names(flow_cls))
    graph.warnings.extend(returned)
    return graph


def rebound_names(flow_cls: type) -> list[str]:
    """One warning per name the flow's class bodies bind twice where one binding is a step.

    Python keeps the last binding of a class body, so a step defined twice runs its second
    definition, and a ``Parameter`` and a step of one name leave only the later one: the
    parameter's option then does not exist (``No such option``), or the step is gone from the
    graph. Only top-level statements of each flow class's own body count; a subclass overriding
    a base class's step is the normal way to change it.
    """
    warnings = []
    for klass in flow_cls.__mro__:
        if klass is object or klass.__module__.startswith("headwater."):
            continue
        class_def = _class_def(klass)
        if class_def is None:
            continue
        bound: dict[str, list[tuple[int, str]]] = {}
        for stmt in class_def.body:
            for name, what in _bindings(stmt):
                bound.setdefault(name, []).append((stmt.lineno, what))
        for name, where in bound.items():
            if len(where) < 2 or not any(what == "step" for _, what in where):
                continue
            kept_line, kept = where[-1]
            lost = ", ".join(f"{_a(what)} {what} (line {line})" for line, what in where[:-1])
            ignored = (f"the {where[0][1]} of line {where[0][0]} is" if len(where) == 2
                       else "the earlier ones are")
            warnings.append(
                f"{_class_file(klass)}:{kept_line}: {klass.__name__} binds the name {name!r} "
                f"more than once: {lost}, then {_a(kept)} {kept} (line {kept_line}); Python "
                f"keeps only the last, so {ignored} ignored. Fix: give each step and parameter "
                f"its own name")
    return warnings


def _a(word: str) -> str:
    return "an" if word[0] in "aeiouAEIOU" else "a"


def _class_def(klass: type) -> ast.ClassDef | None:
    """The ``class`` statement of ``klass`` in its module's file, when the file has exactly one
    of that name; None otherwise (no file, a notebook cell, two classes of that name)."""
    file = getattr(sys.modules.get(klass.__module__), "__file__", None) or ""
    parsed = _parsed(file) if file.endswith(".py") else None
    if parsed is None:
        return None
    found = parsed[2].get(klass.__name__, [])
    return found[0] if len(found) == 1 else None


_DECLARATIONS = ("Parameter", "Config", "IncludeFile")


def _bindings(stmt: ast.stmt) -> list[tuple[str, str]]:
    """The names a class-body statement binds, each with what it is: ``step``, ``method``,
    ``Parameter``/``Config``/``IncludeFile``, or ``assignment``."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        is_step_def = any(_callee_name(d) == "step" for d in stmt.decorator_list)
        return [(stmt.name, "step" if is_step_def else "method")]
    if isinstance(stmt, ast.Assign):
        targets, value = stmt.targets, stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        targets, value = [stmt.target], stmt.value
    else:
        return []
    called = _callee_name(value) if isinstance(value, ast.Call) else None
    what = called if called in _DECLARATIONS else "assignment"
    return [(target.id, what) for target in targets if isinstance(target, ast.Name)]


def _callee_name(node: ast.expr) -> str | None:
    """``step`` for ``step``, ``headwater.step``, ``step(...)``: the last name of what is called."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _find_steps(flow_cls: type) -> dict[str, tuple[int, Callable[..., Any]]]:
    """name -> (rank of the defining class, base classes first; step function), in MRO order.

    Walking the MRO from ``object`` down means a subclass attribute replaces a base one, and a
    subclass that overrides a step with a plain method removes that step.
    """
    steps: dict[str, tuple[int, Callable[..., Any]]] = {}
    for rank, klass in enumerate(reversed(flow_cls.__mro__)):
        for name, obj in vars(klass).items():
            if is_step(obj):
                steps[name] = (rank, obj)
            else:
                steps.pop(name, None)
    return steps


def find_endpoints(steps: dict[str, Any]) -> tuple[str | None, str | None]:
    """The flow's start and end steps (step name -> step function), as Metaflow picks them.

    The one step marked @step(start=True) (end=True), else the step named ``start`` (``end``);
    a flow of one step begins and ends at it, marked or not. None where there is no such step or
    two are marked: validation reports it.
    """
    if len(steps) == 1:
        (only,) = steps
        return only, only
    return _endpoint(steps, START_MARK, "start"), _endpoint(steps, END_MARK, "end")


def _endpoint(steps: dict[str, Any], mark: str, name: str) -> str | None:
    marked = [step for step, func in steps.items() if getattr(func, mark, False) is True]
    if len(marked) == 1:
        return marked[0]
    return name if not marked and name in steps else None


# `inspect` (with the dis, tokenize and linecache it imports: ~15 ms of a run's start-up here) is
# imported only where a flow needs it. The few of its answers every run asks for are written out
# below for the common case (a flow in a .py file, plain functions as steps), each falling back
# to `inspect` otherwise; tests/unit/test_stdlib_stand_ins.py checks them against it.


def _class_file(flow_cls: type) -> str:
    file = getattr(sys.modules.get(flow_cls.__module__), "__file__", None)
    if isinstance(file, str) and file.endswith(".py") and os.path.exists(file):
        return file  # what inspect.getsourcefile says of a class defined in a .py file
    import inspect

    try:
        return inspect.getsourcefile(flow_cls) or inspect.getfile(flow_cls)
    except (TypeError, OSError):
        return ""


def _unwrap(func: Any) -> Any:
    """``inspect.unwrap``: a function nothing wraps (a step, nearly always) is itself."""
    if not hasattr(func, "__wrapped__"):
        return func
    import inspect

    return inspect.unwrap(func)


# What inspect.cleandoc strips as indentation: any whitespace before 3.13, spaces only from 3.13
# on (as the compiler, which dedents docstrings itself since 3.13).
_CLEANDOC_STRIP = " " if sys.version_info >= (3, 13) else None


def _cleandoc(doc: str) -> str:
    """``inspect.cleandoc``: the first line stripped, the others' common indentation removed,
    blank lines at either end dropped."""
    lines = doc.expandtabs().split("\n")
    strip = _CLEANDOC_STRIP
    margin = min((len(line) - len(line.lstrip(strip)) for line in lines[1:] if line.lstrip(strip)),
                 default=None)
    lines[0] = lines[0].lstrip(strip)
    if margin is not None:
        lines[1:] = [line[margin:] for line in lines[1:]]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def _getdoc(func: Any) -> str | None:
    """``inspect.getdoc`` of a step function: its cleaned docstring or, having none, that of the
    same name on the nearest class of its defining class's MRO that has one."""
    if not isinstance(func, types.FunctionType):
        import inspect

        return inspect.getdoc(func)
    doc = func.__doc__
    if doc is None:
        try:
            doc = _inherited_doc(func)
        except (AttributeError, TypeError):
            return None
    return _cleandoc(doc) if isinstance(doc, str) else None


def _inherited_doc(func: types.FunctionType) -> Any:
    owner: Any = sys.modules.get(func.__module__)
    if owner is None:
        return None
    for part in func.__qualname__.split(".")[:-1]:  # the class the function was defined in
        owner = getattr(owner, part)
    name = func.__name__
    if not isinstance(owner, type) or getattr(owner, name) is not func:
        return None
    for base in owner.__mro__:
        try:
            doc = getattr(base, name).__doc__
        except AttributeError:
            continue
        if doc is not None:
            return doc
    return None


def _class_line(flow_cls: type) -> int:
    """The ``class`` line, for errors about the whole flow (no start step, ...)."""
    line = _class_line_from_tree(flow_cls)
    if line:
        return line
    import inspect  # a class the flow's file does not show once (or a flow without a file)

    try:
        return inspect.getsourcelines(flow_cls)[1]
    except (TypeError, OSError):
        return 0


def _class_line_from_tree(flow_cls: type) -> int:
    """The line of the only ``class`` statement of that name in the flow's file (its first
    decorator's, when it has any), or 0."""
    class_def = _class_def(flow_cls)
    if class_def is None:
        return 0
    return min([class_def.lineno, *(d.lineno for d in class_def.decorator_list)])


class _Source(Record):
    """One step function's parsed source and where it sits in its file."""

    func_def: ast.FunctionDef | ast.AsyncFunctionDef
    text: str  # the parsed (dedented) text, for ast.get_source_segment
    file: str
    offset: int  # add to an AST line number to get the line in ``file``

    def line(self, node: ast.AST) -> int:
        return getattr(node, "lineno", 0) + self.offset


def _read_source(name: str, func: Callable[..., Any]) -> _Source:
    """Parse the source of a step function; a GraphError if it cannot be read.

    The flow's file is parsed once and each step found in it by its first line (the fast path:
    ``inspect.getsourcelines`` tokenizes the file again for every step); a function whose file
    cannot be read that way (a notebook cell, a file changed since import) goes the slow way.
    """
    func = _unwrap(func)
    found = _from_module_tree(func)
    if found is not None:
        return found
    file = getattr(getattr(func, "__code__", None), "co_filename", "") or ""
    import inspect  # the slow way only

    try:
        file = inspect.getsourcefile(func) or file
        lines, first = inspect.getsourcelines(func)
    except (TypeError, OSError, SyntaxError) as exc:
        raise GraphError(
            f"cannot read the source of step {name!r} ({exc})",
            step=name,
            file=file or None,
            fix="define the flow in a .py file; headwater reads each step's source to find "
            "its self.next call",
        ) from None
    import textwrap

    raw = "".join(lines)
    text, offset = textwrap.dedent(raw), first - 1
    try:
        tree = ast.parse(text)
    except SyntaxError:
        # dedent gives up when a multi-line string starts a line at column 0; a block opener
        # above the indented source parses it as it is.
        text, offset = "if 1:\n" + raw, first - 2
        try:
            tree = ast.parse(text)
        except SyntaxError as exc:
            raise GraphError(
                f"cannot parse the source of step {name!r}: {exc.msg}",
                step=name,
                file=file or None,
                line=first,
            ) from None
        tree.body = list(getattr(tree.body[0], "body", []))
    func_def = tree.body[0] if tree.body else None
    if not isinstance(func_def, ast.FunctionDef | ast.AsyncFunctionDef):
        raise GraphError(
            f"step {name!r} is not defined with a def statement",
            step=name,
            file=file or None,
            line=first,
            fix="write the step as a method: @step def name(self): ...",
        )
    return _Source(func_def, text, file, offset)


def local_assignment(func: Callable[..., Any], name: str) -> int | None:
    """The file line where step ``func`` binds ``name`` as a plain local variable
    (``score = ...``, ``score += ...``, ``for score in ...``), or None: read for a note when a
    later step misses the artifact ``self.score`` was meant to be."""
    try:
        source = _read_source(getattr(func, "__name__", "?"), func)
    except GraphError:
        return None
    for node in ast.walk(source.func_def):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            return source.line(node)
    return None


_Parsed = tuple[str, dict[int, ast.AST], dict[str, list[ast.ClassDef]]]
_TREES: dict[tuple[str, float, int], _Parsed | None] = {}


def _parsed(file: str) -> _Parsed | None:
    """``file`` parsed once per version: its text, its functions by first line and its ``class``
    statements by name; None when it cannot be read or parsed."""
    file = os.path.abspath(file)
    try:
        info = os.stat(file)
    except OSError:
        return None
    key = (file, info.st_mtime, info.st_size)
    if key not in _TREES:
        _TREES[key] = _parse_file(file)
    return _TREES[key]


def _from_module_tree(func: Callable[..., Any]) -> _Source | None:
    """The step's definition found in its whole file, parsed once per file (and version)."""
    code = getattr(func, "__code__", None)
    file = getattr(code, "co_filename", "")
    if not file or not file.endswith(".py"):
        return None
    parsed = _parsed(file)
    if parsed is None:
        return None
    text, by_line, _ = parsed
    func_def = by_line.get(code.co_firstlineno)
    if not isinstance(func_def, ast.FunctionDef | ast.AsyncFunctionDef) \
            or func_def.name != code.co_name:
        return None
    return _Source(func_def, text, file, 0)


def _parse_file(file: str) -> _Parsed | None:
    """The file's text, its function definitions by first line (a decorator's, if any) and the
    ``class`` lines by class name."""
    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
        tree = ast.parse(text)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    by_line: dict[int, ast.AST] = {}
    class_defs: dict[str, list[ast.ClassDef]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            by_line.setdefault(first, node)
        elif isinstance(node, ast.ClassDef):
            class_defs.setdefault(node.name, []).append(node)
    return text, by_line, class_defs


def _parse_step(
    name: str, func: Callable[..., Any], flow_cls: type, step_names: set[str], is_end: bool,
    warnings: list[str] | None = None,
) -> StepNode:
    """Make the StepNode of one step from its source, recording (not raising) its problems;
    a step that returns a value adds a warning to ``warnings``."""
    try:
        src = _read_source(name, func)
    except GraphError:
        if not (is_end and _marked_start_and_end(func)):
            raise
        return _sourceless_node(name, func)
    fdef = src.func_def
    params = fdef.args.posonlyargs + fdef.args.args
    node = _node(name, func, is_end, num_args=len(params), file=src.file, line=src.line(fdef))
    calls, early = _early_exits_split(_next_calls(fdef, params[0].arg if params else "self"),
                                      fdef)
    if calls:
        node.next_line = src.line(calls[0])
    if warnings is not None:
        warnings.extend(_returned_value(node, fdef, src, flow_cls.__name__))
        warnings.extend(_early_exit_warnings(node, early, calls, src))
    problem = _arguments_problem(node, fdef) or _placement_problem(node, calls, src)
    if problem is not None:
        node.problems.append(problem)
    if calls and not is_end:
        try:
            _apply_next(node, calls[0], src)
            _check_targets_are_steps(node, flow_cls, step_names)
        except GraphError as exc:
            node.problems.append(exc)
    return node


def _returned_value(node: StepNode, fdef: ast.FunctionDef, src: _Source,
                    flow_name: str) -> list[str]:
    """A warning for ``return value`` among the step's own statements: how Prefect's and
    Dagster's tasks pass data on, which a step's caller drops (only what it sets on self is
    stored). Nested functions and classes are not the step's own returns."""
    found = [stmt for stmt in _own_statements(fdef.body)
             if isinstance(stmt, ast.Return) and stmt.value is not None
             and not (isinstance(stmt.value, ast.Constant) and stmt.value.value is None)]
    if not found:
        return []
    then = (f"read it afterwards as Flow({flow_name!r}).latest_run.data.result"
            if node.transition == END else "read self.result in the steps after it")
    return [f"{node.file}:{src.line(found[0])}: step {node.name!r} returns a value, which is "
            "dropped: only what a step sets on self is stored and passed on. Fix: assign it "
            f"(self.result = ...) and {then}"]


def _own_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of ``body``, blocks included, but not inside nested defs or classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _own_statements(getattr(stmt, field, None) or [])
        for handler in getattr(stmt, "handlers", None) or []:
            yield from _own_statements(handler.body)
        for case in getattr(stmt, "cases", None) or []:
            yield from _own_statements(case.body)


def _node(name: str, func: Callable[..., Any], is_end: bool, *, num_args: int, file: str,
          line: int) -> StepNode:
    """The StepNode of a step before its ``self.next`` is read: its marks, options and place."""
    return StepNode(
        name=name,
        transition=END if is_end else LINEAR,
        is_end=is_end,
        marked_start=getattr(func, START_MARK, False) is True,
        marked_end=getattr(func, END_MARK, False) is True,
        node_info=dict(getattr(func, NODE_INFO_ATTR, None) or {}),
        is_join=num_args >= 2,
        num_args=num_args,
        doc=_getdoc(_unwrap(func)) or "",
        file=file,
        line=line,
        parallel_step=any(is_gang_decorator(d)
                          for d in getattr(func, DECORATORS_ATTR, None) or ()),
    )


def is_gang_decorator(decorator: Any) -> bool:
    """``@parallel``, or a Metaflow-style plug-in built on it (``IS_PARALLEL``, such as
    ``@pytorch_parallel``): the step's ``num_parallel`` tasks run together and reach each other."""
    return getattr(decorator, "name", "") == "parallel" or getattr(decorator, "IS_PARALLEL", False)


def _marked_start_and_end(func: Any) -> bool:
    return getattr(func, START_MARK, False) is True and getattr(func, END_MARK, False) is True


def _sourceless_node(name: str, func: Callable[..., Any]) -> StepNode:
    """A step made without a source file (``compile`` + ``exec``, as generated flows do): only
    a step marked ``@step(start=True, end=True)`` may be one, since it has no ``self.next`` to
    read. Its place is its code object's file name and first line."""
    import inspect

    code = getattr(_unwrap(func), "__code__", None)
    try:
        num_args = len(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        num_args = getattr(code, "co_argcount", 1)
    return _node(name, func, True, num_args=num_args,
                 file=getattr(code, "co_filename", "") or "",
                 line=getattr(code, "co_firstlineno", 0))


def _next_calls(func_def: ast.AST, self_name: str) -> list[ast.Call]:
    """Every ``self.next(...)`` call in the step's own body (nested defs and lambdas excluded)."""
    found: list[ast.Call] = []
    todo = list(ast.iter_child_nodes(func_def))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "next"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == self_name
        ):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return sorted(found, key=lambda call: (call.lineno, call.col_offset))


def _early_exits_split(calls: list[ast.Call],
                       fdef: ast.FunctionDef) -> tuple[list[ast.Call], list[ast.Call]]:
    """The step's self.next calls that make its graph, and the early ones left out of it.

    When the step's last statement is a self.next call, that call is the step's transition, as
    in Metaflow (its graph reads the last statement only): ``if skip: self.next(self.x); return``
    above it leaves the step early (an early call inside a block: two in a row are always both
    made, and stay refused). An early call that repeats the closing one changes nothing;
    one that names other steps is warned about (:func:`_early_exit_warnings`) and fails the task
    if a run takes it, as in Metaflow. Without a closing call, every call stays, and the rule
    of one self.next per step names the problem."""
    if len(calls) < 2:
        return calls, []
    last = fdef.body[-1]
    closing = calls[-1]
    if not (isinstance(last, ast.Expr) and last.value is closing):
        return calls, []
    if any(isinstance(stmt, ast.Expr) and stmt.value is call
           for stmt in fdef.body for call in calls[:-1]):
        return calls, []  # two calls in a row: every run makes both
    return [closing], calls[:-1]


def _early_exit_warnings(node: StepNode, early: list[ast.Call], calls: list[ast.Call],
                         src: _Source) -> list[str]:
    """A warning for each early self.next that goes elsewhere than the step's closing one."""
    if not calls:
        return []
    shape = ast.dump(calls[0])
    closing = ast.unparse(calls[0])
    return [f"{node.file}:{src.line(call)}: step {node.name!r} calls {ast.unparse(call)} before "
            f"its last statement, {closing}; the flow's graph follows the last one, so a run "
            "that reaches this line fails. Fix: to choose the next step at run time use a "
            f"switch: {_switch_example([call, calls[0]])}"
            for call in early if ast.dump(call) != shape]


def _switch_example(calls: list[ast.Call]) -> str:
    """The switch that does what several ``self.next(self.x)`` calls in ``if`` branches meant,
    with the step's own targets (Metaflow's way to choose a step at run time)."""
    targets = []
    for call in calls:
        arg = call.args[0] if len(call.args) == 1 and not call.keywords else None
        if not isinstance(arg, ast.Attribute) or arg.attr in targets:
            targets = []
            break
        targets.append(arg.attr)
    if len(targets) < 2:
        targets = ["a", "b"]
    cases = ", ".join(f"'{t}': self.{t}" for t in targets)
    return (f"set self.choice to one of {', '.join(repr(t) for t in targets)}, then "
            f"self.next({{{cases}}}, condition='choice')")


def _arguments_problem(node: StepNode, fdef: ast.FunctionDef) -> GraphError | None:
    """A step takes ``self``, a join also ``inputs``; a third argument without a default
    (``def join(self, inputs, best)``) passed the graph and failed the task with a bare
    ``TypeError`` once every branch had run. Metaflow's lint refuses any third argument; one
    with a default is left alone here, since the task can call such a step."""
    args = fdef.args
    params = args.posonlyargs + args.args
    required = params[:len(params) - len(args.defaults)]
    extra = [arg.arg for arg in required[2:]] + [
        arg.arg for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if default is None]
    if not extra:
        return None
    listed = ", ".join(repr(name) for name in extra)
    return _error(
        node, f"step {node.name!r} takes {listed} besides self and inputs: a step is called with "
        "self alone, and a join with self and inputs, so nothing would fill "
        + ("it" if len(extra) == 1 else "them"),
        fix=f"remove {listed}; a value a step needs comes through self (an artifact a step "
        "before it set, or a Parameter)")


def _placement_problem(node: StepNode, calls: list[ast.Call], src: _Source) -> GraphError | None:
    """The rule: exactly one self.next per step (none in end), as the step's last statement."""
    name = node.name
    if node.is_end:
        if not calls:
            return None
        return _error(
            node,
            f"step {name!r} is the flow's end step and must not call self.next: the flow stops "
            "after it",
            line=node.next_line,
            fix=f"remove the self.next call from {name}",
        )
    if not calls:
        return _error(
            node,
            f"step {name!r} never calls self.next, so the flow cannot go on after it",
            fix="end the step with self.next(self.<next step>), e.g. self.next(self.end); if "
            f"the flow finishes at {name}, write @step(end=True) above it",
        )
    if len(calls) > 1:
        return _error(
            node,
            f"step {name!r} calls self.next more than once (line {node.next_line} and line "
            f"{src.line(calls[1])}); a step has exactly one self.next, as its last statement",
            line=src.line(calls[1]),
            fix="keep one self.next call at the end of the step; to choose between steps at run "
            f"time use a switch: {_switch_example(calls)}",
        )
    body = src.func_def.body
    last = body[-1]
    if isinstance(last, ast.Expr) and last.value is calls[0]:
        return None
    own = [
        i for i, stmt in enumerate(body) if isinstance(stmt, ast.Expr) and stmt.value is calls[0]
    ]
    after = body[own[0] + 1] if own else None
    if isinstance(after, (ast.FunctionDef, ast.AsyncFunctionDef)):
        # `@step def join` indented one level too far: Python made it a function inside this
        # step. Name the indentation, not only the statement after self.next.
        return _error(
            node,
            f"self.next must be the last statement of step {name!r}, but def {after.name} "
            f"comes after it at line {src.line(after)}, inside step {name!r}: it is indented one "
            "level too far",
            line=src.line(after),
            fix=f"dedent def {after.name} (and its body) to line up with def {name}",
        )
    where = (
        f"line {src.line(after)} comes after it"
        if after is not None
        else "it is inside another statement (if, for, with, try, an assignment, ...)"
    )
    return _error(
        node,
        f"self.next must be the last statement of step {name!r}, on its own; {where}",
        line=node.next_line,
        fix="move the self.next call to the end of the step, outside any block",
    )


def _apply_next(node: StepNode, call: ast.Call, src: _Source) -> None:
    """Fill the transition fields of ``node`` from its self.next call (GraphError if unreadable)."""
    keywords = _keywords(node, call)
    if call.args and isinstance(call.args[0], ast.Dict):
        _apply_switch(node, call, keywords)
        return
    if "condition" in keywords:
        raise _error(
            node,
            f"self.next in step {node.name!r}: condition= needs the cases as a dict "
            "({'value': self.step, ...})",
            line=node.next_line,
            fix=_NEXT_FORMS,
        )
    node.out = tuple(_target(node, arg, _receiver(call)) for arg in call.args)
    _reject_duplicates(node)
    if not node.out:
        raise _bad_call(node, "it names no step")
    node.transition = SPLIT if len(node.out) > 1 else LINEAR
    if "foreach" in keywords and "num_parallel" in keywords:
        raise _error(
            node,
            f"self.next in step {node.name!r} cannot take both foreach= and num_parallel=",
            line=node.next_line,
            fix=_NEXT_FORMS,
        )
    if "foreach" in keywords:
        node.transition = FOREACH
        node.foreach_var = _name_literal(node, keywords["foreach"], "foreach", "items")
    elif "num_parallel" in keywords:
        node.transition = PARALLEL
        expr = keywords["num_parallel"]
        node.num_parallel = ast.get_source_segment(src.text, expr) or ast.unparse(expr)
    if node.transition in (FOREACH, PARALLEL) and len(node.out) != 1:
        raise _error(
            node,
            f"step {node.name!r}: a {node.transition} goes to exactly one step, "
            f"not {len(node.out)}",
            line=node.next_line,
            fix="name one step, e.g. self.next(self.body, foreach='items')",
        )


def _keywords(node: StepNode, call: ast.Call) -> dict[str, ast.expr]:
    """The keyword arguments of self.next, after rejecting *args, **kwargs and unknown names."""
    if any(isinstance(arg, ast.Starred) for arg in call.args):
        raise _bad_call(node, "*args cannot be read before the flow runs")
    keywords: dict[str, ast.expr] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise _bad_call(node, "**kwargs cannot be read before the flow runs")
        if kw.arg not in NEXT_KEYWORDS:
            raise _bad_call(
                node,
                f"unknown keyword argument {kw.arg!r}",
                fix="use foreach=, condition= or num_parallel=",
            )
        keywords[kw.arg] = kw.value
    return keywords


def _apply_switch(node: StepNode, call: ast.Call, keywords: dict[str, ast.expr]) -> None:
    """``self.next({'x': self.a, ...}, condition='var')``: case keys are stored as ``str(key)``."""
    if len(call.args) != 1 or set(keywords) - {"condition"}:
        raise _bad_call(node, "a switch takes one dict and condition= only")
    if "condition" not in keywords:
        raise _error(
            node,
            f"the dict of cases in step {node.name!r} needs condition='<artifact name>'",
            line=node.next_line,
            fix="e.g. self.next({'yes': self.a, 'no': self.b}, condition='choice')",
        )
    cases: dict[str, str] = {}
    cases_dict = call.args[0]
    assert isinstance(cases_dict, ast.Dict)
    for key, value in zip(cases_dict.keys, cases_dict.values, strict=True):
        case = _case_key(node, key)
        if case in cases:
            raise _error(
                node,
                f"switch case {case!r} appears twice in step {node.name!r}",
                line=node.next_line,
                fix="give each case its own value",
            )
        cases[case] = _target(node, value, _receiver(call))
    if not cases:
        raise _bad_call(node, "the switch has no cases")
    node.transition = SWITCH
    node.switch_cases = cases
    node.out = tuple(dict.fromkeys(cases.values()))
    node.condition_var = _name_literal(node, keywords["condition"], "condition", "choice")


def _case_key(node: StepNode, key: ast.expr | None) -> str:
    """A switch case value: a str, int or bool literal, stored as its ``str()``."""
    if key is None:
        raise _bad_call(node, "**mapping in the dict of cases cannot be read before the flow runs")
    if (
        isinstance(key, ast.UnaryOp)
        and isinstance(key.op, ast.USub)
        and isinstance(key.operand, ast.Constant)
        and type(key.operand.value) is int
    ):
        return str(-key.operand.value)
    if isinstance(key, ast.Constant) and isinstance(key.value, str | int | bool):
        return str(key.value)
    raise _error(
        node,
        f"switch case keys in step {node.name!r} must be literals (a string, an integer or a bool)",
        line=node.next_line,
        fix="e.g. self.next({'yes': self.a, 'no': self.b}, condition='choice')",
    )


def _receiver(call: ast.Call) -> str:
    """The name the step's object has in ``<name>.next(...)``: ``self`` unless renamed."""
    func = call.func
    assert isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
    return func.value.id


def _target(node: StepNode, arg: ast.expr, self_name: str) -> str:
    """The step name in ``self.<name>`` (the object may be named otherwise than ``self``)."""
    if (
        isinstance(arg, ast.Attribute)
        and isinstance(arg.value, ast.Name)
        and arg.value.id == self_name
    ):
        return arg.attr
    # The two usual slips: the step's name as a string, and the step called.
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.isidentifier():
        raise _bad_call(node, f"{ast.unparse(arg)} is a string, not a step",
                        fix=f"write self.next(self.{arg.value}): the step itself, not its name")
    called = arg.func if isinstance(arg, ast.Call) and not arg.args and not arg.keywords \
        else None
    if called is not None and _self_attribute(called, self_name):
        raise _bad_call(node, f"{ast.unparse(arg)!r} calls the step",
                        fix=f"write self.next({ast.unparse(called)}), without the parentheses: "
                        "headwater runs the step, self.next only names it")
    raise _bad_call(node, f"{ast.unparse(arg)!r} is not a step written as self.<name>")


def _self_attribute(expr: ast.expr, self_name: str = "self") -> str | None:
    """``name`` when ``expr`` is ``self.name``."""
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) \
            and expr.value.id == self_name:
        return expr.attr
    return None


def _reject_duplicates(node: StepNode) -> None:
    twice = sorted({name for name in node.out if node.out.count(name) > 1})
    if twice:
        raise _error(
            node,
            f"self.next in step {node.name!r} names {twice[0]!r} more than once",
            line=node.next_line,
            fix="name each branch once",
        )


def _name_literal(node: StepNode, expr: ast.expr, keyword: str, example: str) -> str:
    """foreach= and condition= name an artifact, so they must be string literals."""
    value = expr.value if isinstance(expr, ast.Constant) else None
    if isinstance(value, str) and value.isidentifier():
        return value
    what = "an artifact name" if isinstance(value, str) else "a string literal naming an artifact"
    named = _self_attribute(expr)
    raise _error(
        node,
        f"{keyword}= in step {node.name!r} must be {what}, not {ast.unparse(expr)}",
        line=node.next_line,
        # `foreach=self.lrs`: the artifact's value where its name is wanted
        fix=f"write {keyword}='{named}', the artifact's name as a string" if named else
        f"assign the values to an artifact first (self.{example} = ...) and write "
        f"{keyword}='{example}'",
    )


def _check_targets_are_steps(node: StepNode, flow_cls: type, step_names: set[str]) -> None:
    """A target that exists on the class but is not a step is a forgotten @step, most likely."""
    for target in node.out:
        if target in step_names:
            continue
        import inspect  # a flow about to be refused, or a target that is no attribute at all

        attr = inspect.getattr_static(flow_cls, target, _MISSING)
        if attr is _MISSING:
            continue
        kind = type(attr).__name__
        raise _error(
            node,
            f"step {node.name!r} goes to {target!r}, which is a {kind} of the flow but not a step",
            line=node.next_line,
            fix=f"decorate {target} with @step",
        )


def _link(graph: Graph) -> None:
    """Fill ``in_steps`` of every node from the ``out`` of the others, in source order."""
    incoming: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for node in graph:
        for target in node.out:
            if target in incoming and node.name not in incoming[target]:
                incoming[target].append(node.name)
    for name, preds in incoming.items():
        graph.nodes[name].in_steps = tuple(preds)


def _bad_call(node: StepNode, detail: str, fix: str = _NEXT_FORMS) -> GraphError:
    return _error(
        node, f"{_NOT_UNDERSTOOD} in step {node.name!r}: {detail}", line=node.next_line, fix=fix
    )


def _error(
    node: StepNode, msg: str, *, line: int | None = None, fix: str | None = None
) -> GraphError:
    return GraphError(msg, step=node.name, file=node.file, line=line or node.line, fix=fix)
