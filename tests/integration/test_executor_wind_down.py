"""``Executor.wind_down``: the local executor hangs up on its fork servers once no task runs
(so they exit beside the run's last records), and not while one still runs. Real fork servers,
real task processes; every wait is on an event with a generous deadline."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

from headwater.records import TaskResult, TaskSpec
from headwater.runtime.executors.base import TaskExited
from headwater.runtime.executors.forkserver import read_to_end
from headwater.runtime.executors.local.executor import LocalExecutor

DEADLINE_S = 60.0


def _spec() -> TaskSpec:
    return TaskSpec(flow_name="F", run_id="1", step="start", task_id="1", attempt=0,
                    parents=[], params={}, frames=())


def _alive(pid: int) -> bool:
    """The server has not exited yet (it is our child: waitpid with WNOHANG tells)."""
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def test_wind_down_leaves_servers_while_a_task_runs_then_lets_them_go(tmp_path: Path) -> None:
    go = tmp_path / "go"

    def task_main(sock) -> int:  # runs in the forked task: waits for the test's word
        read_to_end(sock)
        deadline = time.monotonic() + DEADLINE_S
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        sock.sendall(pickle.dumps(TaskResult(), protocol=5))
        sock.close()
        return 0

    executor = LocalExecutor(task_main, servers=2)
    pids = [server.pid for server in executor._servers]
    try:
        executor.submit("1", _spec())
        executor.wind_down()  # a task runs: nothing is let go
        assert all(_alive(pid) for pid in pids)
        go.touch()
        exited: list[TaskExited] = []
        deadline = time.monotonic() + DEADLINE_S
        while not exited and time.monotonic() < deadline:
            exited = [e for e in executor.poll(timeout=1.0) if isinstance(e, TaskExited)]
        assert exited and exited[0].result.ok
        executor.wind_down()  # nothing runs now: the servers are told to go, and go
        executor.wind_down()  # twice is harmless
        deadline = time.monotonic() + DEADLINE_S
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(_alive(pid) for pid in pids)
    finally:
        executor.close()  # reaps what is left; after wind_down it only has to wait
