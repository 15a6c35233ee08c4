"""Mutators as Metaflow's own suites use them (``test/unit/mutators``, ``test/unit/inheritance``):
a flow mutator on a base class adding parameters from a config (real ``run`` options), flow
mutators and decorators added by name, a user decorator added outside the written one, the
``pre_mutate``-only rules, and private attributes reaching the next step."""

from __future__ import annotations

import json
import textwrap

import pytest

from headwater import Flow, Runner
from headwater.decorators.mutable import MutableFlow, MutableStep
from headwater.decorators.mutators import StepMutator
from headwater.exceptions import HeadwaterException

from .helpers import TRIPWIRE_MESSAGE, flow_path

FLOW = flow_path("mutators_flow.py")


def _latest(client):
    client()
    return Flow("CompatMutatorsFlow").latest_run


def test_a_base_class_mutator_adds_parameters_that_run_accepts(run_headwater, client):
    done = run_headwater("run", FLOW, "--alpha", "7")
    assert done.returncode == 0, done.stderr
    assert TRIPWIRE_MESSAGE not in done.stderr
    run = _latest(client)
    start = run["start"].task.data
    assert start.extra == {"alpha": 7}  # typed by its default, as any Parameter
    assert start.dropped_gone is True  # removed: no longer a parameter, nor a constant
    assert not hasattr(start, "dropped")
    assert start.by_name == "from_spec"  # a FlowMutator added as "AddedByName:value=from_spec"
    assert "project:mutated_proj" in run.tags  # "project:name=..." added by the mutator
    assert start.wrapped == ["added", "written"]  # the added decorator wraps the written one
    assert "only allowed in the `pre_mutate` method" in start.late_error
    end = run["end"].task.data
    assert end.private_seen == "kept"  # self._private is stored, as Metaflow stores it
    assert end.lock_seen is False  # an unpicklable private value is left out


def test_the_parameters_follow_the_configs_given(run_headwater, client):
    other = json.dumps({"extra": {"beta": 5}})
    done = run_headwater("--config-value", "settings", other, "run", FLOW, "--beta", "9")
    assert done.returncode == 0, done.stderr
    assert _latest(client)["start"].task.data.extra == {"beta": 9}
    refused = run_headwater("--config-value", "settings", other, "run", FLOW, "--alpha", "1")
    assert refused.returncode == 2 and "--alpha" in refused.stderr
    gone = run_headwater("run", FLOW, "--dropped", "y")
    assert gone.returncode == 2 and "--dropped" in gone.stderr


def test_run_help_lists_the_added_parameters(run_headwater):
    done = run_headwater("run", FLOW, "--help")
    assert done.returncode == 0, done.stderr
    assert "--alpha" in done.stdout and "--dropped" not in done.stdout


def test_the_runner_passes_added_parameters(child_env, tmp_path):
    with Runner(FLOW, show_output=False, cwd=str(tmp_path), env=child_env) as runner:
        run = runner.run(alpha=3).run
    assert run.successful
    assert run["start"].task.data.extra == {"alpha": 3}


def test_spin_runs_the_mutators_as_the_run_did(run_headwater, client):
    assert run_headwater("run", FLOW).returncode == 0
    run = _latest(client)
    done = run_headwater("spin", FLOW, f"{run.id}/start/{run['start'].task.id}")
    assert done.returncode == 0, done.stderr
    assert "wrapped = ['added', 'written']" in done.stdout
    assert "by_name = 'from_spec'" in done.stdout


FRESH_FLOW = textwrap.dedent('''
    from headwater import FlowSpec, step
    from headwater.decorators.mutators import StepMutator
    from headwater.decorators.user_step import UserStepDecorator


    class mark(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            flow.marked = True


    class add_mark(StepMutator):
        def mutate(self, mutable_step):
            mutable_step.add_decorator(mark)


    class FreshFlow(FlowSpec):
        @add_mark
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_a_task_of_a_flow_imported_afresh_runs_its_mutators_first(tmp_path):
    """As on a Dask worker or in an environment's interpreter: the task's process never ran
    the launch, so the task runs the mutators itself (here: run_step's forked child)."""
    from headwater.flow_file import load_flow_class
    from headwater.testing import run_step

    path = tmp_path / "fresh_flow.py"
    path.write_text(FRESH_FLOW)
    flow_cls = load_flow_class(str(path))
    assert run_step(flow_cls, "start").data.marked is True
    assert not flow_cls.start.__dict__.get("_hw_user_wrappers")  # this process: untouched


GUARD_FLOW = textwrap.dedent('''
    from headwater import FlowSpec, step
    from headwater.decorators.mutators import StepMutator


    class marker(StepMutator):
        pass


    class GuardFlow(FlowSpec):
        @marker
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


@pytest.fixture
def guard_flow():
    scope: dict = {"__name__": "guard_flow_module"}
    exec(GUARD_FLOW, scope)
    return scope["GuardFlow"]


def test_step_mutators_are_removed_or_added_only_in_pre_mutate(guard_flow):
    def mutable(pre: bool) -> MutableStep:
        return MutableStep(guard_flow, guard_flow.start, pre_mutate=pre, statically_defined=True,
                           inserted_by=["test"])

    for args in ({}, {"deco_args": [], "deco_kwargs": {}}):
        with pytest.raises(HeadwaterException, match="only allowed in the `pre_mutate`"):
            mutable(False).remove_decorator("marker", **args)
    with pytest.raises(HeadwaterException, match="only allowed in the `pre_mutate`"):
        mutable(False).add_decorator(type("other", (StepMutator,), {}))
    assert [spec[0] for spec in mutable(False).decorator_specs] == ["marker"]
    assert mutable(True).remove_decorator("marker") is True
    assert list(mutable(True).decorator_specs) == []


def test_decorator_specs_and_duplicates(guard_flow):
    step = MutableStep(guard_flow, guard_flow.end, pre_mutate=True, statically_defined=True,
                       inserted_by=["test"])
    added = step.add_decorator("retry:times=2")
    assert added is not None and added.name == "retry"
    assert step.add_decorator("retry", deco_kwargs={"times": 5}) is None  # IGNORE keeps it
    step.add_decorator("retry", deco_kwargs={"times": 5}, duplicates=step.OVERRIDE)
    (spec,) = step.get_decorator_specs("retry")
    assert spec[3]["times"] == 5 and step.has_decorator("retry")
    with pytest.raises(HeadwaterException, match="already has"):
        step.add_decorator("retry", duplicates=step.ERROR)
    assert step.remove_decorator("retry") is True and not step.has_decorator("retry")


def test_mutable_objects_come_only_from_mutators(guard_flow):
    with pytest.raises(HeadwaterException, match="StepMutator or FlowMutator"):
        MutableFlow(guard_flow)
    flow = MutableFlow(guard_flow, pre_mutate=False, inserted_by=["test"])
    assert [name for name, _ in flow.steps] == ["end", "start"]
    with pytest.raises(HeadwaterException, match="only allowed in the `pre_mutate`"):
        flow.remove_parameter("anything")


PACKAGED_FLOW = textwrap.dedent('''
    import os

    from metaflow import FlowMutator, FlowSpec, StepMutator, step
    from metaflow.packaging_sys import ContentType

    HERE = os.path.dirname(os.path.abspath(__file__))


    class ships_settings(FlowMutator):
        def add_to_package(self):
            yield os.path.join(HERE, "outside", "settings.yaml"), "conf/settings.yaml"


    class ships_helper(StepMutator):
        def add_to_package(self):
            yield (os.path.join(HERE, "outside", "helper.txt"), "helper.txt",
                   ContentType.OTHER_CONTENT)


    @ships_settings
    class PackagedFlow(FlowSpec):
        @ships_helper
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_add_to_package_hooks_put_files_into_the_code_package(tmp_path):
    import gzip
    import io
    import tarfile

    from headwater.decorators.package_hooks import package_additions
    from headwater.flow_file import load_flow_class
    from headwater.store import code_package

    folder = tmp_path / "flow"
    (folder / "outside").mkdir(parents=True)
    (folder / "outside" / "settings.yaml").write_text("a: 1\n")  # no .py: not packed by default
    (folder / "outside" / "helper.txt").write_text("help\n")
    (folder / "packaged_flow.py").write_text(PACKAGED_FLOW)
    flow_cls = load_flow_class(str(folder / "packaged_flow.py"))
    tarball, _ = code_package.build(flow_cls, additions=package_additions(flow_cls))
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(tarball))) as tar:
        names = tar.getnames()
        assert tar.extractfile("conf/settings.yaml").read() == b"a: 1\n"
    assert sorted(names) == ["conf/settings.yaml", "helper.txt", "packaged_flow.py"]


FAILING_MUTATOR_FLOW = textwrap.dedent('''
    from headwater import FlowMutator, FlowSpec, step


    class needs_a_team(FlowMutator):
        def pre_mutate(self, mutable_flow):
            mutable_flow.add_decorator("no_such_flow_decorator")


    @needs_a_team
    class FailingMutatorFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FailingMutatorFlow()
''')


def test_a_mutator_that_raises_stops_the_run_with_its_error(run_headwater, tmp_path):
    # The command line runs the mutators once to learn the run's options; what they raise
    # there must reach the user, not be lost with the run going on unmutated.
    path = tmp_path / "failing_mutator_flow.py"
    path.write_text(FAILING_MUTATOR_FLOW)
    done = run_headwater("run", str(path))
    assert done.returncode != 0
    assert "not a flow decorator headwater knows" in done.stdout + done.stderr
    assert "Workflow starting" not in done.stdout
