"""The eighth hostile-input audit: a flow file changed under a resume, deployments whose names
the cluster cannot tell apart, and Runner arguments no command line can carry. Each test runs
the real thing (``python flow.py`` runs, the Runner's child process) or the real compiler."""

from __future__ import annotations

from .faultkit import client, hw
from .flowrun import write_flow

# -- resume after the flow file changed ------------------------------------------------------

BEFORE = '''
from headwater import FlowSpec, step


class ChangedFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.items = [1, 2]
        self.next(self.old)

    @step
    def old(self):
        self.y = 2
        self.next(self.end)

    @step
    def end(self):
        print("end of the old flow")


if __name__ == "__main__":
    ChangedFlow()
'''

# The step after start was renamed: the origin's start task went to a step there is no more.
RENAMED = BEFORE.replace("self.old", "self.new").replace("def old", "def new")

# start now fans out: the origin's start task went on linearly and stored no items.
FANS_OUT = '''
from headwater import FlowSpec, step


class ChangedFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.items = [1, 2]
        self.next(self.old, foreach="items")

    @step
    def old(self):
        self.y = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ys = sorted(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("end of the new flow", self.ys)


if __name__ == "__main__":
    ChangedFlow()
'''


def test_a_resume_after_the_flow_changed_where_a_step_goes_runs_that_step_again(tmp_path):
    """Before: the clone of ``start`` sent the run on to ``old``, which the flow no longer has:
    a ``KeyError: 'old'`` traceback, and a run recorded failed with no task at all."""
    flow = write_flow(tmp_path, "changed_flow.py", BEFORE)
    first = hw(flow, "run", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    for source, expected in ((RENAMED, "end of the old flow"),
                             (FANS_OUT, "end of the new flow [1, 2]")):
        flow.write_text(source.lstrip("\n"))
        proc = hw(flow, "resume", "--origin-run-id", "1", cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "Traceback" not in out and "KeyError" not in out, out
        assert expected in out
        assert "Not cloned: in ChangedFlow/1 step 'start' went on to old" in out, out
    client(tmp_path)
    from headwater import Flow

    runs = {run.id: run for run in Flow("ChangedFlow")}
    assert sorted(runs) == ["1", "2", "3"]
    assert all(run.successful for run in runs.values())
    assert sorted(step.id for step in runs["2"]) == ["end", "new", "start"]
    assert runs["3"]["join"].task.data.ys == [1, 2]


def test_a_resume_of_an_unchanged_flow_still_clones_what_succeeded(tmp_path):
    flow = write_flow(tmp_path, "changed_flow.py", FANS_OUT.replace(
        'print("end of the new flow", self.ys)', 'raise RuntimeError("not yet")'))
    first = hw(flow, "run", cwd=tmp_path)
    assert first.returncode != 0
    flow.write_text(FANS_OUT.lstrip("\n"))
    proc = hw(flow, "resume", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert out.count("Cloning results of a previously successful task") == 4, out
    assert "Not cloned" not in out
