"""The graph of a flow: built from the flow class's source, validated, and rendered.

``check_flow(FlowClass)`` is what callers want: the validated :class:`Graph`, or a
:class:`~headwater.exceptions.GraphError` that names the step, its file:line and the fix.
"""

from headwater.graph.build import build_graph
from headwater.graph.model import Graph, StepNode
from headwater.graph.render import render_dot, render_mermaid, render_text
from headwater.graph.validate import check_flow, validate

__all__ = [
    "Graph",
    "StepNode",
    "build_graph",
    "check_flow",
    "render_dot",
    "render_mermaid",
    "render_text",
    "validate",
]

# ``flow._graph`` / iterating a flow object: the view registers itself with FlowSpec on import.
from headwater.graph import metaflow_view  # noqa: E402,F401
