"""What the chaos round (``tools/chaos.py``: random flows killed at random events) found, each
pinned down with its kill point chosen by an event, plus the tool itself on two seeds.

The promise: a crash, a Ctrl-C or a kill leaves a run that can be resumed, never corrupt data,
and no process of it left running.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

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
