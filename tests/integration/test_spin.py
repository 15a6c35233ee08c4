"""``spin RUN/STEP/TASK``: re-run one past task with its original inputs, recording nothing."""

from __future__ import annotations

import json
import stat

import pytest

from headwater import Flow

from .flowrun import point_client_at, run_cli, run_count, write_flow

SOURCE = '''
from headwater import FlowSpec, Parameter, step


class SpinFlow(FlowSpec):
    factor = Parameter("factor", default=3)

    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        print("spinning", self.input)
        self.value = self.input * self.factor * MULTIPLIER
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


MULTIPLIER = 1

if __name__ == "__main__":
    SpinFlow()
'''


@pytest.fixture
def ran(tmp_path):
    path = write_flow(tmp_path, "spin_flow.py", SOURCE)
    proc = run_cli(path, "run", "--factor", "5", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    point_client_at(tmp_path / ".headwater")
    run = Flow("SpinFlow").latest_run
    return path, run


def test_spin_reruns_a_foreach_task_with_its_item_and_parameters(ran, tmp_path):
    path, run = ran
    task = next(t for t in run["each"] if t.index == 1)
    path.write_text(path.read_text().replace("MULTIPLIER = 1", "MULTIPLIER = 10"))  # edited code
    proc = run_cli(path, "spin", f"{run.id}/each/{task.id}", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "spinning 2" in proc.stdout
    assert "value = 100" in proc.stdout  # 2 * factor 5 * the new MULTIPLIER
    assert run_count(tmp_path / ".headwater") == 1  # nothing recorded
    assert task.data.value == 10  # the original is untouched


def test_spin_a_join_and_a_missing_task(ran, tmp_path):
    path, run = ran
    join = run["join"].task
    proc = run_cli(path, "spin", f"SpinFlow/{run.id}/join/{join.id}", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert "total = 15" in proc.stdout
    proc = run_cli(path, "spin", f"{run.id}/each/999", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_spin_leaves_its_attribute_file_private_even_where_one_was_shared(ran, tmp_path):
    # The file names the metadata store, whose URL may carry a password (PostgreSQL): a file
    # others could read before is not left that way.
    path, run = ran
    join = run["join"].task
    attributes = tmp_path / "attributes.json"
    attributes.write_text("{}")
    attributes.chmod(0o644)
    proc = run_cli(path, "spin", f"{run.id}/join/{join.id}", "--runner-attribute-file",
                   str(attributes), cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(attributes.read_text())["step_name"] == "join"
    assert stat.S_IMODE(attributes.stat().st_mode) == 0o600
