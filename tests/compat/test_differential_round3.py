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
