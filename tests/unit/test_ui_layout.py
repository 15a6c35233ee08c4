"""The run page's graph layout: layers from start, loops drawn back, switch cases labelled."""

from __future__ import annotations

from headwater.ui.layout import graph_from_tasks, layout


def _step(name, nxt, **extra):
    return {"name": name, "type": "", "next": nxt, "foreach": None, "cases": {}, **extra}


def test_branches_sit_side_by_side_and_the_join_below_both():
    graph = {"steps": [_step("start", ["a", "b"]), _step("a", ["join"]), _step("b", ["join"]),
                       _step("join", ["end"]), _step("end", [])]}
    nodes = {n["name"]: n for n in layout(graph)["nodes"]}
    assert nodes["a"]["y"] == nodes["b"]["y"] and nodes["a"]["x"] != nodes["b"]["x"]
    assert nodes["start"]["y"] < nodes["a"]["y"] < nodes["join"]["y"] < nodes["end"]["y"]


def test_a_loop_edge_goes_back_and_a_switch_is_labelled():
    graph = {"steps": [
        _step("start", ["check"]),
        _step("check", ["work", "end"], cases={"again": "work", "done": "end"}),
        _step("work", ["check"]),
        _step("end", []),
    ]}
    drawn = layout(graph)
    edges = {(e["from"], e["to"]): e for e in drawn["edges"]}
    assert edges[("work", "check")]["kind"] == "back"
    assert edges[("check", "work")]["kind"] == "case" and edges[("check", "work")]["label"] == "again"
    assert edges[("check", "end")]["label"] == "done"
    y = {n["name"]: n["y"] for n in drawn["nodes"]}
    assert y["start"] < y["check"] < y["work"]  # the loop does not push check below work


def test_a_foreach_target_names_what_it_iterates_over():
    graph = {"steps": [_step("start", ["work"], foreach="items"), _step("work", ["join"]),
                       _step("join", ["end"]), _step("end", [])]}
    fanned = {n["name"]: n["foreach"] for n in layout(graph)["nodes"]}
    assert fanned == {"start": None, "work": "items", "join": None, "end": None}


def test_a_graph_is_rebuilt_from_tasks_when_none_was_kept():
    tasks = [{"step": "start", "parents": []}, {"step": "work", "parents": ["start/1"]},
             {"step": "work", "parents": ["start/1"]}, {"step": "end", "parents": ["work/2"]}]
    graph = graph_from_tasks(tasks)
    assert {s["name"]: s["next"] for s in graph["steps"]} == {
        "start": ["work"], "work": ["end"], "end": []}
    assert [n["name"] for n in layout(graph)["nodes"]] == ["start", "work", "end"]


def test_a_big_join_rebuilt_from_tasks_keeps_every_branch_past_its_first_ten_inputs():
    """A task lists its first ten parents only (a join of 10,000 would be 120 KB a row); the
    steps of the rest are in ``parent_steps``, so no branch loses its edge to the join."""
    from headwater.meta.rows import TaskRow
    from headwater.ui.reader import PARENTS_LISTED, task_summary

    branches = [f"b{i:02d}" for i in range(12)]
    row = TaskRow(flow="F", run_id="1", step="join", task_id="99", status="succeeded",
                  created_at=1.0, finished_at=2.0, frames=(), origin_pathspec=None, attempts=1,
                  parents=tuple(f"{b}/{i}" for i, b in enumerate(branches)))
    join = task_summary(row)
    assert len(join["parents"]) == PARENTS_LISTED and join["parent_count"] == 12
    assert join["parent_steps"] == {b: 1 for b in branches}
    tasks = [{"step": "start", "parents": []},
             *({"step": b, "parents": ["start/1"]} for b in branches), join]
    graph = {s["name"]: s["next"] for s in graph_from_tasks(tasks)["steps"]}
    assert all(graph[b] == ["join"] for b in branches)


def test_a_deep_graph_does_not_hit_the_recursion_limit():
    names = [f"s{i}" for i in range(3000)]
    steps = [_step(n, [names[i + 1]] if i + 1 < len(names) else []) for i, n in enumerate(names)]
    assert len(layout({"steps": steps})["nodes"]) == 3000
