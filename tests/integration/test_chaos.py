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

from headwater.runtime.executors.forkserver import ForkServer

from .faultkit import (
    DEADLINE_S,
    LiveRun,
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
