"""Unbounded foreach (Metaflow's ``metaflow.unbounded_foreach``), with the test plug-in Metaflow
ships (``@unbounded_test_foreach_internal``, ``InternalTestUnboundedForeachInput``): a control
task beside the items, which alone reach the join; resume keeps both."""

from __future__ import annotations

import subprocess
import textwrap

from .helpers import headwater_argv

FLOW = textwrap.dedent("""
    import os
    from metaflow import FlowSpec, step, unbounded_test_foreach_internal
    from metaflow.plugins import InternalTestUnboundedForeachInput
    from metaflow.unbounded_foreach import UBF_CONTROL, UBF_TASK


    class UbfFlow(FlowSpec):
        @step
        def start(self):
            assert (UBF_CONTROL, UBF_TASK) == ("ubf_control", "ubf_task")
            self.arr = InternalTestUnboundedForeachInput(["a", "b", "c"])
            self.next(self.inner, foreach="arr")

        @unbounded_test_foreach_internal
        @step
        def inner(self):
            self.item = self.input
            self.stack = self.foreach_stack()
            self.next(self.join)

        @step
        def join(self, inputs):
            self.items = sorted(i.item for i in inputs)
            if os.environ.get("UBF_FAIL_JOIN"):
                raise RuntimeError("fail the join once")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        UbfFlow()
""")


def _cli(tmp_path, *args, env=None, ok=True):
    import os

    done = subprocess.run(headwater_argv(*args), cwd=tmp_path, capture_output=True, text=True,
                          timeout=240, env={**os.environ, **(env or {})})
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def test_an_unbounded_foreach_runs_a_control_task_beside_its_items(tmp_path, client):
    flow = tmp_path / "ubf_flow.py"
    flow.write_text(FLOW)
    _cli(tmp_path, "run", str(flow), env={"UBF_FAIL_JOIN": "1"}, ok=False)
    _cli(tmp_path, "resume", str(flow))

    client()
    from headwater import Flow

    for run in Flow("UbfFlow").runs():
        inner = run["inner"]
        assert len(list(inner.tasks())) == 4  # three items and the control task
        controls = list(inner.control_tasks())
        assert len(controls) == 1
        assert controls[0].metadata_dict.get("internal_task_type") == "control_task"
    resumed = Flow("UbfFlow").latest_run
    assert resumed.successful and resumed["join"].task.data.items == ["a", "b", "c"]
    items = [t for t in resumed["inner"].tasks() if "item" in t.data]
    # the foreach level has no num_splits inside its items (Metaflow: unbounded)
    assert sorted((t.data.stack[-1][0], t.data.stack[-1][1]) for t in items) == [
        (0, None), (1, None), (2, None)]
