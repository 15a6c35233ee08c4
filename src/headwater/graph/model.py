"""The graph of a flow: steps and the transitions between them.

This is the data model only; :mod:`headwater.graph.build` makes it from a flow class and
:mod:`headwater.graph.validate` checks it. The scheduler walks it; ``show``/``output-dot`` print it.
"""

from __future__ import annotations

from collections.abc import Iterator

from headwater.exceptions import GraphError
from headwater.records import Factory, Record
from headwater.spelling import closest

# How a step leaves: the kind of its (single, by rule) self.next() call.
LINEAR = "linear"  # self.next(self.a)
SPLIT = "split"  # self.next(self.a, self.b)             static branches, closed by a join
FOREACH = "foreach"  # self.next(self.a, foreach='items')  one task per item, closed by a join
SWITCH = "switch"  # self.next({'x': self.a, ...}, condition='var')  exactly one case is taken
PARALLEL = "parallel"  # self.next(self.a, num_parallel=N)   N tasks, closed by a join
END = "end"  # the end step: no next


class StepNode(Record):
    """One step of a flow, as parsed from its source."""

    name: str
    transition: str  # one of LINEAR, SPLIT, FOREACH, SWITCH, PARALLEL, END
    out: tuple[str, ...] = ()  # successor steps, in the order written (switch: case order)
    foreach_var: str | None = None  # FOREACH: the artifact name iterated over
    condition_var: str | None = None  # SWITCH: the artifact whose value picks the case
    switch_cases: dict[str, str] = Factory(dict)  # SWITCH: case value -> step
    num_parallel: str | None = None  # PARALLEL: source text of the num_parallel expression
    is_join: bool = False  # the step function takes an ``inputs`` argument
    num_args: int = 1  # the step function's positional parameters, ``self`` included
    in_steps: tuple[str, ...] = ()  # predecessors (filled by build)
    doc: str = ""
    file: str = ""
    line: int = 0  # line of the ``def``
    next_line: int = 0  # line of the self.next call (0 when none)
    # Filled by validation: the split steps enclosing this step, outermost first, and for a
    # split/foreach/parallel step, the join that closes it.
    split_parents: tuple[str, ...] = ()
    matching_join: str | None = None
    # Filled by build: what is wrong with this step's own source (missing or misplaced self.next,
    # an argument that is not understood, ...). validate() raises the first one; build does not,
    # so that ``show`` and the checks of the whole graph can still look at a flawed flow.
    problems: list[GraphError] = Factory(list, repr=False, compare=False)

    parallel_step: bool = False  # the step is decorated with @parallel (filled by build)
    # The step's role, filled by build: the flow begins at its start step and finishes at its end
    # step (one step is both in a flow of one step). Which steps they are comes from
    # @step(start=True) / @step(end=True), else from the names start and end.
    is_start: bool = False
    is_end: bool = False
    marked_start: bool = False  # written @step(start=True)
    marked_end: bool = False  # written @step(end=True)
    node_info: dict = Factory(dict)  # @step(node_info={...}), kept for tools

    @property
    def type(self) -> str:
        """The node type (start, linear, split, foreach, join, split-switch, split-parallel, end)
        as headwater reads it: ``start`` for the start step whatever it does next (``end`` for the
        one step of a single-step flow)."""
        if self.is_start and not self.is_end:
            return "start"
        if self.is_join:
            return "join"
        if self.transition == SWITCH:
            return "split-switch"
        if self.transition == PARALLEL:
            return "split-parallel"
        return self.transition

    @property
    def metaflow_type(self) -> str:
        """Metaflow's node type, with Metaflow's precedence: ``start`` only for a start step
        that goes on linearly, ``foreach`` for ``num_parallel`` fan-outs (see
        ``parallel_foreach``), and a join that fans out again named by its fan-out."""
        if self.transition == END:
            return "end"
        if self.transition == SWITCH:
            return "split-switch"
        if self.transition in (FOREACH, PARALLEL):
            return "foreach"
        if self.transition == SPLIT:
            return "split"
        if self.is_join:
            return "join"
        return "start" if self.is_start else "linear"

    # Metaflow's attribute names, read by tools written for it.
    @property
    def in_funcs(self) -> list[str]:
        """The steps that go to this one, sorted by name (Metaflow's order)."""
        return sorted(self.in_steps)

    @property
    def out_funcs(self) -> list[str]:
        return list(self.out)

    @property
    def parallel_foreach(self) -> bool:
        return self.transition == PARALLEL

    @property
    def is_start_step(self) -> bool:
        return self.marked_start

    @property
    def is_end_step(self) -> bool:
        return self.marked_end

    @property
    def foreach_param(self) -> str | None:
        return self.foreach_var

    @property
    def condition(self) -> str | None:
        return self.condition_var


class Graph(Record):
    """All steps of a flow, keyed by name, in source order."""

    flow_name: str
    nodes: dict[str, StepNode]
    file: str = ""
    doc: str = ""
    line: int = 0  # line of the ``class`` statement (0 when unknown)
    # Where the flow begins and finishes (the same step in a flow of one step); None when the
    # flow has no such step or marks two, which validation reports.
    start_step: str | None = None
    end_step: str | None = None
    # What the flow's source does that Python lets pass but the user cannot have meant (a step
    # defined twice, a Parameter and a step of one name): said at check and launch, never refused,
    # since Metaflow runs such a flow.
    warnings: list[str] = Factory(list, repr=False, compare=False)

    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[StepNode]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def unknown_step(self, name: str) -> str:
        """``; did you mean 'train'?`` for a step name the graph lacks but spells close to (a
        command line's ``resume trian``, ``spin trian``), else ``""``."""
        close = closest(name, self.nodes)
        return f"; did you mean {close!r}?" if close else ""

    def ordered(self) -> list[StepNode]:
        """Steps in the order a reader expects: breadth-first from start, end last."""
        seen: list[str] = []
        end = self.end_step
        queue = [self.start_step] if self.start_step is not None and self.start_step in self else []
        while queue:
            name = queue.pop(0)
            if name in seen or name not in self.nodes:
                continue
            seen.append(name)
            queue.extend(self.nodes[name].out)
        rest = [n for n in self.nodes if n not in seen]
        ordered = [n for n in seen if n != end] + rest + ([end] if end in seen else [])
        return [self.nodes[n] for n in ordered]

    def topological(self) -> list[str]:
        """The steps reachable from start, each after every step that leads to it (transitions
        that close a loop aside): start first, end last, and the branches of a split in the
        order they are written."""
        start = self.start_step
        if start is None or start not in self.nodes:
            return []
        done: list[str] = []  # finished steps, in reverse of the order returned
        state: dict[str, bool] = {start: False}  # False: on the current path; True: finished
        work = [(start, iter(reversed(self.nodes[start].out)))]
        while work:
            name, children = work[-1]
            for child in children:
                if child in self.nodes and child not in state:
                    state[child] = False
                    work.append((child, iter(reversed(self.nodes[child].out))))
                    break
            else:
                work.pop()
                state[name] = True
                done.append(name)
        return done[::-1]
