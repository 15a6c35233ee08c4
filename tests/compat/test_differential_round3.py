"""What the third differential round (tools/differential.py with tools/differential_surface.py)
found comparing what a user sees beyond the data (client objects, ``logs``, ``dump``, the
Runner, a failed run's last lines) with a real Metaflow 2.19.38, pinned on headwater
(docs/decisions.md, "Differential testing, third round").
"""

from __future__ import annotations

from pathlib import Path

from headwater import Flow

RESUMED = '''
import os

from metaflow import FlowSpec, step


class ResumedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if os.environ.get("FAIL_BODY") and self.input == 2:
            raise RuntimeError("failing body on purpose")
        self.x = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.xs = [inp.x for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResumedFlow()
'''


def test_every_step_of_a_resumed_run_names_its_origin_step(tmp_path: Path, run_headwater,
                                                           client):
    (tmp_path / "resumed.py").write_text(RESUMED)
    failed = run_headwater("run", "resumed.py", extra_env={"FAIL_BODY": "1"})
    assert failed.returncode == 1
    resumed = run_headwater("resume", "resumed.py")
    assert resumed.returncode == 0, resumed.stderr
    client()
    runs = list(Flow("ResumedFlow"))
    run, origin = runs[0], runs[1]
    assert run.origin_pathspec == origin.pathspec
    # Metaflow 2.19.38: a step of a resumed run names the origin run's step, whether its tasks
    # were cloned (start), partly cloned (body) or all ran again (join, end)
    for name in ("start", "body", "join", "end"):
        assert run[name].origin_pathspec == f"{origin.pathspec}/{name}"
    # which tasks were cloned is each task's own origin_pathspec
    assert run["start"].task.origin_pathspec == origin["start"].task.pathspec
    assert run["end"].task.origin_pathspec is None
    bodies = sorted(run["body"], key=lambda task: task.data.x)
    assert bodies[0].origin_pathspec is not None and bodies[1].origin_pathspec is None
    assert origin["start"].origin_pathspec is None


LINEAGE = '''
from metaflow import FlowSpec, step


class LineageFlow(FlowSpec):
    @step
    def start(self):
        self.route = "a"
        self.next({"a": self.a, "b": self.b}, condition="route")

    @step
    def a(self):
        self.count = 0
        self.next(self.again)

    @step
    def b(self):
        self.count = 0
        self.next(self.again)

    @step
    def again(self):
        self.count += 1
        self.more = "yes" if self.count < 3 else "no"
        self.next({"yes": self.again, "no": self.end}, condition="more")

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LineageFlow()
'''


def test_lineage_names_what_ran_in_a_conditional_and_a_loop(tmp_path: Path, run_headwater,
                                                            client):
    (tmp_path / "lineage.py").write_text(LINEAGE)
    done = run_headwater("run", "lineage.py")
    assert done.returncode == 0, done.stderr
    client()
    run = Flow("LineageFlow").latest_run
    # a kept difference: Metaflow 2.19.38 reads ``LineageFlow/None`` for a fresh run, its
    # step lineage follows the graph (the arm ``b`` that did not run raises MetaflowNotFound)
    # and a loop's task has every task of the parent steps as its parents
    assert run.origin_pathspec is None and run["again"].origin_pathspec is None
    assert [s.id for s in run["start"].child_steps] == ["a"]
    assert sorted(s.id for s in run["again"].parent_steps) == ["a", "again"]
    loops = sorted(run["again"], key=lambda task: task.data.count)
    assert [t.data.count for t in loops] == [1, 2, 3]
    assert list(loops[0].parent_task_pathspecs) == [run["a"].task.pathspec]
    assert list(loops[1].parent_task_pathspecs) == [loops[0].pathspec]
    assert list(loops[1].child_task_pathspecs) == [loops[2].pathspec]
    assert list(loops[2].child_task_pathspecs) == [run["end"].task.pathspec]
