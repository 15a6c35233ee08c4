"""``metaflow.plugins.cards.card_modules.basic``: the two names tools and Metaflow's tests take
from it, ``transform_flow_graph`` and ``DefaultCardJSON``.

Metaflow's default card is built in the browser from a JSON document of components; headwater's
is HTML rendered in the task (:mod:`headwater.cards.default_card`). ``DefaultCardJSON`` gives
that document's shape for a task (a title, then sections of components: the task's facts, the
flow's graph as a ``dag`` component, the artifacts), so a tool that reads the graph or the facts
out of it works; the page itself stays headwater's.
"""

from __future__ import annotations

import json
from typing import Any

from headwater.cards.preview import short_repr

__all__ = ["DefaultCardJSON", "transform_flow_graph"]

# Metaflow's node types (``current.graph``) -> the DAG component's.
_DAG_TYPES = {"linear": "linear", "start": "start", "end": "end", "join": "join",
              "split": "split", "split-static": "split", "split-foreach": "foreach",
              "split-parallel": "foreach", "split-switch": "switch"}


def transform_flow_graph(graph: dict[str, Any]) -> dict[str, Any]:
    """``{"steps", "start_step", "end_step"}`` for the DAG component, from a flow's graph:
    ``current.graph`` / ``_graph_info`` (which name the first and last steps), or an older
    plain ``{step: {...}}`` mapping, whose first and last steps are ``start`` and ``end``."""
    if {"steps", "start_step", "end_step"} <= set(graph):
        steps, start, end = graph["steps"], graph["start_step"], graph["end_step"]
    else:
        steps = graph
        start = "start" if "start" in graph else None
        end = "end" if "end" in graph else None
    return {"steps": {name: _dag_step(info) for name, info in steps.items()},
            "start_step": start, "end_step": end}


def _dag_step(info: dict[str, Any]) -> dict[str, Any]:
    kind = _DAG_TYPES.get(info["type"], "unknown")
    step = {"type": kind, "box_next": info["type"] not in ("linear", "join"),
            "box_ends": info.get("matching_join"), "next": info["next"], "doc": info["doc"]}
    if kind == "switch":
        step.update({key: info[key] for key in ("condition", "switch_cases") if key in info})
    return step


class DefaultCardJSON:
    """The default card of a task as Metaflow's JSON document of components (not a card type
    of its own: ``@card`` renders headwater's HTML)."""

    def __init__(self, options: dict[str, Any] | None = None, components: Any = None,
                 graph: dict[str, Any] | None = None, flow: Any = None, **kwargs: Any) -> None:
        self.options = dict(options or {})
        self.components = list(components or [])
        self.graph, self.flow = graph, flow

    def render(self, task: Any) -> str:
        sections = [_section("Task", [{"type": "table", "data": _facts(task)}])]
        if self.graph:
            sections.append(_section("DAG", [{"type": "dag",
                                              "data": transform_flow_graph(self.graph)}]))
        sections.append(_section("Artifacts", [{"type": "artifacts", "data": _artifacts(task)}]))
        return json.dumps({"title": task.pathspec, "components": sections}, default=repr)


def _section(title: str, contents: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "section", "title": title, "contents": contents}


def _facts(task: Any) -> list[list[str]]:
    return [["pathspec", task.pathspec], ["finished_at", str(task.finished_at)],
            ["successful", str(task.successful)]]


def _artifacts(task: Any) -> list[dict[str, str]]:
    shown = []
    for artifact in task:
        try:
            value = short_repr(artifact.data)
        except Exception as exc:  # noqa: BLE001 - one unreadable artifact must not lose the rest
            value = f"<cannot be read: {exc!r}>"
        shown.append({"name": artifact.id, "data": value})
    return shown
