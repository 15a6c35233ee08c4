"""Kills, Ctrl-C's and SIGTERMs landing inside headwater's own writes, at the fault points of
``headwater.fault_points``: a task's blobs written but its result not sent, its result sent
but its process not gone, a finished task's logs stored but nothing recorded, halfway through
the transaction recording an attempt, a turn's records written but not committed, a big join's
parents half stored.

Each run holds at its point (the event: the ``held`` file), is interrupted there, and then must
read finished and failed (or, when the interruption came after the task's result was safe,
successful), pass SQLite's integrity check, and be finished by ``resume`` with the right data.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from headwater import Flow, Run
from headwater.exceptions import NotFoundError
from headwater.runtime.join_parents import CHUNK

from .faultkit import (
    DEADLINE_S,
    LiveRun,
    client,
    datastore,
    env_for,
    hw,
    kill_group_quietly,
    wait_until,
)
from .test_faults import FLOW, latest

REPO = Path(__file__).resolve().parents[2]
END_SAYS = "end read: payload made by start / result made by work\n"


def held_at(folder: Path) -> tuple[str, int]:
    """Wait for the run to hold at its fault point; the point and the pid holding there."""
    held = folder / "held"
    wait_until(held.exists, f"the run holds at its fault point ({held})")
    name, pid = held.read_text().split()
    return name, int(pid)


def fault_env(folder: Path, point: str) -> dict[str, str]:
    folder.mkdir(exist_ok=True)
    return {"HEADWATER_FAULT_POINT": point, "HEADWATER_FAULT_DIR": str(folder)}


def integrity_ok(tmp_path) -> None:
    db = sqlite3.connect(f"file:{datastore(tmp_path) / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


def interrupt_at(tmp_path, point: str, how: str, flow: Path = FLOW, *args: str,
                 **env: str) -> tuple[int, str]:
    """``python flow ARGS`` (``run`` when none), held at ``point`` and interrupted ``how``; its
    exit code and output."""
    hold = Path(tempfile.mkdtemp(prefix="hold-", dir=tmp_path))
    live = LiveRun(flow, *(args or ("run",)), cwd=tmp_path, **fault_env(hold, point), **env)
    try:
        _, pid = held_at(hold)
        # the scheduler's points hold the scheduler, the task's a task
        assert (pid == live.pid) == point.startswith(("record.", "join.")), (point, pid, live.pid)
        if how == "kill-held":
            os.kill(pid, signal.SIGKILL)
        elif how == "kill-scheduler":
            os.kill(live.pid, signal.SIGKILL)
        elif how == "kill-group":
            live.signal(signal.SIGKILL, group=True)
        elif how == "ctrl-c":
            live.signal(signal.SIGINT, group=True)
        elif how == "sigterm":
            live.signal(signal.SIGTERM)
        if pid == live.pid and how in ("ctrl-c", "sigterm"):
            (hold / "gate").touch()  # the scheduler lives on: let it go and stop the run
        code = live.finish()
    finally:
        (hold / "gate").touch()  # whatever the outcome, nothing waits on the gate forever
        live.kill()
        kill_group_quietly(live.pid)
    return code, live.output + live.stderr


def resume_finishes(tmp_path, origin_id: str) -> None:
    proc = hw(FLOW, "resume", "--origin-run-id", origin_id, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = latest(tmp_path)
    assert run.successful and run.origin_run_id == origin_id
    assert run["end"].task.stdout == END_SAYS


# Pass 2 of the task points and of the scheduler's per-task points is `work`'s (start's is 1).
@pytest.mark.parametrize(("point", "how"), [
    ("task.stored#2", "kill-held"),
    ("task.stored#2", "kill-scheduler"),
    ("task.stored#2", "ctrl-c"),
    ("task.sent#2", "kill-held"),
    ("task.sent#2", "kill-group"),
    ("record.logs-saved#2", "kill-scheduler"),
    ("record.logs-saved#2", "ctrl-c"),
    ("record.task-row#2", "kill-scheduler"),
    ("record.task-row#2", "ctrl-c"),
    ("record.task-row#2", "sigterm"),
    ("record.commit#2", "kill-scheduler"),
    ("record.commit#3", "sigterm"),
    ("record.committed#2", "kill-group"),
])
@pytest.mark.parametrize("executor", ["local", "spawn"])
def test_an_interruption_inside_a_tasks_final_writes_leaves_a_run_resume_finishes(
        tmp_path, point, how, executor):
    code, output = interrupt_at(tmp_path, point, how, HEADWATER_EXECUTOR=executor)
    assert code != 0, output
    integrity_ok(tmp_path)
    run = latest(tmp_path)
    assert run.finished and not run.successful, (run.status, output)
    for step in run:
        for task in step:
            assert task.finished, task.pathspec
            if task.successful:  # what reads successful is whole: its data is all there
                assert {a.id for a in task} >= {"payload"}
                _ = [a.data for a in task]
    resume_finishes(tmp_path, run.id)
    integrity_ok(tmp_path)


@pytest.mark.parametrize("executor", ["local", "spawn"])
def test_a_task_killed_after_sending_its_result_is_failed_whole_and_resumed(tmp_path, executor):
    """The task's result reached the scheduler, then the task was killed before it exited: the
    exit decides (a result followed by a death is no success), so the task is failed, none of
    its artifacts recorded, and resume runs it again."""
    code, output = interrupt_at(tmp_path, "task.sent#2", "kill-held", HEADWATER_EXECUTOR=executor)
    assert code == 1, output
    run = latest(tmp_path)
    work = run["work"].task
    assert not work.successful and "killed by SIGKILL" in work.exception.message
    assert "result" not in work
    resume_finishes(tmp_path, run.id)


@pytest.mark.parametrize("point", ["task.stored#2", "task.sent#2"])
def test_a_task_on_a_dask_worker_held_at_its_fault_point_is_killed_and_resumed(
        tmp_path, dask_cluster, point):
    """A task on a Dask worker gets the worker's environment, not the run's: the scheduler
    sends it the run's fault point, so `work` (pass 2) holds on the worker, where it is killed
    with its blobs written (or its result sent); it is failed whole, and a resume on the
    cluster runs it again."""
    on_dask = ("--executor", "dask", "--dask-address", dask_cluster.address)
    code, output = interrupt_at(tmp_path, point, "kill-held", FLOW, "run", *on_dask)
    assert code == 1, output
    run = latest(tmp_path)
    work = run["work"].task
    assert not work.successful and "result" not in work, output
    proc = hw(FLOW, "resume", "--origin-run-id", run.id, *on_dask, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    resumed = latest(tmp_path)
    assert resumed.successful and resumed.origin_run_id == run.id
    assert resumed["end"].task.stdout == END_SAYS


@pytest.mark.parametrize(("point", "gone"), [
    ("delete.rows#1", 0),  # the first run's rows half deleted, not committed
    ("delete.rows#2", 1),  # the first run deleted, the second's half
    ("delete.committed#1", 1),  # the first run's deletion just committed
])
def test_a_delete_killed_midway_leaves_each_run_whole_or_gone_and_the_next_one_finishes(
        tmp_path, point, gone):
    """``headwater delete`` of two runs, SIGKILLed inside the transaction deleting one or just
    after one committed: each run reads whole or is not found, as far as the deletion got;
    ``gc`` then keeps what the run left needs; the next ``delete`` finishes."""
    for _ in range(2):
        done = hw(FLOW, "run", cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    names = sorted((run.pathspec for run in Flow("FaultFlow")),
                   key=lambda name: int(name.split("/")[1]))
    hold = Path(tempfile.mkdtemp(prefix="hold-", dir=tmp_path))
    delete = [sys.executable, "-m", "headwater", "delete", *names]
    proc = subprocess.Popen(delete, cwd=tmp_path, env=env_for(tmp_path, **fault_env(hold, point)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        name, pid = held_at(hold)
        assert (name, pid) == (point.split("#")[0], proc.pid)
        os.kill(pid, signal.SIGKILL)
        proc.communicate(timeout=DEADLINE_S)
    finally:
        (hold / "gate").touch()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    integrity_ok(tmp_path)

    def whole(pathspec: str) -> None:
        run = Run(pathspec)
        assert run.successful and run["end"].task.stdout == END_SAYS, pathspec
        assert run["start"].task["payload"].data.startswith("payload made by start|")

    for pathspec in names[:gone]:
        with pytest.raises(NotFoundError):
            Run(pathspec)
    for pathspec in names[gone:]:
        whole(pathspec)
    collected = subprocess.run([sys.executable, "-m", "headwater", "gc", "--grace", "0"],
                               cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                               text=True, timeout=DEADLINE_S, check=False)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    for pathspec in names[gone:]:
        whole(pathspec)
    done = subprocess.run([*delete[:4], *names[gone:]], cwd=tmp_path, env=env_for(tmp_path),
                          capture_output=True, text=True, timeout=DEADLINE_S, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for pathspec in names:
        with pytest.raises(NotFoundError):
            Run(pathspec)
    integrity_ok(tmp_path)


WIDE = textwrap.dedent(f'''
    from headwater import FlowSpec, step

    class WideFaultFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range({CHUNK + 10}))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.out = self.input * 3
            self.next(self.join)

        @step
        def join(self, inputs):
            assert [i.input for i in inputs] == list(range({CHUNK + 10}))
            self.total = sum(i.out for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            print("total", self.total)

    if __name__ == "__main__":
        WideFaultFlow()
''')


@pytest.mark.parametrize("how", ["kill-scheduler", "ctrl-c"])
def test_an_interruption_while_a_big_joins_parents_are_stored_leaves_a_run_resume_finishes(
        tmp_path, how):
    """More than CHUNK parents: the scheduler stores them as they arrive (join_parents.py). It is
    stopped right after the first chunk's blob is written, before it notes the chunk's key."""
    flow = tmp_path / "wide.py"
    flow.write_text(WIDE)
    code, output = interrupt_at(tmp_path, "join.spill#1", how, flow, "run", "--max-workers", "2")
    assert code != 0, output
    integrity_ok(tmp_path)
    client(tmp_path)
    origin = Flow("WideFaultFlow").latest_run
    assert origin.finished and not origin.successful
    assert "join" not in origin
    # The resume records its clones and stores the join's parents as they arrive: its scheduler
    # is killed there too, and the resume of that resume finishes.
    code, output = interrupt_at(tmp_path, "join.spill#1", "kill-scheduler", flow, "resume",
                                "--origin-run-id", origin.id)
    assert code == -signal.SIGKILL, output
    integrity_ok(tmp_path)
    interrupted = Flow("WideFaultFlow").latest_run
    assert interrupted.id != origin.id and not interrupted.successful
    proc = hw(flow, "resume", "--origin-run-id", interrupted.id, cwd=tmp_path,
              timeout=2 * DEADLINE_S)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = Flow("WideFaultFlow").latest_run
    assert run.successful and run["join"].task["total"].data == 3 * sum(range(CHUNK + 10))
    assert run["end"].task.stdout == f"total {3 * sum(range(CHUNK + 10))}\n"
    integrity_ok(tmp_path)


def test_a_spawned_task_that_dies_before_taking_its_spec_fails_the_task_not_the_scheduler():
    """A Ctrl-C of the run's process group can land in the instant between a spawned task's fork
    and its own ``setpgid``: the task dies of it before it reads its spec, and the scheduler's
    send then meets a closed socket. That is the task's failure. (The scheduler died of the
    ``BrokenPipeError`` instead, and click took it for a closed stdout: ``run`` exited 1 without
    a word; one Ctrl-C in about ten landing just after a task was launched.) Here the task's
    "interpreter" is ``false``, which exits at once, and the spec is larger than a socket's
    buffer, so the send surely finds the task gone."""
    from headwater.records import TaskSpec
    from headwater.runtime.executors.base import TaskExited
    from headwater.runtime.executors.spawn.executor import SpawnExecutor

    executor = SpawnExecutor({}, python="false")
    try:
        big = {"ballast": "x" * (8 << 20)}
        executor.submit("1", TaskSpec("F", "1", "start", "1", 0, [], big, ()))
        exited: list[TaskExited] = []
        wait_until(lambda: exited.extend(e for e in executor.poll(0.5)
                                         if isinstance(e, TaskExited)) or exited,
                   "the task's exit is reported")
        failure = exited[0].result.failure
        assert failure is not None and failure.type_name == "TaskCrashed"
        assert "exited with code 1 before the step finished" in failure.message
    finally:
        executor.close()


def test_the_chaos_tool_passes_at_fault_points_on_two_seeds():
    """``tools/chaos.py --points``: seed 0 kills the scheduler (fork server) with a turn's
    records written but not committed; seed 1 (spawn) kills the scheduler at a task's logs
    saved but unrecorded, then kills the resume's halfway through recording an attempt, and
    resumes that. Every check of the tool runs."""
    done = subprocess.run([sys.executable, str(REPO / "tools" / "chaos.py"), "--seeds", "0,1",
                           "--executor", "both", "--points"], capture_output=True, text=True,
                          timeout=4 * DEADLINE_S, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "point:record.commit" in done.stdout and "point:record.task-row" in done.stdout
    assert done.stdout.splitlines()[-1] == "chaos: 2 passed, 0 failed, 0 skipped", done.stdout
