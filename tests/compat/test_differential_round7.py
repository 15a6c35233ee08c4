"""What the seventh differential round (tools/differential.py, seeds 470-560 and from 1000) found
comparing with a real Metaflow 2.19.38, pinned on headwater (docs/decisions.md, "Differential
testing, seventh round").
"""

from __future__ import annotations

from pathlib import Path

from headwater import Flow

MUTATED = '''
from metaflow import FlowSpec, step


class MutatedFlow(FlowSpec):
    SETTINGS = {"k": [1]}
    LIMIT = 3

    @step
    def start(self):
        self.SETTINGS["k"].append("start")
        self.seen_start = repr(self.SETTINGS)
        self.next(self.left, self.right)

    @step
    def left(self):
        self.seen_left = repr(self.SETTINGS)
        self.next(self.meet)

    @step
    def right(self):
        self.SETTINGS["k"].append("right")
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.SETTINGS["k"].append("meet")
        self.next(self.end)

    @step
    def end(self):
        self.seen_end = repr(self.SETTINGS)


if __name__ == "__main__":
    MutatedFlow()
'''


def test_a_class_constant_changed_in_place_is_stored_as_the_class_defines_it(
        tmp_path: Path, run_headwater, client):
    """Seed 1000: a step that changes a class-level constant in place (``self.SETTINGS['k']
    .append(...)``) sees the change itself, but its artifact, and every later task's, is the
    value the class defines, as Metaflow stores it. headwater stored start's changed value and
    passed it on, so the client showed ``{'k': [1, 'start']}`` for tasks that read ``{'k': [1]}``
    from ``self.SETTINGS``; a join stored its own change."""
    (tmp_path / "mutated.py").write_text(MUTATED)
    done = run_headwater("run", "mutated.py")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    run = Flow("MutatedFlow").latest_run
    assert run["start"].task.data.seen_start == "{'k': [1, 'start']}"
    assert run["left"].task.data.seen_left == "{'k': [1]}"
    assert run["end"].task.data.seen_end == "{'k': [1]}"
    for name in ("start", "left", "right", "meet", "end"):
        task = run[name].task
        assert task["SETTINGS"].data == {"k": [1]}, name
        assert task["LIMIT"].data == 3, name


INCLUDED = '''
from metaflow import FlowSpec, Parameter, step


class IncludedFlow(FlowSpec):
    LIMIT = 3
    p = Parameter("p", default=1)

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = "same"
        self.next(self.join)

    @step
    def b(self):
        self.x = "same"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.y = "set in the join"
        self.merge_artifacts(inputs, include=["p", "x", "y", "LIMIT"])
        self.seen = [self.p, self.x, self.y, self.LIMIT]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    IncludedFlow()
'''


def test_merge_include_may_name_what_the_join_already_has(tmp_path: Path, run_headwater, client):
    """Found beside the seventh round's include merges: ``merge_artifacts(include=[...])``
    naming a parameter, a class constant or an artifact the join set before the merge is not
    missing, though no input brings it (Metaflow counts a name the join has as present).
    headwater refused the merge: ``names artifacts no input has: p, y``."""
    (tmp_path / "included.py").write_text(INCLUDED)
    done = run_headwater("run", "included.py", "--p", "5")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    join = Flow("IncludedFlow").latest_run["join"].task
    assert join.data.seen == [5, "same", "set in the join", 3]
    assert join["x"].data == "same"
