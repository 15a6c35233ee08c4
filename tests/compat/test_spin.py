"""spin: re-run one task of a past run, from the command line and from ``Runner(...).spin``.

As Metaflow 2.19's ``spin``: pathspec forms (``STEP``, ``RUN/STEP``, ``RUN/STEP/TASK``, with or
without the flow's name), ``--persist``, ``--artifacts-module``, ``--skip-decorators``; the spun
task is kept in a database of its own (never in the runs' history) and read back with
``inspect_spin`` or ``ExecutingTask.task``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import textwrap
from pathlib import Path

import pytest

from headwater import Flow, Run, Runner, Task, inspect_spin, metadata, namespace
from headwater.runner import ExecutingTask, RunNotStartedError, SpinFailedError
from headwater.runner.command import RunnerArgumentError

SOURCE = '''
import time

from metaflow import Config, FlowSpec, Parameter, card, current, step, timeout


class SpinDemoFlow(FlowSpec):
    factor = Parameter("factor", default=2)
    limits = Config("limits", default_value={"seconds": 60, "nap": 0})

    @card(type="blank")
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @timeout(seconds=limits.seconds)
    @step
    def each(self):
        time.sleep(self.limits.nap)
        self.value = self.input * self.factor
        print("value is", self.value, "in", current.run_id)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        time.sleep(self.limits.nap)


if __name__ == "__main__":
    SpinDemoFlow()
'''


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One finished run of SpinDemoFlow (factor 5): its folder, flow file and run pathspec."""
    folder = tmp_path_factory.mktemp("spin")
    flow = folder / "spin_demo_flow.py"
    flow.write_text(textwrap.dedent(SOURCE))
    with Runner(str(flow), cwd=str(folder), show_output=False) as runner:
        run = runner.run(factor=5).run
        assert run.successful
        return folder, str(flow), run.pathspec


@pytest.fixture
def done(finished):
    """The folder, the flow file and the run, the client reading that folder's runs."""
    folder, flow, pathspec = finished
    metadata(f"local@{folder / '.headwater'}")
    namespace(None)
    return folder, flow, Run(pathspec)


def _each(run, index: int):
    return next(t for t in run["each"] if t.index == index)


def test_runner_spin_returns_the_recorded_task_and_leaves_the_runs_alone(done):
    folder, flow, run = done
    task = _each(run, 1)
    with Runner(flow, cwd=str(folder), show_output=False).spin(task.pathspec,
                                                                persist=True) as spin:
        assert isinstance(spin, ExecutingTask) and spin.status == "successful"
        spun = spin.task
        assert spun.finished and spun.successful
        assert spun.origin_pathspec is None
        mine = {a.id: a.data for a in spun.artifacts}
        for artifact in task.artifacts:  # everything the original had, the same
            assert mine[artifact.id] == artifact.data
        assert mine["value"] == 10 and mine["factor"] == 5
        assert "_graph_info" in spun and "_foreach_stack" in spun
        assert spun["_foreach_stack"].data[0].value == 2  # the item of foreach index 1
        spin_run = spun.pathspec.split("/")[1]
        assert spin_run.startswith("spin-")  # never a run's id (S3(run=self) writes under it)
        assert f"value is 10 in {spin_run}" in spin.stdout
        assert "value is 10" in spun.stdout
    # The process-wide client still reads the runs: one run, the spin is not in it.
    assert [r.id for r in Flow("SpinDemoFlow").runs()] == [run.id]
    assert run["join"].task.data.total == 30


def test_inspect_spin_reads_the_spun_tasks_back(done):
    folder, flow, run = done
    start = run["start"].task
    with Runner(flow, cwd=str(folder), show_output=False) as runner:
        pathspec = runner.spin(start.pathspec, persist=True).task.pathspec
    try:
        assert inspect_spin(str(folder)).startswith("spin@")
        spun = Task(pathspec, _namespace_check=False)
        assert spun.data.items == [1, 2, 3] and spun.data.factor == 5
        assert Flow("SpinDemoFlow")[spun.parent.parent.id].origin_run_id == run.id
        from headwater.client.cards import get_cards  # @card applies to a spin

        assert len(get_cards(spun)) == 1
    finally:
        metadata("local@" + str(folder / ".headwater"))
    assert [r.id for r in Flow("SpinDemoFlow").runs()] == [run.id]


def test_cli_pathspec_forms(done, run_headwater):
    folder, flow, run = done
    here = {"HEADWATER_DATASTORE_ROOT": str(folder / ".headwater")}
    for form in ("join", f"{run.id}/join", f"SpinDemoFlow/{run.id}/join",
                 f"{run.id}/join/{run['join'].task.id}"):
        proc = run_headwater("spin", flow, form, extra_env=here)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "total = 30" in proc.stdout
    proc = run_headwater("spin", flow, f"OtherFlow/{run.id}/join/1", extra_env=here)
    assert proc.returncode == 1 and "names flow 'OtherFlow', not SpinDemoFlow" in proc.stderr


def test_without_persist_the_task_is_recorded_without_its_artifacts(done):
    folder, flow, run = done
    with Runner(flow, cwd=str(folder), show_output=False) as runner:
        spun = runner.spin(run["join"].task.pathspec).task
        assert spun.successful and "total" not in spun and spun["factor"].data == 5


def test_artifacts_module_overrides_inputs_of_a_step_and_of_a_join(done, tmp_path):
    folder, flow, run = done
    linear = tmp_path / "linear.py"
    linear.write_text("ARTIFACTS = {'factor': 100}\n")
    with Runner(flow, cwd=str(folder), show_output=False) as runner:
        spun = runner.spin(_each(run, 0).pathspec, artifacts_module=str(linear),
                           persist=True).task
        assert spun["value"].data == 100  # item 1 * the overridden factor
        join = run["join"].task
        first = next(join.parent_task_pathspecs).split("/", 1)[1]
        joined = tmp_path / "joined.py"
        joined.write_text(f"ARTIFACTS = {{{first!r}: {{'value': 1000}}}}\n")
        spun = runner.spin(join.pathspec, artifacts_module=str(joined), persist=True).task
        assert spun["total"].data == 1000 + 30 - _parent_value(join, first)
        wrong = tmp_path / "wrong.py"
        wrong.write_text("ARTIFACTS = {'1/each/nope': {'value': 1}}\n")
        with pytest.raises(SpinFailedError, match="is not one of its inputs"):
            runner.spin(join.pathspec, artifacts_module=str(wrong))


def _parent_value(join, path: str) -> int:
    return Task(f"SpinDemoFlow/{path}", _namespace_check=False).data.value


def test_a_timed_out_spin_raises_and_skip_decorators_runs_it_anyway(done):
    folder, flow, run = done
    task = _each(run, 2)
    slow = [("limits", {"seconds": 1, "nap": 1.5})]
    runner = Runner(flow, cwd=str(folder), show_output=False, config_value=slow)
    with pytest.raises(SpinFailedError, match="timed out") as caught:
        runner.spin(task.pathspec, persist=True)
    assert isinstance(caught.value, RunNotStartedError) and isinstance(caught.value, RuntimeError)
    assert "ran longer than its @timeout of 1 s" in str(caught.value)  # the output, quoted
    with runner.spin(task.pathspec, skip_decorators=True, persist=True) as spin:
        assert spin.task.successful and spin.task["value"].data == 15


def test_top_level_with_applies_to_a_spin(done):
    folder, flow, run = done
    runner = Runner(flow, cwd=str(folder), show_output=False, decospecs=["timeout:seconds=1"],
                    config_value=[("limits", {"seconds": 60, "nap": 1.5})])
    with pytest.raises(SpinFailedError, match="timed out"):
        runner.spin(run["end"].task.pathspec)  # a step without @timeout of its own


def test_parameters_are_refused_before_anything_starts(done):
    folder, flow, run = done
    runner = Runner(flow, cwd=str(folder), show_output=False)
    with pytest.raises(RunnerArgumentError, match="Unknown argument.*factor"):
        runner.spin(run["start"].task.pathspec, factor=3)
    assert runner._processes == []


def test_a_spun_tasks_database_is_closed_once_the_task_is_dropped(done):
    # A spun task reads a database of its own, opened for it alone: nothing else could close
    # it, so dropping the task does (not the garbage collector, whenever it runs).
    folder, flow, run = done
    with Runner(flow, cwd=str(folder), show_output=False).spin(_each(run, 1).pathspec,
                                                                persist=True) as spin:
        spun = spin.task
        database = os.path.realpath(spin._read_attributes()["metadata"])
        # SQLite keeps a closed connection's descriptor while another connection of this
        # process holds the file: earlier tests' spun tasks (in cycles) must be gone first.
        gc.collect()
        assert spun["value"].data == 10
        assert _descriptors_of(database) > 0  # read through its own connection
    del spin, spun
    assert _descriptors_of(database) == 0


def _descriptors_of(path: str) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == path
        except OSError:
            pass
    return count


def test_async_spin(done):
    folder, flow, run = done

    async def main() -> int:
        runner = Runner(flow, cwd=str(folder), show_output=False)
        running = await runner.async_spin(_each(run, 2).pathspec, persist=True)
        try:
            assert isinstance(running, ExecutingTask) and running.returncode == 0
            return running.task["value"].data
        finally:
            runner.cleanup()

    assert asyncio.run(main()) == 15


def test_spin_database_lives_apart(done):
    folder, _, _ = done
    assert (Path(folder) / ".headwater" / "spin" / "meta.sqlite").is_file()


def test_inspect_spin_of_a_subfolder_reads_the_datastore_its_spins_found_above_it(tmp_path):
    """Metaflow's ``test/unit/spin`` runs and spins its flows with ``cwd`` at ``flows/`` and
    then calls ``inspect_spin(flows/)``. When a ``.headwater`` further up holds the runs (an
    earlier suite made it from the parent folder), the spin was recorded there, so
    ``inspect_spin`` of the subfolder must look where a spin started in it would write."""
    project = tmp_path / "project"
    flows = project / "flows"
    flows.mkdir(parents=True)
    (project / ".headwater").mkdir()  # made earlier, from the parent folder
    flow = flows / "spin_demo_flow.py"
    flow.write_text(textwrap.dedent(SOURCE))
    with Runner(str(flow), cwd=str(flows), show_output=False) as runner:
        run = runner.run(factor=3).run
        pathspec = runner.spin(run["start"].task.pathspec, persist=True).task.pathspec
    assert not (flows / ".headwater").exists()  # the spin went to the datastore above
    try:
        inspect_spin(str(flows))
        spun = Task(pathspec, _namespace_check=False)
        assert spun.data.items == [1, 2, 3] and spun.data.factor == 3
    finally:
        metadata("local@" + str(project / ".headwater"))
