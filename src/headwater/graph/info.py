"""``current.graph``: the flow's graph as plain data, in the shape Metaflow gives it.

``{"file", "doc", "parameters", "steps": {name: {...}}, "graph_structure": [...]}``: each step
has its ``name``, Metaflow's ``type`` (``start``, ``linear``, ``join``, ``end``,
``split-static``, ``split-foreach``, ``split-parallel``, ``split-switch``), ``line``, ``doc``,
``decorators`` (name and options), ``next``, and by type ``foreach_artifact``, ``num_parallel``,
``condition``/``switch_cases`` and ``matching_join``. ``graph_structure`` lists the steps from
start to end, a split followed by one list per branch; ``start_step`` and ``end_step`` name them
(the same step in a flow of one step).
"""

from __future__ import annotations

import json
from typing import Any

from headwater.flow.step import DECORATORS_ATTR
from headwater.graph.model import FOREACH, PARALLEL, SPLIT, SWITCH, Graph, StepNode

_SPLIT_TYPES = {SPLIT: "split-static", FOREACH: "split-foreach", PARALLEL: "split-parallel",
                SWITCH: "split-switch"}


def graph_info(graph: Graph, flow_cls: type | None = None,
               parameters: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    steps = {node.name: _step(node, flow_cls) for node in graph.ordered()}
    start, end = graph.start_step, graph.end_step
    structure = _block(graph, start, end, set()) if start in graph and start != end else []
    if end in graph:
        structure.append(end)
    return {"file": graph.file, "doc": graph.doc,
            "parameters": [{"name": name} for name in parameters],
            "steps": steps, "graph_structure": structure,
            "start_step": start, "end_step": end}


def _type(node: StepNode) -> str:
    if node.transition in _SPLIT_TYPES:
        return _SPLIT_TYPES[node.transition]
    return node.metaflow_type


def _step(node: StepNode, flow_cls: type | None) -> dict[str, Any]:
    info: dict[str, Any] = {"name": node.name, "type": _type(node), "line": node.line,
                            "source_file": node.file, "doc": node.doc,
                            "decorators": _decorators(flow_cls, node.name), "next": list(node.out),
                            "node_info": plain_data(node.node_info)}
    if node.transition == FOREACH:
        info["foreach_artifact"] = node.foreach_var
    elif node.transition == PARALLEL:
        info["num_parallel"] = node.num_parallel
    elif node.transition == SWITCH:
        info["condition"] = node.condition_var
        info["switch_cases"] = dict(node.switch_cases)
    if node.matching_join:
        info["matching_join"] = node.matching_join
    return info


def plain_data(value: Any) -> Any:
    """``value`` as JSON-ready data, as Metaflow's ``to_pod`` gives ``node_info``: text and
    numbers as they are, a dict's keys and values converted, a list, set or tuple as a list, a
    function (or any callable) as its ``__qualname__``, anything else as its ``str``."""
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, dict):
        return {plain_data(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [plain_data(v) for v in value]
    if callable(value):
        return getattr(value, "__qualname__", None) or str(value)
    return str(value)


def _decorators(flow_cls: type | None, step: str) -> list[dict[str, Any]]:
    """The step's decorators, then its user step decorators and step mutators (named
    ``module.Class``, their options as ``{"_args": [...], **kwargs}``), as Metaflow lists them;
    every option value that is not plain data is given as its ``repr``."""
    func = getattr(flow_cls, step, None) if flow_cls is not None else None
    if func is None:
        return []
    from headwater.decorators.mutators import step_mutators
    from headwater.decorators.named import full_name
    from headwater.decorators.user_step import user_wrappers

    found = []
    for deco in getattr(func, DECORATORS_ATTR, []):
        found.append(_decorator(getattr(deco, "name", type(deco).__name__),
                                getattr(deco, "attributes", {}), deco))
    for deco in [*user_wrappers(func), *step_mutators(func)]:
        options = {"_args": list(getattr(deco, "_hw_args", ())),
                   **getattr(deco, "_hw_kwargs", {})}
        found.append(_decorator(full_name(type(deco)), options, deco))
    return found


def _decorator(name: str, attributes: Any, deco: Any) -> dict[str, Any]:
    plain = json.loads(json.dumps(attributes, default=repr))
    if name == "secrets":
        _mask_inline_secrets(plain)
    return {"name": name, "attributes": plain,
            "statically_defined": getattr(deco, "_hw_static", True),
            "inserted_by": getattr(deco, "_hw_inserted_by", None)}


def _mask_inline_secrets(attributes: dict[str, Any]) -> None:
    """``@secrets``' inline sources keep their variables' names, not their values: this graph is
    recorded with the run (``_graph_info``) and read back by anyone who can read the run."""
    for source in attributes.get("sources") or ():
        options = source.get("options") if isinstance(source, dict) else None
        env_vars = options.get("env_vars") if isinstance(options, dict) else None
        if isinstance(env_vars, dict):
            options["env_vars"] = dict.fromkeys(env_vars, "***")


def _block(graph: Graph, first: str | None, stop: str | None, seen: set[str]) -> list[Any]:
    """The steps from ``first`` up to (not including) ``stop``, splits as nested lists."""
    steps: list[Any] = []
    name: str | None = first
    while name is not None and name != stop and name not in seen and name in graph:
        seen.add(name)
        node = graph[name]
        steps.append(name)
        if node.transition in (SPLIT, FOREACH, PARALLEL) and node.matching_join:
            steps.append([_block(graph, out, node.matching_join, seen) for out in node.out])
            name = node.matching_join
        elif node.transition == SWITCH:
            steps.append([_block(graph, out, stop, seen) for out in node.out if out != name])
            name = None
        else:
            name = node.out[0] if node.out else None
    return steps
