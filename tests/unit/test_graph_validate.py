"""validate / check_flow: valid shapes pass and get split info; broken rules name step:line."""

from __future__ import annotations

import inspect

import pytest

from headwater.exceptions import GraphError
from headwater.flow.step import step
from headwater.graph import Graph, StepNode, check_flow, validate
from headwater.graph.model import LINEAR


def line_of(func, needle: str, nth: int = 0) -> int:
    """Absolute line of the ``nth`` source line of ``func`` containing ``needle``."""
    lines, first = inspect.getsourcelines(inspect.unwrap(func))
    return [first + i for i, text in enumerate(lines) if needle in text][nth]


def error_of(flow_cls: type) -> GraphError:
    with pytest.raises(GraphError) as info:
        check_flow(flow_cls)
    return info.value


def assert_at(err: GraphError, step_name: str, line: int, *phrases: str) -> None:
    """The error names the step, points at file:line, says each phrase and offers a fix."""
    text = str(err)
    assert err.step == step_name
    assert err.line == line
    assert err.file == __file__
    assert f"{__file__}:{line}: " in text
    assert repr(step_name) in text
    for phrase in phrases:
        assert phrase in text, text
    assert err.fix


# ---------------------------------------------------------------- valid shapes


class Linear:
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class SplitJoin:
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.b2)

    @step
    def b2(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class NestedForeach:
    @step
    def start(self):
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SwitchReconverges:
    @step
    def start(self):
        self.next({"yes": self.a, "no": self.b}, condition="choice")

    @step
    def a(self):
        self.next(self.after)

    @step
    def b(self):
        self.next(self.after)

    @step
    def after(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class SelfLoop:
    @step
    def start(self):
        self.next(self.body)

    @step
    def body(self):
        self.next({"again": self.body, "done": self.end}, condition="state")

    @step
    def end(self):
        pass


class LoopBack:
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next({"again": self.a, "done": self.end}, condition="state")

    @step
    def end(self):
        pass


class LoopAroundSplit:
    """A loop whose body is a complete split/join; the join decides whether to go again."""

    @step
    def start(self):
        self.next(self.fan)

    @step
    def fan(self):
        self.next(self.x, self.y)

    @step
    def x(self):
        self.next(self.join)

    @step
    def y(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next({"again": self.fan, "done": self.end}, condition="state")

    @step
    def end(self):
        pass


class SwitchInsideForeach:
    @step
    def start(self):
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.next({"big": self.big, "small": self.join}, condition="size")

    @step
    def big(self):
        self.next({"retry": self.big, "ok": self.join}, condition="status")

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class EndJoins:
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self, inputs):
        pass


class Parallel:
    @step
    def start(self):
        self.next(self.train, num_parallel=4)

    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class Child(SplitJoin):
    @step
    def b2(self):
        self.next(self.b3)

    @step
    def b3(self):
        self.next(self.join)


@pytest.mark.parametrize(
    "flow",
    [
        Linear,
        SplitJoin,
        NestedForeach,
        SwitchReconverges,
        SelfLoop,
        LoopBack,
        LoopAroundSplit,
        SwitchInsideForeach,
        EndJoins,
        Parallel,
        Child,
    ],
)
def test_valid_flows_pass(flow):
    graph = check_flow(flow)
    assert isinstance(graph, Graph)
    assert graph["end"].split_parents == ()


def test_split_parents_and_matching_join():
    graph = check_flow(SplitJoin)
    assert graph["start"].matching_join == "join"
    assert graph["b2"].split_parents == ("start",)
    assert graph["join"].split_parents == ()
    graph = check_flow(NestedForeach)
    assert graph["inner"].split_parents == ("start", "outer")
    assert graph["inner_join"].split_parents == ("start",)
    assert graph["outer"].matching_join == "inner_join"
    assert graph["start"].matching_join == "outer_join"
    assert graph["inner"].matching_join is None


def test_switch_leaves_split_info_alone():
    graph = check_flow(SwitchInsideForeach)
    assert graph["big"].split_parents == ("start",)
    assert graph["body"].matching_join is None
    assert graph["start"].matching_join == "join"
    assert graph["join"].in_steps == ("body", "big")


def test_inherited_flow_validates_with_override():
    graph = check_flow(Child)
    assert graph["b3"].split_parents == ("start",)
    assert graph["join"].in_steps == ("a", "b3")


def test_validate_is_repeatable():
    graph = check_flow(LoopAroundSplit)
    validate(graph)
    assert graph["fan"].matching_join == "join"
    assert graph["x"].split_parents == ("fan",)


# ---------------------------------------------------------------- start and end


def test_no_start():
    class NoStart:
        @step
        def begin(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(NoStart)
    assert_at(err, "start", line_of(NoStart, "class NoStart"), "NoStart has no 'start' step")


def test_no_end():
    class NoEnd:
        @step
        def start(self):
            self.next(self.finish)

        @step
        def finish(self):
            self.next(self.start)

    err = error_of(NoEnd)
    assert_at(err, "end", line_of(NoEnd, "class NoEnd"), "NoEnd has no 'end' step")


# ---------------------------------------------------------------- targets


def test_next_to_missing_step_suggests_a_name():
    class Missing:
        @step
        def start(self):
            self.next(self.trian)

        @step
        def train(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(Missing)
    line = line_of(Missing.start, "self.next(")
    assert_at(err, "start", line, "self.trian", "no step named 'trian'", "did you mean self.train")


def test_next_to_method_that_is_not_a_step():
    class NotAStep:
        @step
        def start(self):
            self.next(self.helper)

        def helper(self):
            pass

        @step
        def end(self):
            pass

    err = error_of(NotAStep)
    line = line_of(NotAStep.start, "self.next(")
    assert_at(err, "start", line, "'helper'", "not a step")
    assert "@step" in err.fix


def test_switch_case_target_must_exist():
    class BadCase:
        @step
        def start(self):
            self.next({"a": self.end, "b": self.nowhere}, condition="c")

        @step
        def end(self):
            pass

    err = error_of(BadCase)
    assert_at(err, "start", line_of(BadCase.start, "self.next("), "no step named 'nowhere'")


# ---------------------------------------------------------------- one self.next, last


def test_step_without_next():
    class Stuck:
        @step
        def start(self):
            self.x = 1

        @step
        def end(self):
            pass

    err = error_of(Stuck)
    assert_at(err, "start", line_of(Stuck.start, "def start"), "never calls self.next")


def test_end_must_not_call_next():
    class EndNext:
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            self.next(self.start)

    err = error_of(EndNext)
    assert_at(err, "end", line_of(EndNext.end, "self.next("), "must not call self.next")


def test_two_next_calls_in_sequence():
    class Twice:
        @step
        def start(self):
            self.next(self.a)
            self.next(self.end)

        @step
        def a(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(Twice)
    second = line_of(Twice.start, "self.next(", nth=1)
    assert_at(err, "start", second, "more than once", f"line {second}")


def test_next_in_both_arms_of_if():
    class Arms:
        @step
        def start(self):
            if self.flag:
                self.next(self.a)
            else:
                self.next(self.end)

        @step
        def a(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(Arms)
    assert_at(err, "start", line_of(Arms.start, "self.next(", nth=1), "more than once")
    assert "switch" in err.fix


def test_next_inside_a_block():
    class InWith:
        @step
        def start(self):
            with open(__file__):
                self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(InWith)
    assert_at(err, "start", line_of(InWith.start, "self.next("), "last statement", "inside")


def test_statement_after_next():
    class After:
        @step
        def start(self):
            self.next(self.end)
            print("too late")

        @step
        def end(self):
            pass

    err = error_of(After)
    late = line_of(After.start, "too late")
    assert_at(
        err,
        "start",
        line_of(After.start, "self.next("),
        "last statement",
        f"line {late} comes after it",
    )


# ---------------------------------------------------------------- arguments of self.next


def test_starred_next_is_not_understood():
    class Starred:
        @step
        def start(self):
            steps = [self.end]
            self.next(*steps)

        @step
        def end(self):
            pass

    err = error_of(Starred)
    assert_at(
        err,
        "start",
        line_of(Starred.start, "self.next("),
        "could not understand the self.next call",
    )


@pytest.mark.parametrize(
    "call_source, phrase",
    [
        ("self.next(self.end, foreach=self.items)", "foreach= in step 'start' must be a string"),
        ("self.next(self.end, foreach=name)", "not name"),
        (
            "self.next({'a': self.end}, condition=name)",
            "condition= in step 'start' must be a string",
        ),
        ("self.next({'a': self.end})", "needs condition="),
        ("self.next(self.end, condition='x')", "condition= needs the cases as a dict"),
        ("self.next({name: self.end}, condition='x')", "keys in step 'start' must be literals"),
        ("self.next({'a': self.end, 'a': self.end}, condition='x')", "'a' appears twice"),
        ("self.next(self.end, self.end)", "names 'end' more than once"),
        ("self.next(self.end, self.x, foreach='items')", "exactly one step"),
        ("self.next(self.end, nope=1)", "unknown keyword argument 'nope'"),
        ("self.next(**kw)", "could not understand the self.next call"),
        ("self.next(self.steps[0])", "could not understand the self.next call"),
        ("self.next()", "names no step"),
        ("self.next(self.end, foreach='xs', num_parallel=2)", "both foreach= and num_parallel="),
    ],
)
def test_bad_next_arguments(tmp_path, monkeypatch, call_source, phrase):
    # Each flow is written to its own file so the call can be varied.
    source = (
        "from headwater.flow.step import step\n"
        "\n"
        "class Bad:\n"
        "    @step\n"
        "    def start(self):\n"
        "        name = kw = 'items'\n"
        f"        {call_source}\n"
        "\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    path = tmp_path / "bad_flow_module.py"
    path.write_text(source)
    namespace: dict = {"__name__": "bad_flow_module", "__file__": str(path)}
    exec(compile(source, str(path), "exec"), namespace)
    with pytest.raises(GraphError) as info:
        check_flow(namespace["Bad"])
    err = info.value
    assert err.step == "start"
    assert err.line == 7
    assert f"{path}:7: " in str(err)
    assert phrase in str(err)
    assert "'start'" in str(err)


# ---------------------------------------------------------------- reachability and loops


def test_unreachable_step():
    class Orphan:
        @step
        def start(self):
            self.next(self.end)

        @step
        def lonely(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(Orphan)
    assert_at(err, "lonely", line_of(Orphan.lonely, "def lonely"), "not reachable from start")


def test_cycle_without_switch_is_an_infinite_loop():
    class Forever:
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):
            self.next(self.b)

        @step
        def b(self):
            self.next(self.a)

        @step
        def end(self):
            pass

    err = error_of(Forever)
    assert_at(err, "b", line_of(Forever.b, "self.next("), "infinite loop", "a -> b -> a")


def test_split_on_a_cycle_without_switch_is_an_infinite_loop():
    class Multiplying:
        @step
        def start(self):
            self.next(self.fan)

        @step
        def fan(self):
            self.next(self.x, self.y)

        @step
        def x(self):
            self.next(self.join)

        @step
        def y(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.fan)

        @step
        def end(self):
            pass

    err = error_of(Multiplying)
    assert_at(
        err,
        "join",
        line_of(Multiplying.join, "self.next("),
        "infinite loop",
        "fan -> x -> join -> fan",
    )


def test_switch_loop_without_exit():
    class NoExit:
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):
            self.next({"x": self.b, "y": self.a}, condition="c")

        @step
        def b(self):
            self.next(self.a)

        @step
        def end(self):
            pass

    err = error_of(NoExit)
    assert_at(
        err, "a", line_of(NoExit.a, "self.next("), "infinite loop", "loop through a, b never ends"
    )


# ---------------------------------------------------------------- splits and joins


def test_split_whose_branches_reach_end():
    class Unjoined:
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.end)

        @step
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(Unjoined)
    split_line = line_of(Unjoined.start, "self.next(")
    assert_at(
        err,
        "a",
        line_of(Unjoined.a, "self.next("),
        "split at 'start'",
        f"(line {split_line}) is never joined",
    )


def test_one_branch_skips_the_join():
    class Skips:
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.end)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(Skips)
    assert_at(
        err,
        "b",
        line_of(Skips.b, "self.next("),
        "never joined",
        "'b' goes to end while still inside it",
    )


def test_foreach_never_joined():
    class ForeachOpen:
        @step
        def start(self):
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(ForeachOpen)
    assert_at(
        err, "body", line_of(ForeachOpen.body, "self.next("), "foreach at 'start'", "never joined"
    )


def test_a_join_step_without_inputs_is_named_as_such():
    class ForgotInputs:
        @step
        def start(self):
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.next(self.join)

        @step
        def join(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(ForgotInputs)
    assert err.step == "join"
    assert "step 'join' lacks the inputs argument" in str(err)
    assert "foreach at 'start'" in str(err)
    assert "never joined" not in str(err)
    assert err.fix is not None and "def join(self, inputs)" in err.fix


def test_join_that_closes_no_split():
    class NothingToJoin:
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(NothingToJoin)
    assert_at(
        err,
        "join",
        line_of(NothingToJoin.join, "def join"),
        "takes an inputs argument",
        "its input 'a' is not inside a split",
        "nothing to join",
    )


def test_second_join_after_the_split_is_closed():
    class DoubleJoin:
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.again)

        @step
        def again(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(DoubleJoin)
    assert_at(
        err,
        "again",
        line_of(DoubleJoin.again, "def again"),
        "its input 'join' is not inside a split",
    )


def test_join_straight_after_its_foreach():
    class EmptyBranch:
        @step
        def start(self):
            self.next(self.join, foreach="items")

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(EmptyBranch)
    assert_at(
        err,
        "join",
        line_of(EmptyBranch.join, "def join"),
        "comes straight from 'start'",
        "the foreach it closes",
    )


def test_start_cannot_be_a_join():
    class JoinStart:
        @step
        def start(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(JoinStart)
    assert_at(err, "start", line_of(JoinStart.start, "def start"), "nothing to join")


def test_branches_meet_at_a_step_without_inputs():
    class NeedsInputs:
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.meet)

        @step
        def b(self):
            self.next(self.meet)

        @step
        def meet(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(NeedsInputs)
    assert_at(
        err,
        "meet",
        line_of(NeedsInputs.meet, "def meet"),
        "two branches of the split",
        "needs an inputs argument",
    )
    assert "def meet(self, inputs)" in err.fix


def test_join_of_branches_of_different_splits():
    class Crossed:
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.c, self.d)

        @step
        def c(self):
            self.next(self.join)

        @step
        def d(self):
            self.next(self.end)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(Crossed)
    assert_at(
        err,
        "join",
        line_of(Crossed.join, "def join"),
        "different splits",
        "'a' comes from 'start'",
        "'c' from 'b'",
    )


def test_split_closed_by_two_joins():
    class TwoJoins:
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.j1)

        @step
        def b(self):
            self.next(self.j2)

        @step
        def j1(self, inputs):
            self.next(self.end)

        @step
        def j2(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(TwoJoins)
    assert_at(err, "j2", line_of(TwoJoins.j2, "def j2"), "two different joins, 'j1' and 'j2'")


def test_switch_jumping_into_a_foreach():
    class JumpIn:
        @step
        def start(self):
            self.next(self.fan, foreach="items")

        @step
        def fan(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next({"again": self.fan, "done": self.end}, condition="state")

        @step
        def end(self):
            pass

    err = error_of(JumpIn)
    assert_at(
        err,
        "fan",
        line_of(JumpIn.fan, "def fan"),
        "inside the foreach at 'start'",
        "from 'join' outside any split",
    )


# ---------------------------------------------------------------- hand-made graphs


def test_validate_accepts_hand_built_graphs():
    graph = Graph(
        "Manual",
        {
            "start": StepNode("start", LINEAR, out=("end",), file="f.py", line=3, next_line=4),
            "end": StepNode("end", "end", file="f.py", line=6),
        },
    )
    validate(graph)
    graph.nodes["start"].out = ("finish",)
    with pytest.raises(GraphError, match="f.py:4: step 'start' goes to self.finish"):
        validate(graph)


def test_large_chain_validates():
    nodes = {"start": StepNode("start", LINEAR, out=("s0",))}
    for i in range(3000):
        nodes[f"s{i}"] = StepNode(f"s{i}", LINEAR, out=(f"s{i + 1}",))
    nodes["s3000"] = StepNode("s3000", LINEAR, out=("end",))
    nodes["end"] = StepNode("end", "end")
    validate(Graph("Long", nodes))
    assert nodes["s2999"].split_parents == ()


# ---------------------------------------------------------------- reserved step names


@pytest.mark.parametrize("reserved", ["input", "next", "index", "name", "foreach_stack",
                                      "merge_artifacts", "script_name", "cmd",
                                      # private names a step would shadow just as well
                                      "_graph", "__init__", "__setattr__", "__getattr__",
                                      "__class__", "__dict__", "_hw_task"])
def test_a_step_may_not_take_a_name_the_framework_owns(tmp_path, monkeypatch, reserved):
    # A step named `input` would silently replace self.input: refused at its own line.
    source = (
        "from headwater import FlowSpec, step\n"
        "class Reserved(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        f"        self.next(self.{reserved})\n"
        "    @step\n"
        f"    def {reserved}(self):\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    path = tmp_path / f"reserved_{reserved}.py"
    path.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(GraphError) as info:  # a dunder is refused as the class is defined
        check_flow(__import__(path.stem).Reserved)
    err = info.value
    assert err.step == reserved
    assert err.file == str(path)
    assert err.line == 7  # the def line of the step
    assert f"{path}:7: " in str(err)
    assert f"step {reserved!r} has a name the framework owns" in str(err)
    assert f"{reserved.strip('_')}_step" in err.fix


def test_next_in_if_branches_suggests_the_switch_with_the_steps_own_targets():
    """A newcomer's first conditional: self.next in each branch of an if. The fix spells the
    switch out with the steps the branches named."""
    class Branchy:
        @step
        def start(self):
            if self.n > 2:
                self.next(self.big)
            else:
                self.next(self.small)

        @step
        def big(self):
            self.next(self.end)

        @step
        def small(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    err = error_of(Branchy)
    assert_at(err, "start", line_of(Branchy.start, "self.next(", 1),
              "calls self.next more than once")
    assert err.fix.endswith(
        "use a switch: set self.choice to one of 'big', 'small', then "
        "self.next({'big': self.big, 'small': self.small}, condition='choice')")


# ------------------------------------------------ arguments nothing would fill (newuser7)


class JoinWithAnExtraArgument:
    @step
    def start(self):
        self.xs = [1, 2]
        self.next(self.train, foreach="xs")

    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs, best):
        self.next(self.end)

    @step
    def end(self):
        pass


class JoinWithADefaultedArgument(JoinWithAnExtraArgument):
    @step
    def join(self, inputs, best=None):
        self.next(self.end)


def test_a_step_argument_nothing_fills_is_refused_at_its_line():
    err = error_of(JoinWithAnExtraArgument)
    assert_at(err, "join", line_of(JoinWithAnExtraArgument.join, "def join"),
              "takes 'best' besides self and inputs", "nothing would fill it")
    assert "remove 'best'" in err.fix
    # One with a default can be called as a join is: it stays allowed.
    assert check_flow(JoinWithADefaultedArgument)["join"].is_join
