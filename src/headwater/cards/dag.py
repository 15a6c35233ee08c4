"""The flow's graph as an inline SVG picture, with one step marked: no script, no network.

Steps are placed in rows by their distance from ``start`` (breadth-first, so loops terminate),
each row centred; an edge goes from the bottom of a step to the top of its successor, and an
edge back up (a loop) curves along the side.
"""

from __future__ import annotations

import html
from typing import Any

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 150, 34, 24, 46, 16


def _rows(graph: Any) -> list[list[str]]:
    depth: dict[str, int] = {}
    start = getattr(graph, "start_step", None) or "start"
    queue = [start] if start in graph else []
    if queue:
        depth[start] = 0
    while queue:
        name = queue.pop(0)
        for nxt in graph[name].out:
            if nxt in graph and nxt not in depth:
                depth[nxt] = depth[name] + 1
                queue.append(nxt)
    last = max(depth.values(), default=-1)
    for node in graph:  # unreachable steps (a flawed flow) go below
        if node.name not in depth:
            last += 1
            depth[node.name] = last
    rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in graph.ordered():
        rows[depth[node.name]].append(node.name)
    return [r for r in rows if r]


def render_dag_svg(graph: Any, highlight: str | None = None) -> str:
    """An ``<svg>`` element drawing ``graph`` with step ``highlight`` filled."""
    rows = _rows(graph)
    widest = max((len(r) for r in rows), default=1)
    width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X + 40
    height = PAD * 2 + len(rows) * BOX_H + (len(rows) - 1) * GAP_Y
    pos: dict[str, tuple[float, float]] = {}
    for r, names in enumerate(rows):
        row_w = len(names) * BOX_W + (len(names) - 1) * GAP_X
        x0 = (width - row_w) / 2
        for i, name in enumerate(names):
            pos[name] = (x0 + i * (BOX_W + GAP_X), PAD + r * (BOX_H + GAP_Y))
    edges = [_edge(pos[n.name], pos[o], width) for n in graph for o in n.out
             if n.name in pos and o in pos]
    boxes = [_box(name, xy, name == highlight, graph[name].type) for name, xy in pos.items()]
    return (
        f'<svg class="hw-dag" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="flow graph">'
        '<defs><marker id="hw-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        'fill="#7a8699"/></marker></defs>'
        + "".join(edges) + "".join(boxes) + "</svg>"
    )


def _edge(src: tuple[float, float], dst: tuple[float, float], width: float) -> str:
    x1, y1 = src[0] + BOX_W / 2, src[1] + BOX_H
    x2, y2 = dst[0] + BOX_W / 2, dst[1]
    if y2 > y1:
        mid = (y1 + y2) / 2
        d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
    else:  # back up the graph: a loop
        side = width - 12
        d = (f"M{src[0] + BOX_W:.0f},{src[1] + BOX_H / 2:.0f} C{side:.0f},{src[1]:.0f} "
             f"{side:.0f},{dst[1] + BOX_H:.0f} {dst[0] + BOX_W:.0f},{dst[1] + BOX_H / 2:.0f}")
    return f'<path d="{d}" fill="none" stroke="#7a8699" marker-end="url(#hw-arrow)"/>'


def _box(name: str, xy: tuple[float, float], marked: bool, kind: str) -> str:
    x, y = xy
    label = name if len(name) <= 20 else name[:19] + "…"
    cls = "hw-dag-step hw-dag-current" if marked else "hw-dag-step"
    fill, stroke, ink = ("#2563eb", "#1d4ed8", "#fff") if marked else ("#f4f6fa", "#9aa5b8", "#1f2937")
    return (
        f'<g class="{cls}" data-step="{html.escape(name, quote=True)}">'
        f"<title>{html.escape(name)} ({html.escape(kind)})</title>"
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
        f'stroke="{stroke}"/>'
        f'<text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 5:.0f}" text-anchor="middle" '
        f'fill="{ink}" font-size="13">{html.escape(label)}</text></g>'
    )
