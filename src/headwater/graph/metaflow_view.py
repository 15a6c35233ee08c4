"""The graph as tools written for Metaflow read it (``MyFlow._graph``, iterating a flow).

headwater's :class:`StepNode` names node types its own way (``start`` for any start step,
``split-parallel`` for ``num_parallel``) and keeps its own field names; Metaflow's linter, its
checkers and tools branch on Metaflow's names and read Metaflow's attributes (``in_funcs``,
``func_lineno``, ``decorators``, ``sorted_nodes``, ``output_steps()``). This read-only view gives
them those over headwater's one graph; any other attribute is the StepNode's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headwater.exceptions import GraphError
from headwater.flow.flowspec import use_graph_view
from headwater.flow.step import DECORATORS_ATTR
from headwater.graph.build import build_graph
from headwater.graph.model import FOREACH, PARALLEL, Graph, StepNode
from headwater.graph.validate import validate


class MetaflowNode:
    """One step, with Metaflow's ``type`` and attribute names; others are the StepNode's."""

    def __init__(self, node: StepNode, func: Any = None, graph: Graph | None = None) -> None:
        self._node = node
        self._func = func  # the step function, when the flow class is known
        self._graph = graph

    @property
    def type(self) -> str:
        return self._node.metaflow_type

    @property
    def func_lineno(self) -> int:
        return self._node.line

    @property
    def source_file(self) -> str:
        return self._node.file

    @property
    def tail_next_lineno(self) -> int:
        return self._node.next_line

    @property
    def split_parents(self) -> list[str]:
        return list(self._node.split_parents)

    @property
    def is_inside_foreach(self) -> bool:
        """Inside a foreach (or parallel) split that this step does not itself join."""
        graph = self._graph
        if graph is None:
            return False
        return any(graph[parent].transition in (FOREACH, PARALLEL)
                   and graph[parent].matching_join != self._node.name
                   for parent in self._node.split_parents)

    @property
    def decorators(self) -> list[Any]:
        """The step's decorators (``@retry``, ``@card``, ...), each with ``name`` and
        ``attributes``."""
        return list(getattr(self._func, DECORATORS_ATTR, None) or ())

    @property
    def wrappers(self) -> list[Any]:
        """The step's user step decorators, outermost first."""
        from headwater.decorators.user_step import user_wrappers

        return user_wrappers(self._func) if self._func is not None else []

    @property
    def config_decorators(self) -> list[Any]:
        """The step's step mutators, in the order they run."""
        from headwater.decorators.mutators import step_mutators

        return list(step_mutators(self._func)) if self._func is not None else []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)

    def __repr__(self) -> str:
        return f"<step {self._node.name} ({self.type})>"


class MetaflowGraph:
    """Nodes by step name, iterated start first and end last; ``start_step`` / ``end_step``
    name them, whatever their names. ``flow_cls`` (when known) gives the nodes their step
    functions: their decorators, user decorators and mutators."""

    def __init__(self, graph: Graph, flow_cls: type | None = None) -> None:
        self._graph = graph
        self._flow_cls = flow_cls
        self.name = graph.flow_name
        self.doc = graph.doc
        self.start_step = graph.start_step
        self.end_step = graph.end_step

    @property
    def headwater_graph(self) -> Graph:
        """The graph this view shows (what headwater's rules and renderers take)."""
        return self._graph

    def _node(self, node: StepNode) -> MetaflowNode:
        func = getattr(self._flow_cls, node.name, None) if self._flow_cls is not None else None
        return MetaflowNode(node, func, self._graph)

    def __getitem__(self, name: str) -> MetaflowNode:
        return self._node(self._graph[name])

    def __contains__(self, name: object) -> bool:
        return name in self._graph

    def __iter__(self) -> Iterator[MetaflowNode]:
        return iter([self._node(node) for node in self._graph.ordered()])

    def __len__(self) -> int:
        return len(self._graph)

    @property
    def nodes(self) -> dict[str, MetaflowNode]:
        """Every step by name, in source order."""
        return {name: self._node(node) for name, node in self._graph.nodes.items()}

    @property
    def sorted_nodes(self) -> list[str]:
        """The steps reachable from start in topological order: start first, end last."""
        return self._graph.topological()

    def output_steps(self) -> tuple[dict[str, Any], list[Any]]:
        """``(steps, graph_structure)``: each step as a dict (name, type, line, doc, decorators,
        next, ...) and the steps from start to end, a split followed by one list per branch;
        the two halves of ``current.graph``."""
        missing = [role for role, step in (("start", self.start_step), ("end", self.end_step))
                   if step is None]
        if missing:
            raise GraphError(
                f"flow {self.name} has no {' and no '.join(missing)} step, so its steps have no "
                "order from start to end",
                fix="name the steps start and end, or mark them @step(start=True) / "
                "@step(end=True)")
        from headwater.graph.info import graph_info

        info = graph_info(self._graph, self._flow_cls)
        return info["steps"], info["graph_structure"]

    def output_dot(self) -> str:
        """The graph in Graphviz's DOT language."""
        from headwater.graph.render import render_dot

        return render_dot(self._graph)

    def __str__(self) -> str:
        return "\n".join(f"[{name}] {self[name].type} -> {', '.join(self[name].out_funcs)}"
                         for name in self.sorted_nodes)


def flow_graph(flow_cls: type) -> MetaflowGraph:
    """The view of ``flow_cls``'s graph, its splits and joins filled in when the flow is valid
    (a flawed flow's graph is still shown: :mod:`headwater.compat.lint` reports its flaws)."""
    graph = build_graph(flow_cls)
    try:
        validate(graph)
    except GraphError:
        pass
    return MetaflowGraph(graph, flow_cls)


use_graph_view(flow_graph)
