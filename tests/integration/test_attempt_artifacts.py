"""Each attempt of a task keeps its own artifacts, as in Metaflow.

Real runs (``python flow.py run``/``resume``, flows written for Metaflow served by headwater's
``metaflow`` shim, one written for headwater), then the client's ``Task(pathspec, attempt=N)``
and the ``dump --attempt`` command. What is asserted: an attempt a retry followed reads what
it stored itself (never the later attempt's), the attempt that ended the task reads the task's
artifacts, a task that failed for good reads each attempt's, ``@catch`` after retries, resume
clones the successful attempt only, ``gc`` keeps an earlier attempt's blobs, and a task killed
after sending its result keeps nothing of that attempt. On SQLite, and on PostgreSQL for the
main case.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

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
from metaflow import FlowSpec, catch, current, retry, step


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
    import psycopg

    name = f"attempts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield Folder(tmp_path, pg_server.rsplit("/", 1)[0] + "/" + name)
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


def test_catch_after_retries_keeps_each_attempts_artifacts(folder) -> None:
    folder.run(folder.write("caught.py", CAUGHT), "run")
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


def test_a_flow_importing_headwater_keeps_nothing_of_a_failed_attempt(folder) -> None:
    """Its failed steps store nothing (docs/decisions.md): the earlier attempt reads none of the
    retry's artifacts, and its failure and output are its own."""
    folder.run(folder.write("retried.py", RETRIED, imported="headwater"), "run")
    folder.client()
    pathspec = flaky_task("RetriedFlow")
    first = Task(pathspec, attempt=0)
    assert {a.id for a in first} == {"name"}
    assert "x" not in first.data and first.exception.message == "attempt 0 fails"
    with pytest.raises(AttributeError, match="x"):
        first.data.x  # noqa: B018
    assert Task(pathspec, attempt=2).data.x == 2 == Task(pathspec).data.x


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
