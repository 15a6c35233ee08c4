"""``--executor spawn``: each task in a new interpreter, never a fork of a warm process.

What a user relies on: every task's process imported the flow itself (nothing it holds was
forked), the flow behaves as under the default executor (foreach, branches, parameters, configs,
``--with``, live output, the client), crashes are reported as such, exits are seen where the
system has no process descriptors, and the fault and resume suites pass as they do for the
default executor.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from headwater import Flow

from .faultkit import DEADLINE_S, client, env_for, hw
from .flowrun import task_lines

REPO = Path(__file__).resolve().parents[2]

FLOW = textwrap.dedent("""
    import os

    from headwater import FlowSpec, Parameter, step

    IMPORTED_BY = os.getpid()  # the process that imported this module


    class WhereFlow(FlowSpec):
        n = Parameter("n", default=3, type=int)

        @step
        def start(self):
            self.seen = [(IMPORTED_BY, os.getpid())]
            print("start says hello")
            self.next(self.left, self.right)

        @step
        def left(self):
            self.side = (IMPORTED_BY, os.getpid())
            self.next(self.both)

        @step
        def right(self):
            self.side = (IMPORTED_BY, os.getpid())
            self.next(self.both)

        @step
        def both(self, inputs):
            self.sides = [inp.side for inp in inputs]
            self.items = list(range(self.n))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.where = (IMPORTED_BY, os.getpid())
            self.double = self.input * 2
            self.next(self.gather)

        @step
        def gather(self, inputs):
            self.doubles = sorted(inp.double for inp in inputs)
            self.wheres = [inp.where for inp in inputs]
            self.next(self.end)

        @step
        def end(self):
            self.last = (IMPORTED_BY, os.getpid())


    if __name__ == "__main__":
        WhereFlow()
""")


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(source)
    return path


def _every_task_process(run) -> list[tuple[int, int]]:
    data = {step.id: step.task.data for step in run}
    return [*data["start"].seen, *data["both"].sides, *data["gather"].wheres, data["end"].last]


@pytest.mark.parametrize("executor", ["spawn", "local"])
def test_each_spawned_task_imports_the_flow_itself(tmp_path, executor):
    flow = _write(tmp_path, "where.py", FLOW)
    done = hw(flow, "run", "--executor", executor, "--n", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(line.step == "start" and line.text == "start says hello"
               for line in task_lines(done.stdout)), done.stdout
    client(tmp_path)
    run = Flow("WhereFlow").latest_run
    assert run.successful
    assert run.data.doubles == [0, 2, 4, 6]
    # local runs carry Metaflow's name for its local runtime; headwater's own executors theirs
    assert f"runtime:{'dev' if executor == 'local' else executor}" in run.system_tags
    processes = _every_task_process(run)
    assert len(processes) == 1 + 2 + 4 + 1
    assert len({pid for _, pid in processes}) == len(processes)  # a process per task
    if executor == "spawn":  # each task's own interpreter imported the flow
        assert all(importer == pid for importer, pid in processes), processes
    else:  # forked from a process that had imported it
        assert all(importer != pid for importer, pid in processes), processes


METAFLOW_FLOW = textwrap.dedent("""
    import os

    from metaflow import Config, FlowSpec, current, step


    class ConfiguredFlow(FlowSpec):
        settings = Config("settings", default_value={"greeting": "hi", "times": 2})

        @step
        def start(self):
            self.greeting = self.settings.greeting * self.settings.times
            marker = "first-attempt.done"
            if not os.path.exists(marker):  # the first attempt fails, --with retry saves it
                open(marker, "w").close()
                raise RuntimeError("first attempt fails on purpose")
            self.attempt = current.retry_count
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ConfiguredFlow()
""")


def test_a_metaflow_flow_with_a_config_and_with_retry_runs_spawned(tmp_path):
    flow = _write(tmp_path, "configured.py", METAFLOW_FLOW)
    done = subprocess.run(  # as README says to run a flow written for Metaflow
        [sys.executable, "-m", "headwater", "--config-value", "settings",
         '{"greeting": "yo", "times": 3}', "run", str(flow), "--executor", "spawn",
         "--with", "retry"],
        cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first attempt fails on purpose" in done.stdout + done.stderr
    client(tmp_path)
    start = Flow("ConfiguredFlow").latest_run["start"].task
    assert start.data.greeting == "yoyoyo"
    assert start.data.attempt == 1


CRASH_FLOW = textwrap.dedent("""
    import os
    import signal

    from headwater import FlowSpec, step


    class CrashFlow(FlowSpec):
        @step
        def start(self):
            os.kill(os.getpid(), signal.SIGSEGV)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        CrashFlow()
""")


@pytest.mark.parametrize("executor", ["local", "spawn"])
def test_a_native_crash_is_reported_and_the_default_executor_points_to_spawn(tmp_path,
                                                                             executor):
    flow = _write(tmp_path, "crash.py", CRASH_FLOW)
    done = hw(flow, "run", "--executor", executor, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    client(tmp_path)
    failure = Flow("CrashFlow").latest_run["start"].task.exception
    assert "killed by SIGSEGV (segmentation fault)" in failure.message
    # Only a forked task may have died of fork(): the hint is for the default executor alone.
    assert ("--executor spawn" in failure.message) == (executor == "local"), failure.message


# A system without process descriptors (macOS, older Linux): the scheduler must see each exit by
# checking for it, so the flow file runs here with ``os.pidfd_open`` taken away.
WITHOUT_PIDFD = ("import os, runpy, sys; del os.pidfd_open; sys.argv = sys.argv[1:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")


def test_exits_are_seen_where_there_are_no_process_descriptors(tmp_path):
    flow = _write(tmp_path, "where.py", FLOW)
    done = subprocess.run([sys.executable, "-c", WITHOUT_PIDFD, str(flow), "run", "--executor",
                           "spawn", "--n", "3"], cwd=tmp_path, env=env_for(tmp_path),
                          capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    run = Flow("WhereFlow").latest_run
    assert run.successful and run.data.doubles == [0, 2, 4]


def test_the_fault_and_resume_suites_pass_with_spawned_tasks(tmp_path):
    """The default executor's fault-injection and resume tests (signals, crashes, kills of the
    scheduler, every resume shape), run again with every task spawned."""
    env = {**os.environ, "HEADWATER_TEST_EXECUTOR": "spawn"}
    suites = ["tests/integration/test_faults.py", "tests/integration/test_resume.py"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--basetemp", str(tmp_path / "suites"), *suites], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=4 * DEADLINE_S)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
