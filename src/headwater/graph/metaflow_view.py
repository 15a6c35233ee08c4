"""The graph as tools written for Metaflow read it (``flow._graph``, iterating a flow).

headwater's :class:`StepNode` names node types its own way (``start`` for any start step,
``split-parallel`` for ``num_parallel``); Metaflow's checkers and tools branch on Metaflow's names.
This read-only view gives them Metaflow's ``type`` and passes every other attribute through.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headwater.flow.flowspec import use_graph_view
from headwater.graph.build import build_graph
from headwater.graph.model import Graph, StepNode


class MetaflowNode:
    """One step, with Metaflow's ``type``; other attributes are the StepNode's."""

    def __init__(self, node: StepNode) -> None:
        self._node = node

    @property
    def type(self) -> str:
        return self._node.metaflow_type

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)

    def __repr__(self) -> str:
        return f"<step {self._node.name} ({self.type})>"


class MetaflowGraph:
    """Nodes by step name, iterated start first and end last; ``start_step`` / ``end_step``
    name them, whatever their names."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self.name = graph.flow_name
        self.doc = graph.doc
        self.start_step = graph.start_step
        self.end_step = graph.end_step

    def __getitem__(self, name: str) -> MetaflowNode:
        return MetaflowNode(self._graph[name])

    def __contains__(self, name: object) -> bool:
        return name in self._graph

    def __iter__(self) -> Iterator[MetaflowNode]:
        return iter([MetaflowNode(node) for node in self._graph.ordered()])

    def __len__(self) -> int:
        return len(self._graph)


use_graph_view(lambda flow_cls: MetaflowGraph(build_graph(flow_cls)))
