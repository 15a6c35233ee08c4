"""A fork server that has forked enough tasks rehearses headwater's code around a step before
the next fork (``forkserver.REHEARSE_AFTER``). Checked in a real run, with one server so that it
surely happens: no step runs in the rehearsal, and every later task sees its own ``current``,
its own item and its own output stream."""

from __future__ import annotations

import textwrap

from headwater import Flow, namespace
from headwater.runtime.executors.forkserver import REHEARSE_AFTER

from .flowrun import run_cli

ITEMS = REHEARSE_AFTER * 3

FLOW = textwrap.dedent("""
    import os

    from headwater import FlowSpec, current, step

    LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls.log")


    def record(text):
        with open(LOG, "a") as log:
            log.write(text + "\\n")


    class RehearsedFlow(FlowSpec):
        def __init__(self, *args, **kwargs):
            record("__init__")
            super().__init__(*args, **kwargs)

        @step
        def start(self):
            record("start")
            self.items = list(range(ITEMS))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            record(f"work {self.input}")
            print(f"item {self.input} in task {current.task_id}")
            self.seen = (current.step_name, current.task_id, self.input)
            self.next(self.join)

        @step
        def join(self, inputs):
            record("join")
            self.seen = sorted(inp.seen[2] for inp in inputs)
            self.next(self.end)

        @step
        def end(self):
            record("end")


    if __name__ == "__main__":
        RehearsedFlow()
""").replace("ITEMS", str(ITEMS))


def test_rehearsal_runs_no_step_and_later_tasks_are_their_own(tmp_path) -> None:
    flow = tmp_path / "rehearsed.py"
    flow.write_text(FLOW)
    done = run_cli(flow, "run", "--max-workers", "1", cwd=tmp_path, hermetic=True)
    assert done.returncode == 0, done.stderr

    calls = (tmp_path / "calls.log").read_text().splitlines()
    # The scheduler makes the flow object once (the CLI); steps ran once each, nothing more.
    steps = [c for c in calls if c != "__init__"]
    assert sorted(steps) == sorted(["start", "join", "end", *(f"work {i}" for i in range(ITEMS))])

    namespace(None)
    run = Flow("RehearsedFlow").latest_run
    assert run.successful
    assert run["join"].task.data.seen == list(range(ITEMS))
    tasks = list(run["work"])
    assert len(tasks) == ITEMS
    for task in tasks:
        step_name, task_id, item = task.data.seen
        assert (step_name, task_id) == ("work", task.id)
        assert task.stdout.strip() == f"item {item} in task {task.id}"
