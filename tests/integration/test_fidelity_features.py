"""Metaflow features real flows use, through ``from headwater import ...``: ``@secrets``,
``@exit_hook``, ``current.graph``/``current.tempdir``, per-line log times and
``resume --clone-only``/``--reentrant``. (The same through ``metaflow``: tests/compat.)"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import timezone
from pathlib import Path

from headwater import Flow

from .flowrun import reset_client, run_cli, start_cli, write_flow

SECRETS_FLOW = """
import os
from headwater import FlowSpec, secrets, step


class SecretsFlow(FlowSpec):
    @secrets(sources=[
        {"type": "inline", "id": "api", "options": {"env_vars": {"API_KEY": "k-123"}}},
        "env.DB_CREDENTIALS",
        "PLAIN_DEFAULT",
    ])
    @step
    def start(self):
        self.seen = {name: os.environ.get(name) for name in ("API_KEY", "DB_USER", "DB_PASS")}
        self.plain = os.environ.get("PLAIN_VALUE")
        self.next(self.end)

    @step
    def end(self):
        self.leaked = "API_KEY" in os.environ or "DB_USER" in os.environ


if __name__ == "__main__":
    SecretsFlow()
"""


def test_secrets_from_inline_and_environment_sources(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "secrets_flow.py", SECRETS_FLOW)
    env = {"DB_CREDENTIALS": json.dumps({"DB_USER": "kim", "DB_PASS": "pw-9"}),
           "PLAIN_DEFAULT": json.dumps({"PLAIN_VALUE": "p"})}
    done = run_cli(flow, "run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pw-9" not in done.stdout + done.stderr and "k-123" not in done.stdout + done.stderr
    reset_client()
    run = Flow("SecretsFlow").latest_run
    start = run["start"].task
    assert start.data.seen == {"API_KEY": "k-123", "DB_USER": "kim", "DB_PASS": "pw-9"}
    assert start.data.plain == "p"  # a source without a type uses the default type (env)
    assert run["end"].task.data.leaked is False  # only the decorated step's task gets them
    artifact_names = {a.id for a in start.artifacts}
    assert not artifact_names & {"API_KEY", "DB_USER", "DB_PASS"}


def test_a_missing_secret_fails_the_step_naming_it_not_its_value(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "secrets_flow.py", SECRETS_FLOW)
    done = run_cli(flow, "run", cwd=tmp_path, env={"PLAIN_DEFAULT": "{}"})
    assert done.returncode == 1
    said = done.stdout + done.stderr
    assert "step 'start' of flow SecretsFlow" in said
    assert "DB_CREDENTIALS is not set" in said and "k-123" not in said


def test_a_secret_may_not_replace_a_variable_unless_allowed(tmp_path: Path) -> None:
    closing = '"PLAIN_DEFAULT",\n    ]'
    assert closing in SECRETS_FLOW
    flow = write_flow(tmp_path, "secrets_flow.py", SECRETS_FLOW)
    env = {"DB_CREDENTIALS": json.dumps({"DB_USER": "kim"}), "PLAIN_DEFAULT": "{}",
           "API_KEY": "from-the-shell"}
    refused = run_cli(flow, "run", cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert "would replace the environment variable API_KEY" in refused.stdout + refused.stderr
    assert "allow_override=True" in refused.stdout + refused.stderr
    write_flow(tmp_path, "secrets_flow.py",
               SECRETS_FLOW.replace(closing, closing + ", allow_override=True"))
    allowed = run_cli(flow, "run", cwd=tmp_path, env=env)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    reset_client()
    assert Flow("SecretsFlow").latest_run["start"].task.data.seen["API_KEY"] == "k-123"


HOOKS_FLOW = """
import os
from headwater import FlowSpec, exit_hook, step


def report(run):
    print(f"report: {run.pathspec} successful={run.successful} answer={run.data.answer}")


def on_trouble():
    print("trouble hook ran")


def broken_hook():
    raise RuntimeError("the hook itself failed")


@exit_hook(on_success=[broken_hook, report], on_error=["on_trouble"])
class HooksFlow(FlowSpec):
    @step
    def start(self):
        if os.environ.get("BREAK"):
            raise ValueError("asked to break")
        self.next(self.end)

    @step
    def end(self):
        self.answer = 42


if __name__ == "__main__":
    HooksFlow()
"""


def test_exit_hooks_run_after_the_run_with_its_outcome(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "hooks_flow.py", HOOKS_FLOW)
    done = run_cli(flow, "run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr  # a failing hook changes nothing
    assert "report: HooksFlow/1 successful=True answer=42" in done.stdout
    assert "hook 'broken_hook' of HooksFlow/1 failed" in done.stdout
    assert "the hook itself failed" in done.stderr
    assert "trouble hook ran" not in done.stdout
    assert done.stdout.index("report: HooksFlow/1") < done.stdout.index("Done! Run HooksFlow/1")

    failed = run_cli(flow, "run", cwd=tmp_path, env={"BREAK": "1"})
    assert failed.returncode == 1
    assert "trouble hook ran" in failed.stdout and "report:" not in failed.stdout


GRAPH_FLOW = """
from headwater import FlowSpec, current, step


class GraphInfoFlow(FlowSpec):
    \"\"\"Squares a few numbers.\"\"\"

    @step
    def start(self):
        self.items = [1, 2]
        self.graph = current.graph
        self.tempdir = current.tempdir
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GraphInfoFlow()
"""


def test_current_graph_and_tempdir(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "graph_info_flow.py", GRAPH_FLOW)
    done = run_cli(flow, "run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    reset_client()
    start = Flow("GraphInfoFlow").latest_run["start"].task
    graph = start.data.graph
    assert graph["graph_structure"] == ["start", [["work"]], "join", "end"]
    assert graph["doc"] == "Squares a few numbers."
    steps = graph["steps"]
    assert steps["start"]["type"] == "split-foreach"
    assert steps["start"]["foreach_artifact"] == "items"
    assert steps["start"]["matching_join"] == "join"
    assert (steps["work"]["type"], steps["join"]["type"], steps["end"]["type"]) == (
        "linear", "join", "end")
    assert steps["work"]["next"] == ["join"] and steps["start"]["line"] > 0
    assert start.data.tempdir == tempfile.gettempdir()

    other = tmp_path / "scratch"
    other.mkdir()
    again = run_cli(flow, "run", cwd=tmp_path, env={"METAFLOW_TEMPDIR": str(other)})
    assert again.returncode == 0, again.stdout + again.stderr
    reset_client()
    assert Flow("GraphInfoFlow").latest_run["start"].task.data.tempdir == str(other)


LOG_FLOW = """
import os, time
from headwater import FlowSpec, step


class LineTimesFlow(FlowSpec):
    @step
    def start(self):
        print("first line", flush=True)
        while not os.path.exists("go-on"):
            time.sleep(0.05)
        print("second line", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LineTimesFlow()
"""


def test_loglines_give_each_line_the_time_it_was_printed(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "line_times_flow.py", LOG_FLOW)
    proc = start_cli(flow, "run", cwd=tmp_path)
    try:
        for line in proc.stdout:  # the scheduler has stamped the line once it echoes it
            if "first line" in line:
                break
        between = time.time()
        (tmp_path / "go-on").write_text("")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    reset_client()
    task = Flow("LineTimesFlow").latest_run["start"].task
    (first_at, first), (second_at, second) = list(task.loglines("stdout"))
    assert (first, second) == ("first line", "second line")
    # Stored to the millisecond (rounded), so a stamp may read up to half a millisecond late.
    precision = 0.001
    # Naive datetimes in UTC, as Metaflow's log lines carry.
    first_ts = first_at.replace(tzinfo=timezone.utc).timestamp()
    second_ts = second_at.replace(tzinfo=timezone.utc).timestamp()
    assert first_ts - precision <= between <= second_ts + precision
    assert task.stdout == "first line\nsecond line\n"  # the text itself is unchanged


RESUME_FLOW = """
import os
from headwater import FlowSpec, step


class CloneOnlyFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.middle)

    @step
    def middle(self):
        if os.environ.get("BREAK"):
            raise RuntimeError("broken")
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CloneOnlyFlow()
"""


def test_resume_clone_only_clones_and_runs_nothing(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "clone_only_flow.py", RESUME_FLOW)
    assert run_cli(flow, "run", cwd=tmp_path, env={"BREAK": "1"}).returncode == 1
    cloned = run_cli(flow, "resume", "--clone-only", "--origin-run-id", "1", cwd=tmp_path)
    assert cloned.returncode == 0, cloned.stdout + cloned.stderr
    assert "Clone-only resume complete: CloneOnlyFlow/2" in cloned.stdout
    reset_client()
    run = Flow("CloneOnlyFlow")["2"]
    assert [s.id for s in run] == ["start"] and run.finished and not run.successful
    assert run["start"].task.origin_pathspec == "CloneOnlyFlow/1/start/1"

    # --reentrant is accepted; the resume then runs what is left
    done = run_cli(flow, "resume", "--reentrant", "--origin-run-id", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    reset_client()
    latest = Flow("CloneOnlyFlow").latest_run
    assert latest.successful and latest["middle"].task.data.y == 2
