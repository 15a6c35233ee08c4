"""Faults of the Dask executor that need a cluster of their own: the scheduler going away.

(A worker killed mid-task is in test_dask_executor.py and test_scale_out.py: the shared cluster's
nanny replaces the worker. Killing the scheduler ends a cluster, so this module starts its own.)
"""

from __future__ import annotations

import sys

import servers
from headwater import Flow
from proctools import all_end

from .faultkit import DEADLINE_S
from .flowrun import background, hermetic_env, point_client_at, run_cli, wait_for_file, write_flow

LOST_FLOW = """
    import os
    import time
    from pathlib import Path
    from headwater import FlowSpec, step

    STARTED, SPARE = {started!r}, {spare!r}


    class LostFlow(FlowSpec):
        @step
        def start(self):
            self.before = "kept"
            self.next(self.slow)

        @step
        def slow(self):
            if not Path(SPARE).exists():
                Path(STARTED).write_text(str(os.getpid()))
                time.sleep(1000)  # the lost cluster must end it; it never ends alone
            self.after = "done"
            self.next(self.end)

        @step
        def end(self):
            print(self.before, self.after)


    if __name__ == "__main__":
        LostFlow()
"""


def test_losing_the_dask_scheduler_fails_the_run_cleanly_and_resume_finishes_it(tmp_path):
    started, spare = tmp_path / "started", tmp_path / "spare"
    code = tmp_path / "code"
    code.mkdir()
    flow = write_flow(code, "lost_flow.py", LOST_FLOW.format(started=str(started),
                                                             spare=str(spare)))
    with servers.dask_cluster(tmp_path / "dask1", {"solo": None}) as cluster:
        argv = [sys.executable, str(flow), "run", "--executor", "dask", "--dask-address",
                cluster.address]
        with background(argv, cwd=tmp_path, env=hermetic_env()) as proc:
            task_pid = int(wait_for_file(started, proc))
            cluster.scheduler.kill()
            out, err = proc.communicate(timeout=DEADLINE_S)
        assert proc.returncode == 1, out + err
        assert f"lost the connection to the Dask scheduler at {cluster.address}" in err, err
        assert "resume" in err  # the fix says what to do
        assert "Traceback" not in err, err
        # The worker goes when its scheduler does, and its task process with it.
        assert all_end([task_pid], within=DEADLINE_S), "the task outlived its cluster"

    point_client_at(tmp_path / ".headwater")
    run = Flow("LostFlow").latest_run
    assert run.finished and not run.successful
    assert run["start"].task.successful
    assert not run["slow"].task.successful

    spare.touch()
    with servers.dask_cluster(tmp_path / "dask2", {"again": None}) as cluster:
        resumed = run_cli(flow, "resume", "--executor", "dask", "--dask-address",
                          cluster.address, cwd=tmp_path, hermetic=True, timeout=DEADLINE_S)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    again = Flow("LostFlow").latest_run
    assert again.successful and again.origin_run_id == run.id
    assert again["start"].task.origin_pathspec  # cloned, not run again
    assert again["end"].task.stdout == "kept done\n"
