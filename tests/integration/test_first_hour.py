"""What a newcomer meets in their first hour: help that works, errors that say what to do.

Each test is one rough edge found by trying headwater on a fresh clone, README first.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .faultkit import no_headwater_traceback
from .flowrun import example, flow_file, hermetic_env, run_cli, write_flow


def headwater(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = shutil.which("headwater", path=str(Path(sys.executable).parent))  # this install's
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
    (["card", "--help"], ["View, save or list the cards"]),
    (["card", "view", "--help"], ["PATHSPEC"]),
    (["environment", "--help"], ["@pypi/@conda environments"]),
    (["argo-workflows", "--help"], ["Argo Workflows"]),
    (["airflow", "--help"], ["Apache Airflow"]),
    (["delete", "--help"], ["--keep-last"]),
    (["gc", "--help"], ["--grace"]),
    (["spin", "--help"], ["PATHSPEC"]),
    (["check", "--help"], ["Check the flow's graph"]),
    (["show", "--help"], ["transitions"]),
    (["output-dot", "--help"], ["Graphviz DOT"]),
    (["output-mermaid", "--help"], ["Mermaid"]),
    (["dump", "--help"], ["RUN_ID/STEP[/TASK_ID]"]),
    (["tag", "--help"], ["Add, remove, replace or list"]),
    (["ui", "--help"], ["--port"]),
    (["version", "--help"], ["headwater "]),
])
def test_every_command_has_help_without_a_flow_file(tmp_path, args, phrases):
    proc = headwater(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr  # e.g. click's duplicate-option warning
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


def test_the_usage_lists_every_command_of_a_flow():
    from headwater.cli.main import USAGE, flow_commands

    listed = USAGE.split("Commands:", 1)[1].split(".\n", 1)[0]
    assert {name.strip() for name in listed.split(",")} == set(flow_commands())


def test_a_flow_command_without_a_flow_file_asks_for_one(tmp_path):
    proc = headwater("run", "pets_flow", cwd=tmp_path)
    assert proc.returncode == 2
    assert "headwater run: which flow? Give the flow file, a path ending in .py" in proc.stderr
    assert "got 'pets_flow'" in proc.stderr, proc.stderr
    unknown = headwater("frobnicate", cwd=tmp_path)
    assert unknown.returncode == 2 and "no command 'frobnicate'" in unknown.stderr


# ---------------------------------------------------------------- options in the wrong place


def test_a_top_level_option_after_the_command_says_where_it_goes(tmp_path):
    flow = example("linear_flow.py")
    proc = run_cli(flow, "run", "--quiet", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 2
    assert "it goes before the command: python " in proc.stderr, proc.stderr
    assert "linear_flow.py --quiet run" in proc.stderr, proc.stderr
    through = headwater("run", str(flow), "--progress", "lines", cwd=tmp_path)
    assert through.returncode == 2
    assert f"headwater --progress ... run {flow}" in through.stderr, through.stderr
    nested = run_cli(flow, "tag", "list", "--datastore-root", "x", cwd=tmp_path, hermetic=True)
    assert nested.returncode == 2
    assert "for 'tag list': " in nested.stderr and "--datastore-root ... tag list" in nested.stderr
    # an option of the command itself, misspelt, still gets click's suggestion
    typo = run_cli(flow, "run", "--max-worker", "2", cwd=tmp_path, hermetic=True)
    # (click lists every close name: --max-log-size is as near to the typo as --max-workers)
    assert typo.returncode == 2 and "Did you mean" in typo.stderr
    assert "'--max-workers'" in typo.stderr, typo.stderr
    assert not (tmp_path / ".headwater").exists()  # nothing ran


def test_resume_with_nothing_to_resume_says_how_to_start(tmp_path):
    shutil.copy(example("linear_flow.py"), tmp_path)
    proc = run_cli("linear_flow.py", "resume", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 1
    assert "flow LinearFlow has no run to resume" in proc.stderr
    assert "fix: start one with: python linear_flow.py run" in proc.stderr, proc.stderr


# ---------------------------------------------------------------- colour


def _on_a_terminal(args: list[str], cwd: Path, **env: str) -> str:
    """What ``args`` writes to a pseudo-terminal, stdout and stderr together."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, env=hermetic_env({"TERM": "xterm", **env}),  # noqa: S603
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        assert ready, out
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(master)
    proc.wait(timeout=120)
    return out.decode("utf-8", "replace")


def test_no_color_turns_the_error_heading_plain(tmp_path):
    args = [sys.executable, str(example("linear_flow.py")), "logs", "7/start"]
    coloured = _on_a_terminal(args, tmp_path)
    assert "Not found: (headwater.exceptions.NotFoundError)" in coloured
    assert "\x1b[31m" in coloured  # red on a terminal...
    plain = _on_a_terminal(args, tmp_path, NO_COLOR="1")
    assert "Not found: (headwater.exceptions.NotFoundError)" in plain
    assert "\x1b[" not in plain  # ...and no escape at all with NO_COLOR


# ---------------------------------------------------------------- a flow file with no command


def test_a_flow_file_with_no_command_checks_the_flow_and_says_what_next(tmp_path):
    shutil.copy(example("linear_flow.py"), tmp_path)
    proc = run_cli("linear_flow.py", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "The graph looks good!" in proc.stdout  # Metaflow checks the flow here too
    assert "Next: `python linear_flow.py run` to run it" in proc.stdout, proc.stdout
    through = headwater("linear_flow.py", cwd=tmp_path)
    assert through.returncode == 0 and "`headwater run linear_flow.py`" in through.stdout
    assert not (tmp_path / ".headwater").exists()  # nothing ran
    broken = write_flow(tmp_path, "typo_flow.py", """
from headwater import FlowSpec, step

class TypoFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.ennd)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    TypoFlow()
""")
    proc = run_cli(broken, cwd=tmp_path, hermetic=True)
    assert proc.returncode == 1
    assert "no step named 'ennd'; did you mean self.end?" in proc.stderr, proc.stderr
    assert "Next:" not in proc.stdout


def test_dump_lines_up_its_columns(tmp_path):
    shutil.copy(example("pets_flow.py"), tmp_path)
    assert run_cli("pets_flow.py", "--quiet", "run", cwd=tmp_path, hermetic=True).returncode == 0
    proc = run_cli("pets_flow.py", "dump", "1/start/1", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    name, owner, pets = proc.stdout.splitlines()[1:]  # the flow's name first, as Metaflow's
    assert name.split()[:2] == ["name", "builtins.str"] and name.endswith("bytes  PetsFlow")
    assert owner.split()[:2] == ["owner", "builtins.str"] and pets.split()[:2] == ["pets", "builtins.list"]
    assert owner.index("builtins") == pets.index("builtins")  # types in one column
    assert owner.index("bytes") == pets.index("bytes")  # sizes right-aligned


def test_runs_of_a_flow_that_never_ran_says_how_to_start_one(tmp_path):
    shutil.copy(example("linear_flow.py"), tmp_path)
    proc = run_cli("linear_flow.py", "runs", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("No runs of LinearFlow yet in the datastore "), proc.stdout
    assert "`python linear_flow.py run` starts one." in proc.stdout
    as_json = run_cli("linear_flow.py", "runs", "--json", cwd=tmp_path, hermetic=True)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    assert not (tmp_path / ".headwater").exists()  # looking creates nothing
    # a name given to `headwater runs` may be a typo: that one is still an error
    named = headwater("runs", "LinearFlow", cwd=tmp_path)
    assert named.returncode == 1 and "not found" in named.stderr


def test_a_misspelt_artifact_names_the_one_meant(tmp_path):
    path = write_flow(tmp_path, "typo_artifact.py", """
from headwater import FlowSpec, step

class TypoArtifactFlow(FlowSpec):
    @step
    def start(self):
        self.pets = ["cat"]
        self.next(self.middle)

    @step
    def middle(self):
        for name in ("petz", "zebra"):
            try:
                getattr(self, name)
            except AttributeError as err:
                print("refused:", err)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    TypoArtifactFlow()
""")
    proc = run_cli(path, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("refused: flow TypoArtifactFlow has no artifact or attribute 'petz' in step "
            "'middle'; did you mean self.pets?") in proc.stdout, proc.stdout
    # nothing close: no guess
    assert ("refused: flow TypoArtifactFlow has no artifact or attribute 'zebra' in step "
            "'middle'\n") in proc.stdout, proc.stdout


def test_the_help_hint_of_a_usage_error_through_headwater_is_a_command_that_works(tmp_path):
    shutil.copy(example("pets_flow.py"), tmp_path)
    wrong = headwater("run", "pets_flow.py", "--bogus", cwd=tmp_path)
    assert wrong.returncode == 2
    hint = re.search(r"Try '([^']+)' for help\.", wrong.stderr)
    assert hint, wrong.stderr
    assert hint[1] == "headwater pets_flow.py run --help"
    shown = headwater(*shlex.split(hint[1])[1:], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "--owner" in shown.stdout  # the flow's own options: the hint found the flow file


def test_configure_show_lines_up_its_columns(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "from headwater.cli.main import main; main()", "configure", "show"],
        cwd=tmp_path, env=hermetic_env({"HEADWATER_CONFIG": str(tmp_path / "none.toml")}),
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines()
            if line.split()[0] in ("datastore_root", "package_suffixes", "dask_tls_ca_file")]
    assert len(rows) == 3, proc.stdout
    values = {line.split()[1] for line in rows}
    assert values == {"-"}
    assert len({line.index(" -") for line in rows}) == 1  # every value starts in one column


def test_python_dash_m_headwater_is_the_headwater_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "headwater", "runs", "--help"], cwd=tmp_path,
                          env=hermetic_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: headwater runs [OPTIONS] [FLOW]" in proc.stdout


def test_run_help_lists_the_flows_parameters_first(tmp_path):
    shutil.copy(example("pets_flow.py"), tmp_path)
    proc = run_cli("pets_flow.py", "run", "--help", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    head, options = proc.stdout.split("\nOptions:\n")
    options = options.split("\nExamples:\n")[0]  # the examples after them use --owner
    assert "\nParameters of PetsFlow:\n  --owner STR  Whose pets [default: sam]\n" in head
    assert "--max-workers" in options and "--owner" not in options
