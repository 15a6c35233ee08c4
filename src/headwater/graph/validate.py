"""Check that a flow's graph can run, and say where and how to fix it when it cannot.

Checks run from the most local to the most global, so the first error reported is the one
closest to its cause: a step's own name and source, then start/end, the targets of ``self.next``,
loops (before reachability: a loop that never ends also strands ``end``), reachability, and
last the nesting of splits and joins (:class:`_SplitWalk`).

Every error is a :class:`GraphError` carrying the step, its file and line, and a fix.
"""

from __future__ import annotations

from collections import deque

from headwater.exceptions import GraphError
from headwater.flow.flowspec import RESERVED, FlowSpec
from headwater.graph.build import build_graph
from headwater.graph.model import END, FOREACH, PARALLEL, SPLIT, SWITCH, Graph, StepNode
from headwater.spelling import closest

# The open splits a step runs inside, outermost first: (split step, branch head it entered).
# Foreach and parallel splits have one branch; a static split one per target.
_Stack = tuple[tuple[str, str], ...]
_OPENERS = (SPLIT, FOREACH, PARALLEL)
_JOIN_EXAMPLE = "def join(self, inputs): ...; self.next(self.end)"


def check_flow(flow_cls: type) -> Graph:
    """Build the graph of ``flow_cls`` and validate it; the graph, or a GraphError."""
    check_flow_name(flow_cls)
    graph = build_graph(flow_cls)
    try:
        validate(graph)
    except GraphError as err:
        if not graph.warnings:
            raise
        # A name bound twice is the likelier cause (a Parameter named like the end step hides
        # it): say so with the error, whose own fix may not be the right one then.
        notes = "\n    ".join(f"note: {warning}" for warning in graph.warnings)
        better = GraphError(f"{err.msg}\n    {notes}", step=err.step, fix=err.fix)
        better.file, better.line = err.file, err.line
        raise better from None
    return graph


def check_flow_name(flow_cls: type) -> None:
    """The flow's name (its class's ``__name__``) must be a Python identifier, as any ``class``
    statement makes it. ``type()`` and an assignment to ``__name__`` take any text, and the name
    goes everywhere as is: pathspecs (``Flow/run/step/task``: a ``/`` shifts every part), storage
    keys, terminals, and the Python of an Airflow DAG file (``Flow\"\"\"`` ended its docstring,
    and the text after it ran in Airflow's scheduler)."""
    name = getattr(flow_cls, "__name__", None)
    if isinstance(name, str) and name.isidentifier():
        return
    raise GraphError(
        f"the flow's name {name!r} (its class's __name__) is not a Python identifier: it names "
        "the flow in pathspecs, storage keys and deployed documents",
        fix="name the flow class with a class statement (class MyFlow(FlowSpec): ...), or give "
        "type() or __name__ a name of letters, digits and underscores")


def validate(graph: Graph) -> None:
    """Raise a GraphError for the first rule ``graph`` breaks (:data:`RULES`, in order).

    On success, fills ``split_parents`` on every step and ``matching_join`` on every split,
    foreach and parallel step, which the scheduler uses to group the inputs of joins.
    """
    for rule in RULES:
        rule(graph)


# Each rule checks one thing and raises a GraphError; ``metaflow.lint``'s checks are these rules.
# A rule that needs what an earlier one checks (a start step, known targets) does nothing on a
# graph that lacks it, so each can run alone; validate() runs them in this order.


def check_marks(graph: Graph) -> None:
    """At most one step marked @step(start=True), and one marked @step(end=True). First: which
    steps are start and end decides what else is a problem."""
    _check_marks(graph)


def check_steps(graph: Graph) -> None:
    """Each step's own name and source (its ``self.next``), step by step in source order."""
    reserved = reserved_step_names()
    for node in graph:
        _check_name(node, reserved)
        if node.problems:
            raise node.problems[0]


def check_endpoints(graph: Graph) -> None:
    """One start step and one end step, found by mark or by name."""
    _check_start_end(graph)


def check_targets(graph: Graph) -> None:
    """Every ``self.next`` goes to a step of the flow."""
    _check_targets(graph)


def check_loops(graph: Graph) -> None:
    """No loop that repeats forever (before reachability: such a loop also strands end)."""
    if _ready(graph):
        reached = _reached(graph)
        _check_unconditional_cycles(graph, reached)
        _check_loop_exits(graph, reached)


def check_reachable(graph: Graph) -> None:
    """Every step can be reached from start."""
    if _ready(graph):
        _check_reachable(graph, _reached(graph))


def check_splits(graph: Graph) -> None:
    """Splits and joins nest (:class:`_SplitWalk`), filling ``split_parents`` and
    ``matching_join``."""
    if _ready(graph):
        _SplitWalk(graph).run()


MAX_SPLIT_DEPTH = 100
"""Splits nested deeper than this are refused: the run's recorded graph (``current.graph``'s
``graph_structure``) nests two lists per level, and past a few hundred levels pickling it for
the start task's result exhausted Python's stack (the task died with exit code 70 and no word
of why). No real flow comes near; a fan-out that deep is one foreach over combined items."""


def check_depth(graph: Graph) -> None:
    """No step runs inside more than :data:`MAX_SPLIT_DEPTH` nested splits (after
    :func:`check_splits`, which finds each step's open splits)."""
    if not _ready(graph):
        return
    for node in graph:
        if len(node.split_parents) > MAX_SPLIT_DEPTH:
            opener = graph[node.split_parents[MAX_SPLIT_DEPTH]]
            raise _error(
                opener, f"step '{opener.name}' opens a split nested {MAX_SPLIT_DEPTH + 1} deep "
                f"(inside {MAX_SPLIT_DEPTH} others), more than the {MAX_SPLIT_DEPTH} a flow may "
                "nest", fix=f"nest fewer splits around '{opener.name}': fan out once over "
                "combined items (itertools.product) instead of one foreach inside another")


RULES = (check_marks, check_steps, check_endpoints, check_targets, check_loops, check_reachable,
         check_splits, check_depth)


def _ready(graph: Graph) -> bool:
    """A start and an end step, and only transitions to known steps: what the rules that walk
    the graph need."""
    return (graph.start_step in graph and graph.end_step in graph
            and all(target in graph for node in graph for target in node.out))


def _reached(graph: Graph) -> set[str]:
    start = graph.start_step
    assert start is not None
    return set(_reach(graph, start)) | {start}


def _error(
    node: StepNode, msg: str, *, line: int | None = None, fix: str | None = None
) -> GraphError:
    return GraphError(msg, step=node.name, file=node.file, line=line or node.line, fix=fix)


def reserved_step_names() -> frozenset[str]:
    """Names a step may not take: every public name of :class:`FlowSpec` (``self.input``,
    ``self.next``, ...), the attributes a step may not assign, and ``cmd``, which Metaflow also
    reserves. A step with such a name would replace the framework's attribute on ``self``.
    """
    public = {name for name in dir(FlowSpec) if not name.startswith("_")}
    return frozenset(public | RESERVED | {"cmd"})


def _owned_by_the_framework(name: str, reserved: frozenset[str]) -> bool:
    """Public reserved names, and the private ones a step would shadow just the same: any
    attribute :class:`FlowSpec` defines (``_graph``), any dunder (``__init__``, ``__setattr__``)
    and the ``_hw`` prefix the runtime keeps its state under."""
    return (name in reserved or name in dir(FlowSpec) or name.startswith("_hw")
            or (name.startswith("__") and name.endswith("__")))


def _check_name(node: StepNode, reserved: frozenset[str]) -> None:
    if _owned_by_the_framework(node.name, reserved):
        raise _error(
            node,
            f"step {node.name!r} has a name the framework owns: self.{node.name} must stay "
            f"headwater's (reserved: {', '.join(sorted(reserved))}, every other attribute of "
            "FlowSpec, dunder names and names starting with _hw)",
            fix=f"rename the step, e.g. {node.name.strip('_')}_step, and the self.next calls "
            "that go to it",
        )


def _check_start_end(graph: Graph) -> str:
    """One start step and one end step, found by mark or by name; the start step's name."""
    _name_endpoints(graph)
    for role, verb in (("start", "begins"), ("end", "finishes")):
        _check_endpoint(graph, role, verb)
    assert graph.start_step is not None and graph.end_step is not None
    return graph.start_step


def _name_endpoints(graph: Graph) -> None:
    """A graph made by hand (not by build) names no endpoints: its steps start and end are."""
    if graph.start_step is None and not any(node.marked_start for node in graph):
        graph.start_step = "start" if "start" in graph else None
    if graph.end_step is None and not any(node.marked_end for node in graph):
        graph.end_step = "end" if "end" in graph else None
    for node in graph:
        node.is_start = node.name == graph.start_step
        node.is_end = node.name == graph.end_step


def _check_marks(graph: Graph) -> None:
    """At most one step marked @step(start=True), and one marked @step(end=True)."""
    for role, verb in (("start", "begins"), ("end", "finishes")):
        marked = [node for node in graph
                  if (node.marked_start if role == "start" else node.marked_end)]
        if len(marked) > 1:
            names = ", ".join(repr(node.name) for node in marked)
            raise _error(
                marked[1],
                f"flow {graph.flow_name} marks {len(marked)} steps with @step({role}=True) "
                f"({names}); a flow {verb} at exactly one step",
                fix=f"keep {role}=True on one of them and write plain @step on the others",
            )


def _check_endpoint(graph: Graph, role: str, verb: str) -> None:
    chosen = graph.start_step if role == "start" else graph.end_step
    if chosen is None:
        from headwater.graph.stray_defs import stray_step_def  # only once a check failed

        stray = stray_step_def(graph.file, graph.flow_name, role)
        raise GraphError(
            f"flow {graph.flow_name} has no {role!r} step: every flow {verb} at a step named "
            f"{role} or marked @step({role}=True)"
            + (f"; {stray.split(': ', 1)[0]}" if stray else ""),
            step=role,
            file=graph.file,
            line=graph.line,
            fix=stray.split(": ", 1)[1] if stray else
            f"add a method decorated with @step named {role}, or mark the step the flow "
            f"{verb} at with @step({role}=True)",
        )
    if chosen != role and role in graph:
        raise _error(
            graph[role],
            f"flow {graph.flow_name} {verb} at {chosen!r}, marked @step({role}=True), but also "
            f"has a step named {role!r}: which one is the {role} step is ambiguous",
            fix=f"rename step {role!r}, or remove {role}=True from {chosen!r}",
        )


def _check_targets(graph: Graph) -> None:
    names = list(graph.nodes)
    for node in graph:
        for target in node.out:
            if target in graph:
                continue
            match = closest(target, names)
            hint = f"; did you mean self.{match}?" if match else ""
            from headwater.graph.stray_defs import stray_step_def  # only once a check failed

            stray = None if match else stray_step_def(graph.file, graph.flow_name, target)
            raise _error(
                node,
                f"step {node.name!r} goes to self.{target}, but the flow has no step named "
                f"{target!r}{hint}" + (f"; {stray.split(': ', 1)[0]}" if stray else ""),
                line=node.next_line,
                fix=stray.split(": ", 1)[1] if stray else
                f"define @step def {target}(self): ..., or point self.next at an existing step",
            )


def _reach(graph: Graph, start: str, switch_edges: bool = True) -> dict[str, str | None]:
    """Steps reachable from ``start`` (breadth-first), each mapped to the step it was reached from.

    ``start`` itself is in the result only when a path leads back to it.
    """
    came_from: dict[str, str | None] = {}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        node = graph[name]
        if not switch_edges and node.transition == SWITCH:
            continue
        for target in node.out:
            if target not in came_from:
                came_from[target] = name
                queue.append(target)
    return came_from


def _check_reachable(graph: Graph, reached: set[str]) -> None:
    for node in graph:
        if node.name not in reached:
            raise _error(
                node,
                f"step {node.name!r} is not reachable from start: no path of self.next calls "
                "leads to it",
                fix=f"make a step go to it with self.next(self.{node.name}), or delete it",
            )


def _successors(graph: Graph, name: str, switch_edges: bool) -> list[str]:
    node = graph[name]
    if not switch_edges and node.transition == SWITCH:
        return []
    return [target for target in node.out if target in graph]


def _loops(graph: Graph, within: set[str], switch_edges: bool = True) -> list[list[str]]:
    """The strongly connected parts of the graph that hold a cycle, in source order.

    Tarjan's algorithm, iterative so that a long chain of steps cannot hit the recursion limit;
    linear in steps + transitions, so large graphs stay cheap.
    """
    order = {name: i for i, name in enumerate(graph.nodes)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []
    for root in graph.nodes:
        if root in index or root not in within:
            continue
        work = [(root, iter(_successors(graph, root, switch_edges)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            name, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(_successors(graph, child, switch_edges))))
                    break
                if child in on_stack:
                    low[name] = min(low[name], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[name])
                if low[name] == index[name]:
                    part = _pop_until(stack, on_stack, name)
                    if len(part) > 1 or name in _successors(graph, name, switch_edges):
                        loops.append(sorted(part, key=order.__getitem__))
    return sorted(loops, key=lambda part: order[part[0]])


def _pop_until(stack: list[str], on_stack: set[str], name: str) -> list[str]:
    part: list[str] = []
    while not part or part[-1] != name:
        part.append(stack.pop())
        on_stack.discard(part[-1])
    return part


def _cycle_path(graph: Graph, head: str) -> list[str]:
    """A shortest cycle head -> ... -> head over non-switch transitions."""
    came_from = _reach(graph, head, switch_edges=False)
    path = [head]
    step = came_from[head]
    while step is not None and step != head:
        path.append(step)
        step = came_from[step]
    path.append(head)
    return path[::-1]


def _check_unconditional_cycles(graph: Graph, reached: set[str]) -> None:
    """A cycle with no switch on it repeats forever (and a split on it multiplies tasks)."""
    loops = _loops(graph, reached, switch_edges=False)
    if not loops:
        return
    path = _cycle_path(graph, loops[0][0])
    closing = graph[path[-2]]
    raise _error(
        closing,
        f"infinite loop: {' -> '.join(path)} always repeats, because none of these steps is a "
        f"switch; step {closing.name!r} goes back to {path[0]!r}",
        line=closing.next_line,
        fix="make one step of the loop a switch with a case that leaves it, e.g. "
        "self.next({'again': self.a, 'done': self.end}, condition='state')",
    )


def _check_loop_exits(graph: Graph, reached: set[str]) -> None:
    """A loop through switches is fine as long as some case of some switch leaves it."""
    for loop in _loops(graph, reached):
        members = set(loop)
        switches = [graph[name] for name in loop if graph[name].transition == SWITCH]
        if any(set(node.out) - members for node in switches):
            continue
        where = switches[0] if switches else graph[loop[0]]
        raise _error(
            where,
            f"infinite loop: the loop through {', '.join(loop)} never ends, because no case of "
            f"the switch in {where.name!r} leads out of it",
            line=where.next_line,
            fix="add a case that goes to a step outside the loop, e.g. 'done': self.end",
        )


def _describe(graph: Graph, stack: _Stack) -> str:
    if not stack:
        return "outside any split"
    split, branch = stack[-1]
    kind = _kind(graph[split])
    if graph[split].transition == SPLIT:
        return f"inside the {kind} at {split!r} (branch {branch!r})"
    return f"inside the {kind} at {split!r}"


def _from(pred: str | None) -> str:
    return repr(pred) if pred else "the beginning of the run"


def _kind(node: StepNode) -> str:
    return {SPLIT: "split", FOREACH: "foreach", PARALLEL: "parallel split"}.get(
        node.transition, node.transition
    )


class _SplitWalk:
    """Walk from start carrying the stack of open splits, checking that splits and joins nest.

    A split, foreach or parallel step pushes itself (with the branch entered) for its children; a
    join pops the top. A step is entered with one stack only, unless it is a join that all its
    inputs reach with the same split on top. Each step is expanded once, so loops terminate.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.own: dict[str, _Stack] = {}  # the stack each step runs with
        self.first: dict[str, tuple[str | None, _Stack]] = {}  # first (from, entering stack)
        self.joins: dict[str, str] = {}  # split step -> the join that closes it
        self.open_at_end: list[tuple[str | None, _Stack]] = []

    def run(self) -> None:
        start = self.graph.start_step or "start"
        queue: deque[tuple[str, str | None, _Stack]] = deque([(start, None, ())])
        while queue:
            name, pred, stack = queue.popleft()
            own = self._enter(self.graph[name], pred, stack)
            if own is None:
                continue
            node = self.graph[name]
            for target in node.out:
                pushed = ((name, target),) if node.transition in _OPENERS else ()
                queue.append((target, name, own + pushed))
        self._check_end()
        self._fill()

    def _enter(self, node: StepNode, pred: str | None, stack: _Stack) -> _Stack | None:
        """The stack ``node`` runs with if it is entered for the first time, else None."""
        own = self._pop(node, pred, stack) if node.is_join else stack
        if node.transition == END and own:
            self.open_at_end.append((pred, own))
        if node.name in self.first:
            if not node.is_join and node.transition != END:
                self._compare(node, pred, stack)
            return None
        self.first[node.name] = (pred, stack)
        self.own[node.name] = own
        return own

    def _pop(self, node: StepNode, pred: str | None, stack: _Stack) -> _Stack:
        """A join closes the innermost open split; all its inputs must come from that split."""
        if not stack:
            self._raise_nothing_to_join(node, pred)
        split = stack[-1][0]
        if pred == split:
            kind = _kind(self.graph[split])
            raise _error(
                node,
                f"join {node.name!r} comes straight from {split!r}, the {kind} it closes: a "
                f"join's inputs are the branches of a {kind}, and this branch has no step",
                fix=f"in {split!r}, go to the first step of the branch; that step goes to "
                f"{node.name!r}",
            )
        if node.name in self.first:
            first_pred, first_stack = self.first[node.name]
            if first_stack[-1][0] != split:
                raise _error(
                    node,
                    f"join {node.name!r} closes branches of different splits: {first_pred!r} "
                    f"comes from {first_stack[-1][0]!r} but {pred!r} from {split!r}; each join "
                    "closes the branches of one split",
                    fix="join the inner split first, then the outer one, each with its own join",
                )
            if first_stack[:-1] != stack[:-1]:
                self._compare(node, pred, stack)
            return stack[:-1]
        closing = self.joins.setdefault(split, node.name)
        if closing != node.name:
            raise _error(
                node,
                f"the branches of {split!r} go to two different joins, {closing!r} and "
                f"{node.name!r}; all branches of a split must meet at one join",
                fix=f"send every branch of {split!r} to {closing!r}",
            )
        return stack[:-1]

    def _raise_nothing_to_join(self, node: StepNode, pred: str | None) -> None:
        came = f"its input {pred!r} is" if pred else "it is the first step and"
        raise _error(
            node,
            f"step {node.name!r} takes an inputs argument, so it is a join, but {came} not "
            "inside a split or foreach: there is nothing to join",
            fix=f"remove the inputs argument: def {node.name}(self): ...; data from earlier "
            "steps comes through self, not through arguments (what a step sets as self.x, the "
            "steps after it read as self.x)",
        )

    def _compare(self, node: StepNode, pred: str | None, stack: _Stack) -> None:
        """``node`` is entered a second time: it must be with the stack of the first time."""
        first_pred, first_stack = self.first[node.name]
        if first_stack == stack:
            return
        for (split_a, branch_a), (split_b, branch_b) in zip(first_stack, stack, strict=False):
            if split_a == split_b and branch_a != branch_b and not node.is_join:
                raise _error(
                    node,
                    f"step {node.name!r} is reached from two branches of the split at "
                    f"{split_a!r} (from {_from(first_pred)} and from {_from(pred)}), so it "
                    "joins them: "
                    "it needs an inputs argument",
                    fix=f"def {node.name}(self, inputs): ... (read each branch from inputs, or "
                    "call self.merge_artifacts(inputs))",
                )
        raise _error(
            node,
            f"step {node.name!r} is reached from {_from(first_pred)} "
            f"{_describe(self.graph, first_stack)} and from {_from(pred)} "
            f"{_describe(self.graph, stack)}; a step must be inside the same splits on every path",
            fix="close each split with its join before leaving it, and do not jump into the "
            "middle of a split from outside",
        )

    def _check_end(self) -> None:
        if not self.open_at_end:
            return
        pred, stack = self.open_at_end[0]
        split = self.graph[stack[-1][0]]
        node = self.graph[pred] if pred else self.graph[self.graph.end_step or "end"]
        meant = self._join_without_inputs(split.name)
        if meant is not None:
            raise _error(
                meant,
                f"step {meant.name!r} lacks the inputs argument, so it does not join the "
                f"{_kind(split)} at {split.name!r} (line {split.next_line}) and the flow "
                "reaches end inside it",
                fix=f"def {meant.name}(self, inputs): ... (read each branch from inputs, or call "
                "self.merge_artifacts(inputs))",
            )
        raise _error(
            node,
            f"the {_kind(split)} at {split.name!r} (line {split.next_line}) is never joined: "
            f"step {node.name!r} goes to end while still inside it",
            line=node.next_line,
            fix=f"send the branches of {split.name!r} to a join step first, e.g. {_JOIN_EXAMPLE}",
        )

    def _join_without_inputs(self, split: str) -> StepNode | None:
        """The step inside ``split`` that is named like a join but takes no ``inputs``."""
        for node in self.graph:
            inside = any(name == split for name, _ in self.own.get(node.name, ()))
            if inside and not node.is_join and "join" in node.name.lower():
                return node
        return None

    def _fill(self) -> None:
        for node in self.graph:
            node.split_parents = tuple(split for split, _ in self.own.get(node.name, ()))
            node.matching_join = self.joins.get(node.name)
