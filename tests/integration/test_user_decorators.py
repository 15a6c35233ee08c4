"""User-defined step decorators and mutators (Metaflow's public API) through a real run."""

from __future__ import annotations

import pytest

from headwater import Flow, FlowSpec, UserStepDecorator, step, user_step_decorator
from headwater.exceptions import FlowDefinitionError

from .faultkit import client, hw
from .flowrun import flow_file

FLOW = flow_file("user_decorators_flow.py")


@pytest.fixture(scope="module")
def ran_in(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user-decorators")
    proc = hw(FLOW, "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


@pytest.fixture
def run(ran_in):
    client(ran_in)
    return Flow("UserDecoratorsFlow").latest_run


def test_a_generator_decorator_runs_before_and_after_the_step_with_its_options(run):
    start = run["start"].task
    assert (start.data.before, start.data.after) == ("start:start", "after start")


def test_a_swallowed_exception_makes_the_step_succeed_and_go_on(run):
    fails = run["fails"].task
    assert fails.successful and fails.data.swallowed == "'gone'"


def test_skipping_and_replacing_a_step(run):
    assert run["skipped"].task.successful
    assert run["replaced"].task.data.replaced_in == "replaced"


def test_a_step_mutator_adds_builtin_and_user_decorators(run):
    flaky = run["flaky"].task
    assert flaky.data.attempt == 1  # the @retry it added ran the step again
    assert flaky.data.before == "flaky:mutated"


def test_a_flow_mutator_reads_configs_and_adds_a_class_decorator_with_options(run):
    assert run["end"].task.data.value == 15


def test_options_read_from_a_config_reach_init_as_values(run):
    assert run["start"].task.data.before == "start:start"
    assert run["end"].task.data.before == "end:last"  # Label's init got labels.end's value


@pytest.mark.parametrize("executor", ["local", "spawn"])
def test_options_read_from_a_config_follow_the_config_given(tmp_path, executor):
    """``--config-value`` changes what the decorators' ``init`` receives, in a forked task and
    in a fresh interpreter (``--executor spawn``) alike."""
    proc = hw(FLOW, "--config-value", "labels", '{"start": "given", "end": "also"}', "run",
              "--executor", executor, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(tmp_path)
    run = Flow("UserDecoratorsFlow").latest_run
    assert run["start"].task.data.before == "start:given"
    assert run["end"].task.data.before == "end:also"


def test_without_the_retry_the_mutated_step_fails_then_passes(tmp_path):
    proc = hw(FLOW, "--config-value", "settings", '{"factor": 2}', "run", cwd=tmp_path,
              FLAKY="0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(tmp_path)
    run = Flow("UserDecoratorsFlow").latest_run
    assert run["flaky"].task.data.attempt == 0 and run["end"].task.data.value == 6


def test_misuse_is_refused_with_the_fix():
    with pytest.raises(FlowDefinitionError, match="generator function"):
        user_step_decorator(lambda step_name, flow, inputs: None)

    @user_step_decorator
    def plain(step_name, flow, inputs):
        yield

    with pytest.raises(FlowDefinitionError, match="takes no `attributes`"):
        plain(label="x")

    class NoOptions(UserStepDecorator):
        pass

    with pytest.raises(FlowDefinitionError, match="takes no options"):
        NoOptions(x=1)

    class Bare(FlowSpec):
        @NoOptions
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    from headwater.decorators.user_step import user_wrappers

    assert [type(w).__name__ for w in user_wrappers(Bare.start)] == ["NoOptions"]
