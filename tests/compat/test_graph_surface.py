"""The flow's graph as Metaflow exposes it (``MyFlow._graph``), ``metaflow.lint`` and
``MyFlow._flow_state``: what Metaflow's ``test/unit/test_graph_structure.py`` and
``test_sourceless_dag_node.py`` read, pinned down in headwater's own suite."""

from __future__ import annotations

import pytest

from headwater import FlowSpec, step
from headwater.compat.flowspec_names import FlowStateItems
from headwater.compat.graph_names import FlowGraph
from headwater.compat.lint import LintWarn, linter
from headwater.decorators import resources, retry
from headwater.decorators.mutators import FlowMutator, StepMutator
from headwater.exceptions import GraphError
from headwater.flow import Config


class Branchy(FlowSpec):
    @step(start=True)
    def entry(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.merge)

    @step
    def b(self):
        self.next(self.bb)

    @step
    def bb(self):
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.next(self.done)

    @step(end=True)
    def done(self):
        pass


class Nested(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 2]
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.ys = [1, 2]
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_the_graph_is_read_on_the_class_and_on_instances():
    graph = Branchy._graph
    assert graph is Branchy._graph  # built once per class
    assert (graph.start_step, graph.end_step) == ("entry", "done")
    assert graph["entry"].type == "split" and graph["merge"].type == "join"


def test_in_funcs_are_sorted_lists_and_out_funcs_the_written_order():
    graph = Branchy._graph
    assert graph["entry"].in_funcs == []
    assert graph["merge"].in_funcs == ["a", "bb"]
    assert graph["entry"].out_funcs == ["a", "b"]


def test_sorted_nodes_is_a_topological_order_from_start_to_end():
    order = Branchy._graph.sorted_nodes
    assert order == ["entry", "a", "b", "bb", "merge", "done"]
    for name in order:
        for target in Branchy._graph[name].out_funcs:
            assert order.index(target) > order.index(name)


def test_output_steps_gives_the_steps_and_the_structure():
    steps, structure = Branchy._graph.output_steps()
    assert structure == ["entry", [["a"], ["b", "bb"]], "merge", "done"]
    assert steps["entry"]["type"] == "split-static"
    assert steps["entry"]["matching_join"] == "merge"
    assert steps["bb"]["next"] == ["merge"]


def test_output_steps_names_a_missing_end():
    class NoEnd(FlowSpec):
        @step(start=True)
        def begin(self):
            self.next(self.compute)

        @step
        def compute(self):
            pass

    with pytest.raises(GraphError, match="no end step"):
        NoEnd._graph.output_steps()


class _Payload:
    def __init__(self, x):
        self.x = x


class tagging(StepMutator):
    def init(self, payload=None):
        self.payload = payload


class Decorated(FlowSpec):
    @tagging(payload=_Payload(1))
    @retry(times=3)
    @resources(cpu=2)
    @step(start=True, end=True, node_info={"label": "x", "nested": {"n": [1, 2]}})
    def only(self):
        pass


def test_nodes_carry_their_decorators_mutators_and_node_info():
    node = Decorated._graph["only"]
    assert {deco.name for deco in node.decorators} == {"retry", "resources"}
    assert [type(m).__name__ for m in node.config_decorators] == ["tagging"]
    assert node.node_info == {"label": "x", "nested": {"n": [1, 2]}}
    assert node.num_args == 1 and node.func_lineno > 0 and node.source_file == __file__


def test_output_steps_lists_mutators_by_full_name_with_plain_data_options():
    steps, structure = Decorated._graph.output_steps()
    assert structure == ["only"]
    decos = {d["name"]: d for d in steps["only"]["decorators"]}
    assert decos["retry"]["attributes"]["times"] == 3
    mutator = decos[f"{__name__}.tagging"]
    assert isinstance(mutator["attributes"]["payload"], str)  # a repr, not the object
    assert steps["only"]["node_info"]["nested"] == {"n": [1, 2]}


def test_a_step_without_source_may_be_the_only_step():
    namespace: dict = {}
    exec(compile("def only(self):\n    self.x = 42\n", "<synthetic>", "exec"), namespace)
    made = type("Made", (FlowSpec,), {"__module__": __name__,
                                      "only": step(start=True, end=True)(namespace["only"])})
    graph = made._graph
    assert (graph.start_step, graph.end_step) == ("only", "only")
    assert graph["only"].type == "end"
    assert (graph["only"].num_args, graph["only"].func_lineno) == (1, 1)
    assert graph["only"].source_file == "<synthetic>"
    linter.run_checks(graph)


def test_a_step_without_source_among_others_is_still_refused():
    namespace: dict = {}
    exec(compile("def start(self):\n    self.next(self.end)\n", "<synthetic>", "exec"), namespace)

    def end(self):
        pass

    made = type("Made2", (FlowSpec,), {"__module__": __name__,
                                       "start": step(namespace["start"]), "end": step(end)})
    with pytest.raises(GraphError, match="cannot read the source of step 'start'"):
        made._graph  # noqa: B018 - reading it builds the graph


def test_the_linter_passes_good_flows():
    linter.run_checks(Branchy._graph)
    linter.run_checks(Nested._graph)


def _warnings(flow_cls):
    found = []
    for check in linter._checks:
        try:
            check(flow_cls._graph)
        except LintWarn as warn:
            found.append(str(warn))
    return found


def test_each_check_runs_alone_on_a_malformed_graph():
    class TwoStarts(FlowSpec):
        @step(start=True)
        def begin(self):
            self.next(self.end)

        @step(start=True)
        def also(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert TwoStarts._graph.start_step is None
    found = _warnings(TwoStarts)
    assert found and all("start" in text for text in found)


def test_lint_warnings_keep_the_step_the_place_and_the_fix():
    class Looping(FlowSpec):
        @step(start=True, end=True)
        def only(self):
            self.next(self.only)

    with pytest.raises(LintWarn) as caught:
        linter.run_checks(Looping._graph)
    warn = caught.value
    assert isinstance(warn, GraphError) and warn.step == "only"
    assert warn.source_file == __file__ and warn.line_no == warn.line > 0
    assert "must not call self.next" in str(warn) and warn.fix


def test_the_nested_foreach_check_runs_only_when_asked():
    linter.run_checks(Nested._graph)
    with pytest.raises(LintWarn, match="step 'outer' is a foreach inside the foreach at 'start'"):
        linter.run_checks(Nested._graph, require_non_nested_foreach=True)


def test_checks_of_ones_own_join_the_linter():
    from headwater.compat.lint import FlowLinter

    mine = FlowLinter()

    @mine.ensure_static_graph
    @mine.check
    def no_step_named_a(graph):
        if "a" in graph:
            raise LintWarn("no step may be named a")

    with pytest.raises(LintWarn, match="named a"):
        mine.run_checks(Branchy._graph)
    mine.require_static_graph = False
    mine.run_checks(Branchy._graph)


def test_flow_graph_builds_the_same_view():
    graph = FlowGraph(Branchy)
    assert graph.sorted_nodes == Branchy._graph.sorted_nodes
    assert "digraph" in graph.output_dot()


class AddRetry(FlowMutator):
    def pre_mutate(self, mutable_flow):
        pass


@AddRetry
class Mutated(FlowSpec):
    cfg = Config("cfg", default_value={"x": 7})

    @step(start=True, end=True)
    def only(self):
        pass


def test_flow_state_lists_the_flow_mutators_and_parameters_include_configs():
    flow_cls = Mutated._flow_cls
    assert flow_cls is Mutated
    mutators = flow_cls._flow_state[FlowStateItems.FLOW_MUTATORS]
    assert [type(m) for m in mutators] == [AddRetry]
    assert mutators[0]._flow_cls is Mutated
    assert "cfg" in {name for name, _ in Mutated._get_parameters()}


def _prepare(value):
    return value


class _Holder:
    @staticmethod
    def make():
        return None


class WithFunctions(FlowSpec):
    @step(start=True, end=True,
          node_info={"init_func": _prepare, "call": _Holder.make, "pair": (1, 2), "tags": {"a"},
                     "none": None})
    def only(self):
        pass


def test_node_info_with_functions_is_stored_by_their_names_as_metaflows_to_pod_gives_it():
    # Metaflow keeps node_info as plain data: a function by its __qualname__ (before, headwater
    # stored its repr, '<function _prepare at 0x...>'), a tuple or set as a list, None as "None".
    from headwater.compat.util import to_pod  # `from metaflow.util import to_pod`

    steps, _ = WithFunctions._graph.output_steps()
    expected = {"init_func": "_prepare", "call": "_Holder.make", "pair": [1, 2], "tags": ["a"],
                "none": "None"}
    assert steps["only"]["node_info"] == expected
    assert to_pod(WithFunctions._graph["only"].node_info) == expected
    assert to_pod({"x": 1.5, "y": "s", "z": [True]}) == {"x": 1.5, "y": "s", "z": [True]}
