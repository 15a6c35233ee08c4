"""Places the steps of a run's graph in layers, for the run page to draw as SVG.

No graphviz: a step's layer is its longest distance from ``start`` along forward edges (edges
that close a loop are found by a depth-first walk and drawn apart, curving back up), and the
steps of a layer are ordered by the mean position of their predecessors, which keeps branches
side by side and crossings few for the shapes flows have. A foreach fan-out is one box whatever
its number of tasks (its ``foreach`` names what it iterates over); the page shows the count.
"""

from __future__ import annotations

from typing import Any

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 170, 44, 30, 56, 20


def graph_from_tasks(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """A graph rebuilt from the tasks' parents, for runs kept without one (older runs)."""
    steps: dict[str, set[str]] = {}
    for task in tasks:
        steps.setdefault(task["step"], set())
        # a big join lists its first parents only; every parent step is in parent_steps
        parents = task.get("parent_steps") or {p.split("/")[0]: 1 for p in task["parents"]}
        for parent in parents:
            steps.setdefault(parent, set()).add(task["step"])
    return {"steps": [{"name": name, "type": "", "next": sorted(nxt), "foreach": None,
                       "cases": {}} for name, nxt in steps.items()]}


def layout(graph: dict[str, Any]) -> dict[str, Any]:
    """``{"nodes": [...], "edges": [...], "width", "height"}`` with box positions in pixels."""
    steps = {s["name"]: s for s in graph["steps"]}
    order = list(steps)
    back = _back_edges(steps, order, graph.get("start_step") or "start")
    layer = _layers(steps, order, back)
    rows: dict[int, list[str]] = {}
    for name in order:
        rows.setdefault(layer[name], []).append(name)
    position: dict[str, float] = {}
    for depth in sorted(rows):
        rows[depth].sort(key=lambda n: _barycenter(n, steps, position, order))
        for i, name in enumerate(rows[depth]):
            position[name] = i - (len(rows[depth]) - 1) / 2
    widest = max((len(r) for r in rows.values()), default=1)
    width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X
    fanned = {target: step["foreach"] for step in steps.values() if step.get("foreach")
              for target in step["next"]}
    nodes = []
    for name in order:
        x = width / 2 + position[name] * (BOX_W + GAP_X) - BOX_W / 2
        y = PAD + layer[name] * (BOX_H + GAP_Y)
        step = steps[name]
        nodes.append({"name": name, "type": step.get("type", ""), "x": x, "y": y,
                      "w": BOX_W, "h": BOX_H, "foreach": fanned.get(name)})
    edges = []
    for name in order:
        labels = {target: case for case, target in (steps[name].get("cases") or {}).items()}
        for target in steps[name]["next"]:
            if target not in steps:
                continue
            kind = "back" if (name, target) in back else "case" if target in labels else "next"
            edges.append({"from": name, "to": target, "kind": kind,
                          "label": labels.get(target)})
    height = PAD * 2 + (max(rows, default=0) + 1) * (BOX_H + GAP_Y) - GAP_Y
    return {"nodes": nodes, "edges": edges, "width": width, "height": height}


def _back_edges(steps: dict[str, Any], order: list[str], start: str) -> set[tuple[str, str]]:
    """Edges into a step still being walked: the ones that close a loop."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 walking, 2 done
    for root in ([start] if start in steps else []) + order:
        if root in state:
            continue
        stack = [(root, iter(steps[root]["next"]))]
        state[root] = 1
        while stack:
            name, successors = stack[-1]
            target = next(successors, None)
            if target is None:
                state[name] = 2
                stack.pop()
            elif target not in steps:
                continue
            elif state.get(target) == 1:
                back.add((name, target))
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(steps[target]["next"])))
    return back


def _layers(steps: dict[str, Any], order: list[str], back: set[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = {name: [] for name in order}
    for name in order:
        for target in steps[name]["next"]:
            if target in steps and (name, target) not in back:
                preds[target].append(name)
    layer: dict[str, int] = {}

    def depth(name: str) -> int:
        pending = [name]
        while pending:  # iterative longest path: deep graphs must not hit the recursion limit
            current = pending[-1]
            missing = [p for p in preds[current] if p not in layer]
            if missing:
                pending.extend(missing)
                continue
            pending.pop()
            layer[current] = max((layer[p] + 1 for p in preds[current]), default=0)
        return layer[name]

    for name in order:
        if name not in layer:
            depth(name)
    return layer


def _barycenter(name: str, steps: dict[str, Any], position: dict[str, float],
                order: list[str]) -> tuple[float, int]:
    placed = [position[p] for p in order if name in steps[p]["next"] and p in position]
    return (sum(placed) / len(placed) if placed else 0.0, order.index(name))
