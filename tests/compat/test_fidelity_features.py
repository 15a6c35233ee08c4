"""Metaflow features real flows use, in a flow that imports ``metaflow`` (served by headwater,
the tripwire first on the path): ``S3`` against moto, ``@secrets``, ``@exit_hook``,
``current.graph``/``tempdir``/``run``/``task``, and the client read through ``metaflow``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import servers

from .helpers import TRIPWIRE_MESSAGE

BUCKET = "headwater-compat-s3"

FLOW = """
import os
from metaflow import S3, FlowSpec, current, exit_hook, secrets, step
from metaflow.plugins.datatools.s3 import MetaflowS3NotFound


def announce(run):
    print(f"exit hook: {run.pathspec} {run.successful}")


@exit_hook(on_success=[announce])
class CompatFidelityFlow(FlowSpec):
    @secrets(sources=[{"type": "inline", "id": "t",
                       "options": {"env_vars": {"SERVICE_TOKEN": "tok-1"}}}])
    @step
    def start(self):
        self.token_len = len(os.environ["SERVICE_TOKEN"])
        with S3(run=self) as s3:
            s3.put_many([("rows/a", "1"), ("rows/b", "2")])
            try:
                s3.get("rows/missing")
            except MetaflowS3NotFound:
                self.missing_raised = True
        self.step_types = {k: v["type"] for k, v in current.graph["steps"].items()}
        self.tempdir_ok = os.path.isdir(current.tempdir)
        self.run_pathspec = current.run.pathspec
        self.task_pathspec = current.task.pathspec
        print("working")
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            self.rows = {o.key: o.text for o in s3.get_all()}


if __name__ == "__main__":
    CompatFidelityFlow()
"""

CLIENT_SCRIPT = """
from headwater.compat import alias
alias.install()
from metaflow import Flow, S3, namespace
namespace(None)
run = Flow("CompatFidelityFlow").latest_run
start = run["start"].task
print("parents", [t.pathspec for t in run["end"].task.parent_tasks])
print("children", [s.id for s in run["start"].child_steps])
print("lines", [line for _, line in start.loglines("stdout")])
print("stamped", all(when is not None for when, _ in start.loglines("stdout")))
print("env", start.environment_info)
with S3(run=run) as s3:
    print("listed", sorted(o.key for o in s3.list_recursive(["rows"])))
"""


def test_a_metaflow_flow_with_s3_secrets_hooks_and_current(tmp_path: Path, moto_endpoint,
                                                           child_env) -> None:
    servers.make_bucket(moto_endpoint, BUCKET)
    flow = tmp_path / "compat_fidelity_flow.py"
    flow.write_text(FLOW)
    env = {**os.environ, **child_env, **servers.s3_env(moto_endpoint),
           "METAFLOW_DATATOOLS_S3ROOT": f"s3://{BUCKET}/{uuid.uuid4().hex}"}
    from .helpers import headwater_argv

    done = subprocess.run(headwater_argv("run", str(flow)), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert TRIPWIRE_MESSAGE not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exit hook: CompatFidelityFlow/1 True" in done.stdout
    assert "tok-1" not in done.stdout + done.stderr

    script = subprocess.run([sys.executable, "-c", textwrap.dedent(CLIENT_SCRIPT)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert TRIPWIRE_MESSAGE not in script.stderr
    assert script.returncode == 0, script.stderr
    out = script.stdout
    assert "parents ['CompatFidelityFlow/1/start/1']" in out
    assert "children ['end']" in out
    assert "lines ['working']" in out and "stamped True" in out
    assert "env None" in out  # a local run in the flow's own Python, as Metaflow says
    assert "listed ['a', 'b']" in out

    from headwater import Flow
    from headwater.client import metadata

    metadata(str(tmp_path / ".headwater"))
    run = Flow("CompatFidelityFlow").latest_run
    start = run["start"].task
    assert start.data.token_len == 5 and start.data.missing_raised
    assert start.data.step_types == {"start": "start", "end": "end"}
    assert start.data.tempdir_ok
    assert (start.data.run_pathspec, start.data.task_pathspec) == (
        "CompatFidelityFlow/1", "CompatFidelityFlow/1/start/1")
    assert run.data.rows == {"rows/a": "1", "rows/b": "2"}
