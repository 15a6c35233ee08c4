"""What the chaos round (``tools/chaos.py``: random flows killed at random events) found, each
pinned down with its kill point chosen by an event, plus the tool itself on two seeds.

The promise: a crash, a Ctrl-C or a kill leaves a run that can be resumed, never corrupt data,
and no process of it left running.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater import Flow
from headwater.runtime.executors.forkserver import ForkServer

from .faultkit import (
    DEADLINE_S,
    LiveRun,
    client,
    group_gone,
    kill_group_quietly,
)
from .test_faults import FLOW, READY, assert_resume_finishes, latest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("executor", ["local", "spawn"])
def test_killing_the_runs_whole_process_group_leaves_no_task_running(tmp_path, executor):
    """``kill -9 -PGID`` kills the scheduler and its fork server at once: nobody is left to stop
    the tasks (each in a process group of its own), so each task ties its group to the
    scheduler's lifeline and the kernel kills it, with the ``sleep`` it started."""
    live = LiveRun(FLOW, "run", cwd=tmp_path, FAULT="wait", HEADWATER_EXECUTOR=executor)
    pgid = -1
    try:
        pgid = int(live.wait_for(READY)["pgid"])  # the event: `work` is running
        live.signal(signal.SIGKILL, group=True)
        assert live.finish() == -signal.SIGKILL
        group_gone(pgid)  # the task and its `sleep 1000`, which would otherwise run on
    finally:
        live.kill()
        kill_group_quietly(pgid)
    origin = latest(tmp_path)
    assert origin.finished and not origin.successful
    work = origin["work"].task
    assert work.finished and not work.successful
    assert_resume_finishes(tmp_path, origin)


def test_the_chaos_tool_passes_on_two_seeds():
    """Seed 4: a kill of the whole group (fork server) at the first task, then a resume whose
    scheduler is killed, resumed again. Seed 8: SIGTERM at `end`, then a resume whose task is
    killed. Every check of the tool (reads, logs/dump/show, gc, integrity, no strays) runs."""
    done = subprocess.run([sys.executable, str(REPO / "tools" / "chaos.py"), "--seeds", "4,8",
                           "--executor", "local"], capture_output=True, text=True,
                          timeout=4 * DEADLINE_S, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "chaos: 2 passed, 0 failed, 0 skipped", done.stdout


def test_a_fork_server_whose_scheduler_dies_mid_launch_kills_the_task_it_forked(tmp_path):
    """The scheduler dies between sending a launch and reading ``started`` (or as another task
    exits): the server's report then fails with EPIPE. It must still kill its tasks' groups
    before it exits, not die of the error and leave them running. The server is held stopped
    while the launch and the hangup are queued, so it meets them in that order. This process
    (pytest) holds the lifeline, so only the server can stop the task here."""
    pidfile = tmp_path / "task.pid"

    def task_main(sock: socket.socket) -> int:
        pidfile.write_text(str(os.getpid()))
        time.sleep(1000)
        return 0

    server = ForkServer.start(task_main)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ours, theirs = socket.socketpair()
    try:
        os.kill(server.pid, signal.SIGSTOP)
        server.launch("t", [out_w, err_w, theirs.fileno()])
        server.hang_up()  # the scheduler is gone, its launch still queued
        for fd in (out_w, err_w):
            os.close(fd)
        theirs.close()
        os.kill(server.pid, signal.SIGCONT)
        server.wait()
        # The task holds the stdout pipe's write end: end of file means it is gone.
        readable, _, _ = select.select([out_r], [], [], DEADLINE_S)
        assert readable and os.read(out_r, 1024) == b"", "the forked task outlived its server"
    finally:
        if pidfile.exists():
            with contextlib.suppress(OSError):
                os.killpg(int(pidfile.read_text()), signal.SIGKILL)
        for fd in (out_r, err_r):
            os.close(fd)
        ours.close()


LATE_FLOW = '''
import os
import time

from headwater import FlowSpec, step


class _Late:
    """Looked at by the process's exit, once the run is recorded (the exit flushes the files a
    script's module holds, and asks each module-level value whether it is one): says so, then
    waits for the test's Ctrl-C."""

    @property
    def __class__(self):
        gate = os.environ.get("LATE_GATE")
        if gate:
            print("EXITING", flush=True)
            while not os.path.exists(gate):
                time.sleep(0.01)
        return _Late


LATE = _Late()


class LateFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LateFlow()
'''


def test_a_ctrl_c_after_the_run_is_done_exits_130_without_a_traceback(tmp_path):
    """Ctrl-C a moment after ``Done!``, while the process exits: the run stays recorded as
    succeeded, the exit is 130, and no traceback through headwater's exit code is printed."""
    flow = tmp_path / "late_flow.py"
    flow.write_text(LATE_FLOW)
    gate = tmp_path / "gate"
    live = LiveRun(flow, "run", cwd=tmp_path, LATE_GATE=str(gate))
    try:
        live.wait_for("EXITING")  # the event: the exit has begun
        assert "Done! Run LateFlow/1 succeeded." in live.output
        live.signal(signal.SIGINT, group=True)
        assert live.finish() == 130, live.output + live.stderr
    finally:
        gate.touch()
        live.kill()
    assert "Traceback" not in live.stderr, live.stderr
    assert "Interrupted while exiting" in live.stderr
    client(tmp_path)
    assert Flow("LateFlow")["1"].successful
