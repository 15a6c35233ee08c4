"""``current.run`` and ``current.task`` in a flow that imports only the flow API.

The client registers both when it is imported; a flow written ``from headwater import
FlowSpec, current, step`` never imports it, and Metaflow's ``current`` has both all the same.
"""

from __future__ import annotations

from headwater import Flow

from .flowrun import point_client_at, run_cli, task_lines, write_flow

SOURCE = '''
from headwater import FlowSpec, current, step


class CurrentObjectsFlow(FlowSpec):
    @step
    def start(self):
        self.x = 41
        self.next(self.end)

    @step
    def end(self):
        run = current.run
        print("run:", run.pathspec, "start x:", run["start"].task.data.x)
        print("task:", current.task.pathspec)
        self.seen = [run.pathspec, current.task.pathspec]


if __name__ == "__main__":
    CurrentObjectsFlow()
'''


def test_current_run_and_task_without_importing_the_client(tmp_path):
    flow = write_flow(tmp_path, "current_objects_flow.py", SOURCE)
    proc = run_cli(flow, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = [t.text for t in task_lines(proc.stdout) if t.step == "end"]
    assert "run: CurrentObjectsFlow/1 start x: 41" in said, said
    assert "task: CurrentObjectsFlow/1/end/2" in said, said
    point_client_at(tmp_path / ".headwater")
    run = Flow("CurrentObjectsFlow").latest_run
    assert run["end"].task.data.seen == ["CurrentObjectsFlow/1", run["end"].task.pathspec]
