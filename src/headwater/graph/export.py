"""The graph as plain JSON, kept beside each run so readers without the flow's code (the web UI)
can draw it: steps, their kind, their successors, and what a fan-out iterates over.

Stored at ``graphs/<flow>/<run_id>.json`` in the run's datastore when the run starts.
"""

from __future__ import annotations

import json
from typing import Any

from headwater.graph.model import Graph

GRAPH_PREFIX = "graphs"


def run_graph_key(flow: str, run_id: str) -> str:
    """Where the graph of run ``flow/run_id`` is kept in the datastore."""
    return f"{GRAPH_PREFIX}/{flow}/{run_id}.json"


def graph_as_dict(graph: Graph, limits: dict[str, int] | None = None) -> dict[str, Any]:
    """``{"flow": ..., "steps": [{name, type, next, foreach, condition, cases, join, doc}],
    "start_step", "end_step"}``, steps in reading order (breadth-first from start, end last).
    ``limits``: step -> its ``@concurrency`` limit, kept as the step's ``concurrency`` (only
    on the steps that have one), so a reader can say why no more of its tasks run at once."""
    steps = []
    for node in graph.ordered():
        entry = {
            "name": node.name,
            "type": node.type,
            "transition": node.transition,
            "next": list(node.out),
            "foreach": node.foreach_var,
            "condition": node.condition_var,
            "cases": dict(node.switch_cases),
            "join": node.matching_join,
            "doc": (node.doc or "").strip().split("\n")[0][:200],
        }
        if limits and node.name in limits:
            entry["concurrency"] = limits[node.name]
        steps.append(entry)
    return {"flow": graph.flow_name, "steps": steps, "start_step": graph.start_step,
            "end_step": graph.end_step}


def graph_json(graph: Graph, limits: dict[str, int] | None = None) -> bytes:
    return json.dumps(graph_as_dict(graph, limits), separators=(",", ":")).encode()
