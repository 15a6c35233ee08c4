"""build_graph: what it reads from a flow class's source (transitions, lines, docs, inheritance)."""

from __future__ import annotations

import functools
import inspect

import pytest

from headwater.exceptions import GraphError
from headwater.flow.step import step
from headwater.graph import build_graph
from headwater.graph.model import END, FOREACH, LINEAR, PARALLEL, SPLIT, SWITCH


def line_of(func, needle: str, nth: int = 0) -> int:
    """Absolute line of the ``nth`` source line of ``func`` containing ``needle``."""
    lines, first = inspect.getsourcelines(inspect.unwrap(func))
    return [first + i for i, text in enumerate(lines) if needle in text][nth]


class LinearFlow:
    """A flow with three steps in a row.

    Second paragraph.
    """

    @step
    def start(self):
        """Begin here."""
        self.x = 1
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        """The end."""


def test_linear_flow_nodes_in_source_order():
    graph = build_graph(LinearFlow)
    assert graph.flow_name == "LinearFlow"
    assert list(graph.nodes) == ["start", "middle", "end"]
    assert graph["start"].transition == LINEAR
    assert graph["start"].out == ("middle",)
    assert graph["middle"].in_steps == ("start",)
    assert graph["end"].transition == END
    assert graph["end"].out == ()
    assert graph["end"].in_steps == ("middle",)


def test_docs_files_and_lines_are_recorded():
    graph = build_graph(LinearFlow)
    assert graph.doc == "A flow with three steps in a row.\n\nSecond paragraph."
    assert graph.file == __file__
    assert graph.line == line_of(LinearFlow, "class LinearFlow")
    start = graph["start"]
    assert start.doc == "Begin here."
    assert start.file == __file__
    # The def line, not the @step line above it.
    assert start.line == line_of(LinearFlow.start, "def start")
    assert start.next_line == line_of(LinearFlow.start, "self.next(")
    assert graph["middle"].doc == ""
    assert graph["end"].next_line == 0


class BranchFlow:
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_split_and_join():
    graph = build_graph(BranchFlow)
    assert graph["start"].transition == SPLIT
    assert graph["start"].out == ("a", "b", "c")
    assert graph["join"].is_join
    assert not graph["a"].is_join
    assert graph["join"].in_steps == ("a", "b", "c")
    assert graph["join"].type == "join"


class ForeachFlow:
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, whatever_name):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_foreach_and_join_with_any_parameter_name():
    graph = build_graph(ForeachFlow)
    assert graph["start"].transition == FOREACH
    assert graph["start"].foreach_var == "items"
    assert graph["start"].out == ("body",)
    assert graph["join"].is_join


class SwitchFlow:
    @step
    def start(self):
        self.choice = "yes"
        self.next({"yes": self.a, "no": self.b, 3: self.b, True: self.a}, condition="choice")

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_switch_cases_keys_are_str_and_out_is_deduplicated():
    node = build_graph(SwitchFlow)["start"]
    assert node.transition == SWITCH
    assert node.condition_var == "choice"
    assert node.switch_cases == {"yes": "a", "no": "b", "3": "b", "True": "a"}
    assert list(node.switch_cases) == ["yes", "no", "3", "True"]
    assert node.out == ("a", "b")


class ParallelFlow:
    @step
    def start(self):
        self.next(self.train, num_parallel=self.workers * 2)

    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_parallel_keeps_expression_source():
    node = build_graph(ParallelFlow)["start"]
    assert node.transition == PARALLEL
    assert node.num_parallel == "self.workers * 2"
    assert node.out == ("train",)


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


class DecoratedFlow:
    @logged
    @step
    def start(this):
        """Wrapped."""
        this.next(this.end)

    @step
    def end(self):
        pass


def test_wrapped_step_and_other_self_name():
    graph = build_graph(DecoratedFlow)
    start = graph["start"]
    assert start.out == ("end",)
    assert start.doc == "Wrapped."
    assert start.line == line_of(DecoratedFlow.start, "def start")
    assert not start.problems


class BaseFlow:
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildFlow(BaseFlow):
    @step
    def middle(self):
        self.next(self.extra)

    @step
    def extra(self):
        self.next(self.end)


def test_inherited_steps_and_override():
    graph = build_graph(ChildFlow)
    assert graph.flow_name == "ChildFlow"
    assert set(graph.nodes) == {"start", "middle", "extra", "end"}
    # Base-class steps first, then the subclass's, each in source order.
    assert list(graph.nodes) == ["start", "end", "middle", "extra"]
    assert graph["middle"].out == ("extra",)
    assert graph["middle"].line == line_of(ChildFlow.middle, "def middle")
    assert graph["end"].in_steps == ("extra",)


class NoLongerAStep(BaseFlow):
    def middle(self):
        pass


def test_override_without_step_removes_the_step():
    assert "middle" not in build_graph(NoLongerAStep)


def test_indented_class_and_multiline_string_at_column_zero():
    class Inner:
        @step
        def start(self):
            self.text = """
no indent here
"""
            self.next(self.end)

        @step
        def end(self):
            pass

    graph = build_graph(Inner)
    assert graph["start"].out == ("end",)
    assert graph["start"].line == line_of(Inner.start, "def start")
    assert graph["start"].next_line == line_of(Inner.start, "self.next(")


def test_next_inside_nested_function_is_not_the_steps():
    class Nested:
        @step
        def start(self):
            def helper():
                self.next(self.other)

            self.next(self.end)

        @step
        def end(self):
            pass

    node = build_graph(Nested)["start"]
    assert node.out == ("end",)
    assert not node.problems


def test_problems_are_recorded_not_raised():
    class Weird:
        @step
        def start(self):
            steps = [self.end]
            self.next(*steps)

        @step
        def end(self):
            pass

    graph = build_graph(Weird)
    (problem,) = graph["start"].problems
    assert isinstance(problem, GraphError)
    assert "could not understand the self.next call" in str(problem)


def test_unreadable_source_is_a_graph_error():
    namespace: dict = {"step": step}
    exec("class Dyn:\n    @step\n    def start(self):\n        self.next(self.end)\n", namespace)
    with pytest.raises(GraphError, match="cannot read the source of step 'start'"):
        build_graph(namespace["Dyn"])
