"""How user step decorators wrap a step: the order of hooks, skipping, replacing, errors."""

from __future__ import annotations

import pytest

from headwater.decorators.user_step import (
    StepCall,
    UserStepDecorator,
    run_under,
    user_step_decorator,
)
from headwater.exceptions import FlowDefinitionError


class Flow:
    pass


def _call(log: list, flow: Flow, raises: BaseException | None = None) -> StepCall:
    def run_step() -> None:
        log.append("step")
        if raises is not None:
            raise raises

    return StepCall("work", flow, None, run_step, lambda options: log.append(("next", options)))


def _recorder(name: str, log: list) -> type:
    @user_step_decorator
    def deco(step_name, flow, inputs):
        log.append(f"{name} before")
        yield
        log.append(f"{name} after")

    return deco


def test_outermost_runs_first_before_and_last_after():
    log: list = []
    outer, inner = _recorder("outer", log)(), _recorder("inner", log)()
    run_under([outer, inner], _call(log, Flow()))
    assert log == ["outer before", "inner before", "step", "inner after", "outer after"]


def test_a_swallowed_error_takes_the_steps_own_next():
    log: list = []

    @user_step_decorator
    def swallow(step_name, flow, inputs):
        try:
            yield
        except ValueError:
            log.append("swallowed")

    run_under([swallow()], _call(log, Flow(), ValueError("x")))
    assert log == ["step", "swallowed", ("next", {})]


def test_an_error_not_swallowed_is_the_steps():
    log: list = []
    with pytest.raises(ValueError, match="x"):
        run_under([_recorder("a", log)()], _call(log, Flow(), ValueError("x")))
    assert log == ["a before", "step"]  # code after the yield runs only on success


def test_skip_with_next_options_and_replacement():
    log: list = []

    @user_step_decorator
    def skip(step_name, flow, inputs):
        yield {"foreach": "other"}

    run_under([skip()], _call(log, Flow()))
    assert log == [("next", {"foreach": "other"})]

    log.clear()

    class Replace(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            return lambda flow: log.append("instead") or True

        def post_step(self, step_name, flow, exception=None):
            return exception

    run_under([Replace(), _recorder("inner", log)()], _call(log, Flow()))
    assert log == ["instead", ("next", {})]  # the inner decorator and the step never ran


def test_a_decorator_that_yields_twice_fails_the_step():
    @user_step_decorator
    def twice(step_name, flow, inputs):
        yield
        yield

    with pytest.raises(FlowDefinitionError, match="yielded more than once"):
        run_under([twice()], _call([], Flow()))


def test_each_task_gets_a_fresh_copy_of_the_decorator():
    class Skipper(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            if getattr(flow, "skip", False):
                self.skip_step = True

        def post_step(self, step_name, flow, exception=None):
            return exception  # None keeps the skip's `self.next` (a tuple would override it)

    deco = Skipper()
    log: list = []
    skipping = Flow()
    skipping.skip = True
    run_under([deco], _call(log, skipping))
    run_under([deco], _call(log, Flow()))
    assert log == [("next", {}), "step"]
