"""A worker of a ``num_parallel`` step need not call ``self.next`` (Metaflow's suite returns
early from its workers, ``SecretsDecoratorTest`` on ``small-parallel``): it goes on with its
control task to the join."""

from __future__ import annotations

import subprocess
import textwrap

from .helpers import headwater_argv

FLOW = textwrap.dedent("""
    from metaflow import FlowSpec, current, parallel, step


    class WorkersFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.work, num_parallel=3)

        @parallel
        @step
        def work(self):
            self.node = current.parallel.node_index
            if self.node != 0:
                return  # a worker: no self.next
            self.next(self.join)

        @step
        def join(self, inputs):
            self.nodes = sorted(i.node for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        WorkersFlow()
""")


def test_a_parallel_worker_may_return_without_calling_next(tmp_path, client):
    flow = tmp_path / "workers_flow.py"
    flow.write_text(FLOW)
    done = subprocess.run(headwater_argv("run", str(flow)), cwd=tmp_path, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow

    assert Flow("WorkersFlow").latest_run["join"].task.data.nodes == [0, 1, 2]
