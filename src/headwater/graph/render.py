"""Print a graph for people: plain text for ``show``, Graphviz DOT and Mermaid for pictures.

Pure string building on a (preferably validated) :class:`Graph`; nothing here runs Graphviz.
"""

from __future__ import annotations

from headwater.graph.model import END, FOREACH, PARALLEL, SWITCH, Graph, StepNode

_INDENT = "    "

# Graphviz shape of a step, by StepNode.type (a key missing here draws a box).
_DOT_SHAPES = {
    "start": "oval",
    "end": "oval",
    "split": "trapezium",
    "foreach": "trapezium",
    "split-parallel": "trapezium",
    "join": "invtrapezium",
    "split-switch": "diamond",
}
# Mermaid node syntax as (opening, closing) around the quoted label.
_MERMAID_SHAPES = {
    "start": ("([", "])"),
    "end": ("([", "])"),
    "split": ("[/", "\\]"),
    "foreach": ("[/", "\\]"),
    "split-parallel": ("[/", "\\]"),
    "join": ("[\\", "/]"),
    "split-switch": ("{", "}"),
}


def describe_next(node: StepNode) -> str:
    """Where a step goes, in words: ``a, b`` / ``a (foreach over 'items')`` / switch cases."""
    if node.transition == SWITCH:
        cases = ", ".join(f"case {case!r}: {target}" for case, target in node.switch_cases.items())
        return f"{cases} (condition {node.condition_var!r})"
    targets = ", ".join(node.out)
    if node.transition == FOREACH:
        return f"{targets} (foreach over {node.foreach_var!r})"
    if node.transition == PARALLEL:
        return f"{targets} (num_parallel={node.num_parallel})"
    return targets


def render_text(graph: Graph) -> str:
    """The flow as ``show`` prints it: its docstring, then each step, its docstring and ``=>``."""
    blocks = [graph.flow_name + (_indent(graph.doc) if graph.doc else "")]
    for node in graph.ordered():
        title = f"step {node.name}" + (" (join)" if node.is_join else "")
        lines = title + (_indent(node.doc) if node.doc else "")
        if node.transition != END and node.out:
            lines += f"\n{_INDENT}=> {describe_next(node)}"
        blocks.append(lines)
    return "\n\n".join(blocks) + "\n"


def indented(text: str) -> str:
    """Every line of ``text`` indented, blank ones too (Metaflow's ``show`` indents so)."""
    return "\n".join(_INDENT + line for line in text.splitlines() or [""])


def _indent(text: str) -> str:
    import textwrap  # only `show` renders; a run imports the module, not this

    return "\n" + textwrap.indent(text, _INDENT, lambda line: bool(line.strip()))


def _edges(node: StepNode) -> list[tuple[str, str]]:
    """(target, label) of each transition leaving ``node``; a switch has one edge per case."""
    if node.transition == SWITCH:
        return [(target, str(case)) for case, target in node.switch_cases.items()]
    if node.transition == FOREACH:
        return [(target, f"foreach {node.foreach_var}") for target in node.out]
    if node.transition == PARALLEL:
        return [(target, f"num_parallel={node.num_parallel}") for target in node.out]
    return [(target, "") for target in node.out]


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(graph: Graph) -> str:
    """Graphviz DOT source: one node per step (shape by type), edges labelled for foreach/cases."""
    lines = [
        f"digraph {_dot_quote(graph.flow_name)} {{",
        "  rankdir=TB;",
        '  node [shape=box, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.ordered():
        attrs = [f"shape={_DOT_SHAPES.get(node.type, 'box')}"]
        if node.doc:
            attrs.append(f"tooltip={_dot_quote(node.doc.splitlines()[0])}")
        lines.append(f"  {_dot_quote(node.name)} [{', '.join(attrs)}];")
    for node in graph.ordered():
        for target, label in _edges(node):
            style = f" [label={_dot_quote(label)}]" if label else ""
            lines.append(f"  {_dot_quote(node.name)} -> {_dot_quote(target)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_id(name: str) -> str:
    # Prefixed: ``end`` (and a few other words) are keywords in Mermaid.
    return f"step_{name}"


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def render_mermaid(graph: Graph) -> str:
    """Mermaid ``flowchart TD`` text; node ids are ``step_<name>``, labels the step names."""
    lines = ["flowchart TD"]
    for node in graph.ordered():
        opening, closing = _MERMAID_SHAPES.get(node.type, ("[", "]"))
        lines.append(
            f"{_INDENT}{_mermaid_id(node.name)}{opening}{_mermaid_text(node.name)}{closing}"
        )
    for node in graph.ordered():
        for target, label in _edges(node):
            arrow = f"-->|{_mermaid_text(label)}|" if label else "-->"
            lines.append(f"{_INDENT}{_mermaid_id(node.name)} {arrow} {_mermaid_id(target)}")
    return "\n".join(lines) + "\n"
