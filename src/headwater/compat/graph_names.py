"""``metaflow.graph``: ``FlowGraph(MyFlow)``, the flow's graph as Metaflow's tools read it."""

from __future__ import annotations

from headwater.graph.metaflow_view import MetaflowGraph, MetaflowNode, flow_graph

__all__ = ["DAGNode", "FlowGraph"]

# ``flow._graph[name]``'s class, under Metaflow's name: plug-ins import it for type checks.
DAGNode = MetaflowNode


class FlowGraph(MetaflowGraph):
    """``FlowGraph(MyFlow)``: what ``MyFlow._graph`` is, made afresh."""

    def __init__(self, flow: type) -> None:
        view = flow_graph(flow)
        super().__init__(view.headwater_graph, flow)
