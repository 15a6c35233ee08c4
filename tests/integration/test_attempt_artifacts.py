"""Each attempt of a task keeps its own artifacts, as in Metaflow.

Real runs (``python flow.py run``/``resume``, flows written for Metaflow served by headwater's
``metaflow`` shim, one written for headwater), then the client's ``Task(pathspec, attempt=N)``
and the ``dump --attempt`` command. What is asserted: an attempt a retry followed reads what
it stored itself (never the later attempt's), the attempt that ended the task reads the task's
artifacts, a task that failed for good reads each attempt's, ``@catch`` after retries, resume
clones the successful attempt only, ``gc`` keeps an earlier attempt's blobs, and a task killed
after sending its result keeps nothing of that attempt. A flow that imports ``headwater`` keeps
what a failed step set exactly as one that imports ``metaflow`` (the values checked against
Metaflow 2.19.38, docs/decisions.md "Leftovers (leftovers7)"). On SQLite, and on PostgreSQL for
the main case.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import servers
from headwater import Flow, Task, namespace
from headwater.client import use_settings
from headwater.exceptions import NotFoundError
from headwater.settings import Settings

from .faultkit import DEADLINE_S, LiveRun, kill_group_quietly
from .flowrun import hermetic_env, reset_client
from .test_chaos_points import fault_env, held_at

CLI = [sys.executable, "-c", "from headwater.cli.main import main; main()"]
BIG = "." * 4096  # over the inline limit: a blob file of its own, which gc could free

RETRIED = f'''
import os
from IMPORTED import FlowSpec, current, retry, step


class RetriedFlow(FlowSpec):
    @step
    def start(self):
        self.base = "set by start"
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        self.x = current.retry_count
        self.big = "attempt %d " % current.retry_count + "{BIG}"
        if current.retry_count == 0:
            self.only_first = "set by attempt 0"
        print("attempt", current.retry_count)
        if current.retry_count < int(os.environ.get("SUCCEED_AT", "2")):
            raise ValueError("attempt %d fails" % current.retry_count)
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("END_FAILS"):
            raise RuntimeError("end fails")


if __name__ == "__main__":
    RetriedFlow()
'''

CAUGHT = '''
import os
from IMPORTED import FlowSpec, catch, current, retry, step


class CaughtFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @catch(var="err")
    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        self.x = current.retry_count
        raise ValueError("attempt %d fails" % current.retry_count)
        self.next(self.end)

    @step
    def end(self):
        self.seen = self.x
        if os.environ.get("END_FAILS"):
            raise RuntimeError("end fails")


if __name__ == "__main__":
    CaughtFlow()
'''


class Folder:
    """A project folder: writes flows, runs them (``metaflow`` served by the shim) and the CLI,
    and points this process's client at its datastore and metadata."""

    def __init__(self, path: Path, metadata: str | None = None) -> None:
        self.path = path
        self.local = path / ".headwater"
        self.metadata = metadata or str(self.local / "meta.sqlite")
        self.env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(self.local),
                                 "HEADWATER_METADATA": self.metadata})
        shim = path / "shim"
        made = subprocess.run([*CLI, "shim", str(shim)], env=self.env, capture_output=True,
                              text=True, timeout=DEADLINE_S)
        assert made.returncode == 0, made.stderr
        self.env["PYTHONPATH"] = str(shim)

    def write(self, name: str, source: str, imported: str = "metaflow") -> str:
        (self.path / name).write_text(source.replace("IMPORTED", imported))
        return name

    def run(self, flow: str, *args: str, ok: bool = True,
            **env: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, flow, *args], cwd=self.path,
                              env={**self.env, **env}, capture_output=True, text=True,
                              timeout=DEADLINE_S)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], cwd=self.path, env=self.env, capture_output=True,
                              text=True, timeout=DEADLINE_S)

    def client(self) -> None:
        reset_client()
        use_settings(Settings(datastore_root=str(self.local), metadata_url=self.metadata))
        namespace(None)


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    yield Folder(tmp_path)
    reset_client()


@pytest.fixture
def pg_folder(tmp_path: Path, pg_server: str) -> Folder:
    yield Folder(tmp_path, servers.fresh_database(pg_server, "attempts"))
    reset_client()


def flaky_task(flow: str) -> str:
    return Flow(flow).latest_run["flaky"].task.pathspec


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_each_attempt_of_a_retried_task_reads_its_own_artifacts(where, request) -> None:
    folder = request.getfixturevalue("folder" if where == "sqlite" else "pg_folder")
    folder.run(folder.write("retried.py", RETRIED), "run")
    folder.client()
    pathspec = flaky_task("RetriedFlow")
    first, second, last = (Task(pathspec, attempt=n) for n in range(3))

    assert first.data.x == 0 and first["x"].data == 0
    assert first.data.only_first == "set by attempt 0" and first.data.base == "set by start"
    assert first.data.big.startswith("attempt 0 ")
    assert {a.id for a in first.artifacts} == {"name", "base", "x", "big", "only_first"}
    assert not first.successful and first.exception.message == "attempt 0 fails"
    assert first.stdout == "attempt 0\n"
    assert second.data.x == 1 and "only_first" not in second.data
    assert second.exception.message == "attempt 1 fails"
    assert last.successful and last.exception is None and last.data.x == 2
    assert first.finished_at < second.finished_at <= last.finished_at
    # the task itself is its last attempt, and reads as it always did
    task = Task(pathspec)
    assert task.current_attempt == 2 and task.data.x == 2 and "only_first" not in task
    assert {a.id for a in task} == {"name", "base", "x", "big"}
    with pytest.raises(NotFoundError, match="no attempt 3"):
        Task(pathspec, attempt=3)


def test_a_task_that_fails_for_good_reads_each_attempts_artifacts(folder) -> None:
    folder.run(folder.write("retried.py", RETRIED), "run", ok=False, SUCCEED_AT="9")
    folder.client()
    pathspec = flaky_task("RetriedFlow")
    task = Task(pathspec)
    assert not task.successful and task.current_attempt == 2
    assert task.data.x == 2  # the last attempt's, as Metaflow's failed task shows
    assert [Task(pathspec, attempt=n).data.x for n in range(3)] == [0, 1, 2]
    assert Task(pathspec, attempt=0).data.only_first == "set by attempt 0"
    assert "only_first" not in task.data


@pytest.mark.parametrize("imported", ["metaflow", "headwater"])
def test_catch_after_retries_keeps_each_attempts_artifacts(folder, imported) -> None:
    folder.run(folder.write("caught.py", CAUGHT, imported), "run")
    folder.client()
    run = Flow("CaughtFlow").latest_run
    pathspec = run["flaky"].task.pathspec
    first, caught = Task(pathspec, attempt=0), Task(pathspec, attempt=1)
    assert first.data.x == 0 and "err" not in first
    # the attempt @catch handled: the artifacts the flow went on with, as Metaflow's
    assert caught.data.x == 1 and "attempt 1 fails" in str(caught.data.err)
    assert Task(pathspec).data.x == 1 and Task(pathspec).current_attempt == 1
    assert run["end"].task.data.seen == 1


def test_no_attempt_of_a_task_catch_caught_reads_successful_nor_of_its_resumed_copy(
        folder) -> None:
    """Every attempt raised and @catch caught the last: none succeeded, in the origin run (the
    stand-in attempt included) nor in resume's copy, whose one attempt keeps the origin's
    outcome as Metaflow's clone does (seed 416 of the fifth differential round)."""
    flow = folder.write("caught.py", CAUGHT)
    folder.run(flow, "run", ok=False, END_FAILS="1")
    folder.run(flow, "resume")
    folder.client()
    origin, resumed = list(Flow("CaughtFlow").runs())[1], Flow("CaughtFlow").latest_run
    made = origin["flaky"].task
    assert not made.successful and made.finished
    assert not any(Task(made.pathspec, attempt=n).successful for n in range(len(made.attempts)))
    clone = resumed["flaky"].task
    assert clone.origin_pathspec == made.pathspec and resumed.successful
    assert not clone.successful and not Task(clone.pathspec, attempt=0).successful
    assert Task(clone.pathspec, attempt=0).finished and clone.data.x == 1
    assert Task(resumed["start"].task.pathspec, attempt=0).successful  # a clone of a success


def test_resume_clones_the_successful_attempt_and_the_origin_keeps_every_attempt(folder) -> None:
    flow = folder.write("retried.py", RETRIED)
    folder.run(flow, "run", ok=False, SUCCEED_AT="1", END_FAILS="1")
    folder.run(flow, "resume", SUCCEED_AT="1")
    folder.client()
    origin, resumed = list(Flow("RetriedFlow").runs())[1], Flow("RetriedFlow").latest_run
    clone = resumed["flaky"].task
    assert clone.origin_pathspec == origin["flaky"].task.pathspec
    assert clone.current_attempt == 0 and clone.data.x == 1  # the successful attempt's
    assert Task(clone.pathspec, attempt=0).data.x == 1
    with pytest.raises(NotFoundError):
        Task(clone.pathspec, attempt=1)
    assert Task(clone.origin_pathspec, attempt=0).data.x == 0
    assert Task(clone.origin_pathspec, attempt=1).data.x == 1


@pytest.mark.parametrize("imported", ["metaflow", "headwater"])
def test_a_failed_attempt_keeps_what_it_set_whatever_the_flow_imports(folder, imported) -> None:
    """The import line changes nothing of what is stored: the earlier attempt reads what its
    step set before raising (never the retry's), its failure and output are its own."""
    folder.run(folder.write("retried.py", RETRIED, imported=imported), "run")
    folder.client()
    pathspec = flaky_task("RetriedFlow")
    first = Task(pathspec, attempt=0)
    assert {a.id for a in first} == {"name", "base", "x", "big", "only_first"}
    assert first.data.x == 0 and first.exception.message == "attempt 0 fails"
    assert first.stdout == "attempt 0\n"
    assert Task(pathspec, attempt=2).data.x == 2 == Task(pathspec).data.x
    assert "only_first" not in Task(pathspec)


CAUGHT_ON = '''
from IMPORTED import FlowSpec, catch, current, retry, step


class CatchOnFlow(FlowSpec):
    @step
    def start(self):
        self.base = [1]
        self.untouched = "u"
        self.items = [0, 1, 2]
        self.next(self.flaky, self.each)

    @catch(var="err")
    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        self.x = current.retry_count
        self.base.append(current.retry_count)
        if current.retry_count == 0:
            self.only_first = "a0"
        raise ValueError("attempt %d fails" % current.retry_count)
        self.next(self.after)

    @step
    def after(self):
        self.seen_x = self.x
        self.seen_base = self.base
        self.seen_first = getattr(self, "only_first", None)
        self.next(self.join)

    @step
    def each(self):
        self.next(self.item, foreach="items")

    @catch(var="ierr")
    @step
    def item(self):
        self.val = self.input * 10
        if self.input == 1:
            raise KeyError("item 1")
        self.next(self.inner)

    @step
    def inner(self, inputs):
        self.vals = [(i.val, i.ierr is not None) for i in inputs]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.vals = inputs.inner.vals
        self.seen_x = inputs.after.seen_x
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchOnFlow()
'''

FAILS = '''
from IMPORTED import FlowSpec, step


class FailsFlow(FlowSpec):
    @step
    def start(self):
        self.base = [1]
        self.next(self.fails)

    @step
    def fails(self):
        self.x = 5
        self.base.append(2)
        raise ValueError("no")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailsFlow()
'''


@pytest.mark.parametrize("imported", ["metaflow", "headwater"])
def test_what_follows_a_caught_step_sees_what_it_set_before_raising(folder, imported) -> None:
    """What Metaflow 2.19.38 shows of this flow (run side by side): each attempt's own values
    (an inherited list mutated before the raise included), the caught attempt's values in the
    step after it, a foreach item's in the join, and a step failing for good keeps its own.
    Before, a flow importing headwater stored nothing and ``after`` failed on ``self.x``."""
    folder.run(folder.write("caught_on.py", CAUGHT_ON, imported), "run")
    folder.client()
    run = Flow("CatchOnFlow").latest_run
    flaky = run["flaky"].task
    first = Task(flaky.pathspec, attempt=0)
    assert (first.data.x, first.data.base, first.data.only_first) == (0, [1, 0], "a0")
    assert first.data.untouched == "u" and "err" not in first
    assert (flaky.data.x, flaky.data.base) == (1, [1, 1]) and "only_first" not in flaky
    assert "attempt 1 fails" in str(flaky.data.err) and not flaky.successful
    after = run["after"].task.data
    assert (after.seen_x, after.seen_base, after.seen_first) == (1, [1, 1], None)
    items = {t.data.val: t for t in run["item"]}
    assert sorted(items) == [0, 10, 20] and not items[10].successful
    assert run["inner"].task.data.vals == [(0, False), (10, True), (20, False)]
    assert run["join"].task.data.seen_x == 1

    folder.run(folder.write("fails.py", FAILS, imported), "run", ok=False)
    folder.client()
    failed = Flow("FailsFlow").latest_run["fails"].task
    assert not failed.successful and (failed.data.x, failed.data.base) == (5, [1, 2])


def test_dump_attempt_prints_that_attempts_artifacts(folder) -> None:
    flow = folder.write("retried.py", RETRIED)
    folder.run(flow, "run")
    folder.client()
    task_path = flaky_task("RetriedFlow").split("/", 1)[1]
    first = folder.run(flow, "dump", task_path, "--attempt", "0", "--include", "x,only_first")
    heading, *rows = first.stdout.splitlines()
    assert heading == f"RetriedFlow/{task_path} (attempt 0): (failed)"
    assert "ValueError: attempt 0 fails" in first.stdout
    assert [r.split()[0] for r in rows if r.startswith("    only_first") or
            r.startswith("    x ")] == ["only_first", "x"]
    assert rows[-1].split()[-1] == "0"  # x of attempt 0
    last = folder.run(flow, "dump", task_path, "--attempt", "2", "--include", "x")
    assert last.stdout.splitlines()[0] == f"RetriedFlow/{task_path} (attempt 2):"
    assert last.stdout.splitlines()[-1].split()[-1] == "2"
    missing = folder.run(flow, "dump", task_path, "--attempt", "5", ok=False)
    assert "has no attempt 5" in missing.stderr


def test_gc_keeps_the_blobs_of_an_earlier_attempt(folder) -> None:
    folder.run(folder.write("retried.py", RETRIED), "run")
    done = folder.cli("gc", "--grace", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    folder.client()
    pathspec = flaky_task("RetriedFlow")
    assert [Task(pathspec, attempt=n).data.big[:9] for n in range(3)] == [
        "attempt 0", "attempt 1", "attempt 2"]


def test_an_attempt_killed_after_sending_its_result_keeps_no_artifacts(folder) -> None:
    """chaos2's rule, with a retry after it: the killed attempt reads failed, with nothing
    stored (not the retry's artifacts), and the retry's are the task's."""
    flow = folder.write("retried.py", RETRIED)
    hold = Path(tempfile.mkdtemp(prefix="hold-", dir=folder.path))
    env = {**fault_env(hold, "task.sent#2"), "PYTHONPATH": folder.env["PYTHONPATH"],
           "HEADWATER_METADATA": folder.metadata, "SUCCEED_AT": "0"}
    live = LiveRun(folder.path / flow, "run", cwd=folder.path, **env)
    try:
        _, pid = held_at(hold)
        os.kill(pid, signal.SIGKILL)
        (hold / "gate").touch()
        code = live.finish()
    finally:
        (hold / "gate").touch()
        live.kill()
        kill_group_quietly(live.pid)
    assert code == 0, live.output + live.stderr
    folder.client()
    pathspec = flaky_task("RetriedFlow")
    killed, retried = Task(pathspec, attempt=0), Task(pathspec, attempt=1)
    assert not killed.successful and "killed by SIGKILL" in killed.exception.message
    assert {a.id for a in killed} == {"name"}
    assert retried.successful and retried.data.x == 1 == Task(pathspec).data.x
