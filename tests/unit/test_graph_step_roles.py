"""Which steps begin and finish a flow: @step(start=True) / @step(end=True), the names start and
end, or the one step of a single-step flow; and the errors when that is unclear."""

from __future__ import annotations

import inspect

import pytest

from headwater import FlowSpec
from headwater.exceptions import GraphError
from headwater.flow.step import step
from headwater.graph import check_flow
from headwater.graph.info import graph_info
from headwater.graph.metaflow_view import MetaflowGraph


def _line(func, needle: str) -> int:
    lines, first = inspect.getsourcelines(inspect.unwrap(func))
    return next(first + i for i, text in enumerate(lines) if needle in text)


def _error(flow_cls: type) -> GraphError:
    with pytest.raises(GraphError) as info:
        check_flow(flow_cls)
    return info.value


class Custom:
    @step(start=True, node_info={"label": "entry"})
    def begin(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass


def test_marked_steps_begin_and_finish_the_flow():
    graph = check_flow(Custom)
    assert (graph.start_step, graph.end_step) == ("begin", "finish")
    assert graph["begin"].type == "start" and graph["finish"].type == "end"
    assert graph["finish"].transition == "end"
    assert [n.name for n in graph.ordered()] == ["begin", "middle", "finish"]
    assert graph["begin"].node_info == {"label": "entry"} and graph["middle"].node_info == {}
    info = graph_info(graph, Custom)
    assert (info["start_step"], info["end_step"]) == ("begin", "finish")
    assert info["graph_structure"] == ["begin", "middle", "finish"]
    assert info["steps"]["begin"]["node_info"] == {"label": "entry"}


def test_the_metaflow_view_names_the_endpoints_and_the_marks():
    class ViewFlow(FlowSpec):
        @step(start=True)
        def begin(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    view = MetaflowGraph(check_flow(ViewFlow))  # what flow._graph is
    assert (view.start_step, view.end_step) == ("begin", "end")
    assert view["begin"].is_start_step is True and view["end"].is_end_step is False
    assert view["begin"].type == "start" and view["end"].type == "end"


def test_a_bare_single_step_is_start_and_end():
    class Single:
        @step
        def only(self):
            self.x = 1

    graph = check_flow(Single)
    assert (graph.start_step, graph.end_step) == ("only", "only")
    assert graph["only"].type == "end" and graph["only"].metaflow_type == "end"
    assert graph_info(graph, Single)["graph_structure"] == ["only"]


def test_a_single_step_may_not_call_next():
    class Loner:
        @step(start=True, end=True)
        def only(self):
            self.next(self.only)

    err = _error(Loner)
    assert err.step == "only" and err.line == _line(Loner.only, "self.next(")
    assert "is the flow's end step and must not call self.next" in str(err)
    assert "remove the self.next call from only" in str(err)


def test_two_marked_starts_are_refused_naming_both():
    class TwoStarts:
        @step(start=True)
        def a(self):
            self.next(self.end)

        @step(start=True)
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = _error(TwoStarts)
    assert err.step == "b" and err.line == _line(TwoStarts.b, "def b")
    assert "flow TwoStarts marks 2 steps with @step(start=True) ('a', 'b')" in str(err)
    assert "keep start=True on one of them" in str(err)


def test_two_marked_ends_are_refused():
    class TwoEnds:
        @step
        def start(self):
            self.next(self.x, self.y)

        @step(end=True)
        def x(self):
            pass

        @step(end=True)
        def y(self):
            pass

    err = _error(TwoEnds)
    assert "marks 2 steps with @step(end=True) ('x', 'y')" in str(err)


def test_a_marked_start_beside_a_step_named_start_is_ambiguous():
    class Both:
        @step(start=True)
        def begin(self):
            self.next(self.start)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = _error(Both)
    assert err.step == "start"
    assert "flow Both begins at 'begin', marked @step(start=True), but also has a step named " \
        "'start'" in str(err)
    assert "rename step 'start', or remove start=True from 'begin'" in str(err)


def test_no_start_at_all_says_both_ways_to_fix_it():
    class NoStart:
        @step
        def begin(self):
            self.next(self.finish)

        @step(end=True)
        def finish(self):
            pass

    err = _error(NoStart)
    assert err.step == "start"
    assert "flow NoStart has no 'start' step" in str(err)
    assert "or mark the step the flow begins at with @step(start=True)" in str(err)


def test_the_marked_end_step_must_not_call_next():
    class EndNext:
        @step(start=True)
        def begin(self):
            self.next(self.finish)

        @step(end=True)
        def finish(self):
            self.next(self.begin)

    err = _error(EndNext)
    assert err.step == "finish" and err.line == _line(EndNext.finish, "self.next(")
    assert "step 'finish' is the flow's end step and must not call self.next" in str(err)


def test_the_kept_graph_and_the_ui_layout_begin_at_the_marked_start():
    from headwater.graph.export import graph_as_dict
    from headwater.ui.layout import layout

    class Looping:
        @step(end=True)
        def finish(self):  # defined first: the layout must not take the first step as the start
            pass

        @step(start=True)
        def begin(self):
            self.next({"more": self.begin, "done": self.finish}, condition="state")

    kept = graph_as_dict(check_flow(Looping))
    assert (kept["start_step"], kept["end_step"]) == ("begin", "finish")
    placed = {node["name"]: node["y"] for node in layout(kept)["nodes"]}
    assert placed["begin"] < placed["finish"]


def test_a_last_step_without_next_is_told_about_end_true():
    class Unmarked:
        @step(start=True)
        def begin(self):
            self.next(self.finish)

        @step
        def finish(self):
            pass

    err = _error(Unmarked)
    assert err.step == "finish" and "never calls self.next" in str(err)
    assert "if the flow finishes at finish, write @step(end=True) above it" in str(err)
