"""What a newcomer meets in their first hour: help that works, errors that say what to do.

Each test is one rough edge found by trying headwater on a fresh clone, README first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .faultkit import no_headwater_traceback
from .flowrun import example, flow_file, hermetic_env, run_cli, write_flow


def headwater(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = shutil.which("headwater")
    argv = [script] if script else [sys.executable, "-c", "from headwater.cli.main import main; main()"]
    return subprocess.run([*argv, *args], cwd=cwd, env=hermetic_env(), capture_output=True,
                          text=True, timeout=120)


# ---------------------------------------------------------------- help without a flow file


@pytest.mark.parametrize(("args", "phrases"), [
    (["run", "--help"], ["Run the flow from its start step.", "--max-workers", "--tag"]),
    (["resume", "--help"], ["--origin-run-id"]),
    (["logs", "--help"], ["RUN_ID/STEP[/TASK_ID]"]),
    (["--help"], ["usage: headwater COMMAND FLOW_FILE", "headwater runs"]),
    (["configure", "--help"], ["usage: headwater configure show"]),
    (["shim", "--help"], ["usage: headwater shim [--force] FOLDER"]),
    (["runs", "--help"], ["--json", "FLOW"]),
])
def test_every_command_has_help_without_a_flow_file(tmp_path, args, phrases):
    proc = headwater(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for phrase in phrases:
        assert phrase in proc.stdout, proc.stdout
    assert list(tmp_path.iterdir()) == []  # `shim --help` wrote no folder named --help


# ---------------------------------------------------------------- a broken flow file


@pytest.mark.parametrize(("source", "shown"), [
    ("from headwater import FlowSpec, step\n\nclass Broken(FlowSpec:\n    pass\n",
     ["broken.py\", line 3", "class Broken(FlowSpec:", "SyntaxError"]),
    ("from headwater import FlowSpec, step\nimport no_such_module_here\n",
     ["broken.py\", line 2, in <module>", "import no_such_module_here",
      "ModuleNotFoundError: No module named 'no_such_module_here'"]),
])
def test_a_broken_flow_file_shows_the_users_line_only(tmp_path, source, shown):
    path = write_flow(tmp_path, "broken.py", source)
    for proc in (headwater("run", str(path), cwd=tmp_path), run_cli(path, "run", cwd=tmp_path)):
        assert proc.returncode == 1
        for phrase in shown:
            assert phrase in proc.stderr, proc.stderr
        assert no_headwater_traceback(proc.stderr), proc.stderr
        assert "importlib" not in proc.stderr and "frozen" not in proc.stderr, proc.stderr


def test_a_parameter_with_an_unknown_keyword_is_refused(tmp_path):
    path = write_flow(tmp_path, "typo.py", """
from headwater import FlowSpec, Parameter, step

class TypoFlow(FlowSpec):
    a = Parameter("a", default=1, typo=3)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    TypoFlow()
""")
    for proc in (headwater("run", str(path), cwd=tmp_path), run_cli(path, "run", cwd=tmp_path)):
        assert proc.returncode == 1
        assert "Parameter 'a' got unknown keyword argument(s) typo" in proc.stderr, proc.stderr
        assert "(headwater.exceptions.FlowDefinitionError)" in proc.stderr
        assert 'a = Parameter("a", default=1, typo=3)' in proc.stderr  # the user's line
        assert no_headwater_traceback(proc.stderr), proc.stderr


# ---------------------------------------------------------------- errors name what to catch


def test_an_error_names_the_class_a_program_would_catch(tmp_path):
    proc = headwater("runs", "NoSuchFlow", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Not found: (headwater.exceptions.NotFoundError)" in proc.stderr, proc.stderr
    # ... and, looking from the wrong folder, where it looked and how to look elsewhere
    assert f"looked in the datastore {tmp_path / '.headwater'}" in proc.stderr, proc.stderr
    assert "HEADWATER_DATASTORE_ROOT" in proc.stderr
    assert not (tmp_path / ".headwater").exists()  # looking creates nothing


# ---------------------------------------------------------------- runs


def test_runs_lists_the_latest_runs_as_a_table_or_json(tmp_path):
    flow = example("linear_flow.py")
    assert run_cli(flow, "--quiet", "run", "--tag", "first", cwd=tmp_path,
                   hermetic=True).returncode == 0
    failing = flow_file("fail_flow.py")
    assert run_cli(failing, "--quiet", "run", cwd=tmp_path, hermetic=True).returncode == 1

    table = headwater("runs", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["RUN", "STATUS", "STARTED", "DURATION", "USER", "TAGS"]
    assert rows[0].split()[:2] == ["FailFlow/1", "failed"]  # newest first, every flow
    assert rows[1].split()[:2] == ["LinearFlow/1", "succeeded"]
    assert rows[1].split()[-2:] == ["tester", "first"]

    own = run_cli(flow, "runs", "--json", cwd=tmp_path, hermetic=True)
    assert own.returncode == 0, own.stderr
    (only,) = json.loads(own.stdout)  # python flow.py runs: that flow's runs only
    assert only["pathspec"] == "LinearFlow/1" and only["status"] == "succeeded"
    assert only["user"] == "tester" and only["tags"] == ["first"]
    assert only["duration_s"] >= 0 and only["finished_at"] >= only["started_at"]

    limited = headwater("runs", "--json", "-n", "1", cwd=tmp_path)
    assert [r["pathspec"] for r in json.loads(limited.stdout)] == ["FailFlow/1"]


# ---------------------------------------------------------------- dump of a failed task


def test_dump_of_a_failed_task_says_it_failed_and_why(tmp_path):
    failing = flow_file("fail_flow.py")
    assert run_cli(failing, "--quiet", "run", cwd=tmp_path, hermetic=True).returncode == 1
    proc = run_cli(failing, "dump", "1/a", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    first, *rest = proc.stdout.splitlines()
    assert first.endswith(": (failed)"), proc.stdout
    assert "    ValueError: boom in a" in rest, proc.stdout
