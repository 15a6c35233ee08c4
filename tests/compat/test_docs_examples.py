"""What the examples of Metaflow's documentation showed missing, pinned down as headwater's tests.

The examples themselves are played by ``tools/metaflow_docs_examples.py`` against a snapshot of
the documentation site (see docs/migrating.md); each behaviour they needed is kept here.
"""

from __future__ import annotations

import os
import subprocess
import textwrap

from .helpers import headwater_argv


def _run(tmp_path, tripwire, name: str, code: str, *args: str) -> subprocess.CompletedProcess:
    flow = tmp_path / name
    flow.write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": tripwire}
    return subprocess.run(headwater_argv(*args[:1], str(flow), *args[1:]), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)


def test_catch_var_is_none_in_the_tasks_that_did_not_fail(tmp_path, tripwire, client):
    # The failures page's CatchFlow: a join reads `input.compute_failed` of every foreach task,
    # and only the one that divided by zero had failed.
    done = _run(tmp_path, tripwire, "catchflow.py", """
        from metaflow import FlowSpec, catch, step

        class CatchFlow(FlowSpec):
            @step
            def start(self):
                self.params = [0, 1]
                self.next(self.compute, foreach="params")

            @catch(var="compute_failed", print_exception=False)
            @step
            def compute(self):
                self.div = self.input
                self.x = 5 / self.div
                self.next(self.join)

            @step
            def join(self, inputs):
                self.failed = sorted(i.div for i in inputs if i.compute_failed)
                self.ok = sorted(i.div for i in inputs if i.compute_failed is None)
                self.next(self.end)

            @step
            def end(self):
                pass
    """, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow

    join = Flow("CatchFlow").latest_run["join"].task
    assert join.data.failed == [0] and join.data.ok == [1]
