"""Client details a Metaflow user reads, found by playing headwater beside Metaflow 2.19.38: which
task ``step.task`` is, the output of a task ``@catch`` caught, a past attempt's outcome,
``is_in_namespace``, the exit code of a bad parameter value, a failed task's artifacts and
Metaflow's two ``merge_artifacts`` exceptions."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from .helpers import headwater_argv

FLOW = textwrap.dedent("""
    from metaflow import FlowSpec, Parameter, catch, current, retry, step


    class ClientDetailsFlow(FlowSpec):
        count = Parameter("count", default=3, type=int)

        @step
        def start(self):
            self.items = list(range(self.count))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.value = self.input * 10
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.next(self.flaky)

        @retry(times=1)
        @step
        def flaky(self):
            print("flaky attempt", current.retry_count)
            if current.retry_count == 0:
                raise ValueError("first attempt fails")
            self.next(self.caught)

        @catch(var="failure")
        @step
        def caught(self):
            print("caught step says hello")
            raise KeyError("lost")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ClientDetailsFlow()
""")


@pytest.fixture(scope="module")
def details_run(tmp_path_factory, tripwire):
    """One run of the flow through `headwater`, read back in the global namespace."""
    folder = tmp_path_factory.mktemp("details")
    (folder / "details_flow.py").write_text(FLOW)
    env = {**os.environ, "PYTHONPATH": tripwire, "METAFLOW_USER": "tester"}
    done = subprocess.run(headwater_argv("--quiet", "run", "details_flow.py"), cwd=folder, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, env


@pytest.fixture
def run(details_run):
    from headwater import Run, metadata, namespace

    metadata(str(details_run[0] / ".headwater"))
    namespace(None)
    return Run("ClientDetailsFlow/1")


def test_step_task_is_the_first_task_iteration_gives_the_newest(run):
    tasks = list(run["work"])
    assert [t.index for t in tasks] == [2, 1, 0]  # newest first, as Metaflow iterates
    assert run["work"].task == tasks[0]
    assert run["work"].task.index == 2


def test_a_caught_task_shows_the_output_of_the_attempt_that_failed(run):
    task = run["caught"].task
    # As Metaflow's: what the step printed, then what @catch says of what it caught, all on
    # stdout (the traceback's lines marked ">  "); nothing on stderr.
    said = task.stdout.splitlines()
    assert said[:3] == ["caught step says hello",
                        "@catch caught an exception from <flow ClientDetailsFlow step caught>",
                        ">  Traceback (most recent call last):"]
    assert said[-1].startswith(">  KeyError: ") and task.stderr == ""
    assert task.current_attempt == 0 and task.metadata_dict["attempt"] == "0"
    assert [line for _, line in task.loglines("stdout")] == said
    assert task.exception is None  # handled, as in Metaflow
    assert run["end"].task.data.failure.type == "builtins.KeyError"  # Metaflow's name


def test_logs_of_a_caught_task_print_the_failed_attempts_output(details_run):
    folder, env = details_run
    done = subprocess.run(headwater_argv("logs", "details_flow.py", "1/caught"), cwd=folder,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "caught step says hello" in done.stdout and ">  KeyError: " in done.stdout
    assert "KeyError" not in done.stderr  # as Metaflow's: the task's stderr is empty


def test_a_past_attempt_reads_as_that_attempt(run):
    from headwater import Task

    latest = run["flaky"].task
    first = Task(latest.pathspec, attempt=0)
    assert latest.successful is True and latest.current_attempt == 1
    assert first.successful is False
    assert repr(first) == f"Task('{latest.pathspec}', attempt=0)"
    assert repr(latest) == f"Task('{latest.pathspec}')"
    assert "flaky attempt 0" in first.stdout and "flaky attempt 1" in latest.stdout


def test_is_in_namespace_and_control_task(run):
    from headwater import Flow, namespace

    flow = Flow("ClientDetailsFlow")
    assert run.is_in_namespace() and run["start"].task.is_in_namespace()
    namespace("user:tester")
    assert run.is_in_namespace() and flow.is_in_namespace()
    namespace("user:somebody-else")
    assert not run.is_in_namespace() and not run["end"].is_in_namespace()
    assert not flow.is_in_namespace()  # (Flow(...) itself now raises, as Metaflow's does)
    namespace(None)
    assert run["work"].control_task is None  # only a num_parallel step has one


@pytest.mark.parametrize("args", [["--count", "many"], ["--nothing-here", "1"]])
def test_a_bad_parameter_value_is_a_usage_error_exit_2(details_run, args):
    folder, env = details_run
    done = subprocess.run(headwater_argv("run", "details_flow.py", *args), cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "count" in done.stderr or "nothing-here" in done.stderr


FAILING_FLOW = textwrap.dedent("""
    import os
    from metaflow import FlowSpec, step


    class FailedStateFlow(FlowSpec):
        @step
        def start(self):
            self.before = "set in start"
            self.next(self.middle)

        @step
        def middle(self):
            self.progress = [1, 2]
            if not os.path.exists("fixed"):
                raise ValueError("middle gave up")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FailedStateFlow()
""")


def test_a_failed_task_keeps_what_it_had_set_and_resume_runs_it_again(tmp_path, tripwire):
    from headwater import Run, metadata, namespace

    (tmp_path / "failed_flow.py").write_text(FAILING_FLOW)
    env = {**os.environ, "PYTHONPATH": tripwire, "METAFLOW_USER": "tester"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(headwater_argv(*args), cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=240)

    failed = cli("--quiet", "run", "failed_flow.py")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    metadata(str(tmp_path / ".headwater"))
    namespace(None)
    task = Run("FailedStateFlow/1")["middle"].task
    assert not task.successful and task.exception.type == "builtins.ValueError"
    assert task.data.progress == [1, 2] and task.data.before == "set in start"  # as Metaflow
    assert {a.id for a in task} == {"before", "name", "progress"}

    (tmp_path / "fixed").write_text("")
    resumed = cli("--quiet", "resume", "failed_flow.py")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    again = Run("FailedStateFlow/2")
    assert again.successful and again["middle"].task.origin_pathspec is None  # ran, not cloned
    assert again["start"].task.origin_pathspec == "FailedStateFlow/1/start/1"


MERGE_FLOW = textwrap.dedent("""
    from metaflow import FlowSpec, step
    from metaflow.exception import (MissingInMergeArtifactsException,
                                    UnhandledInMergeArtifactsException)


    class MergeNamesFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.x = 1
            self.next(self.join)

        @step
        def b(self):
            self.x = 2
            self.next(self.join)

        @step
        def join(self, inputs):
            try:
                self.merge_artifacts(inputs, include=["nope"])
            except UnhandledInMergeArtifactsException:
                raise AssertionError("a missing name is not a conflict")
            except MissingInMergeArtifactsException as missing:
                self.missing = missing.artifact_names
            try:
                self.merge_artifacts(inputs)
            except MissingInMergeArtifactsException:
                raise AssertionError("a conflict is not a missing name")
            except UnhandledInMergeArtifactsException as conflict:
                self.conflicting = conflict.artifact_names
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        MergeNamesFlow()
""")


def test_merge_artifacts_errors_are_metaflows_two_classes_with_artifact_names(tmp_path, tripwire):
    from headwater import Run, metadata, namespace

    (tmp_path / "merge_flow.py").write_text(MERGE_FLOW)
    env = {**os.environ, "PYTHONPATH": tripwire, "METAFLOW_USER": "tester"}
    done = subprocess.run(headwater_argv("--quiet", "run", "merge_flow.py"), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    metadata(str(tmp_path / ".headwater"))
    namespace(None)
    join = Run("MergeNamesFlow/1")["join"].task
    assert join.data.missing == ["nope"] and join.data.conflicting == ["x"]
