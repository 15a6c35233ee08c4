"""``logs`` and ``dump``: looking at a finished run from the command line.

One run of ``flows/inspect_flow.py`` is shared by every test of the module.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .flowrun import flow_file, hermetic_env, point_client_at, run_cli

FLOW = flow_file("inspect_flow.py")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("inspect")
    proc = run_cli(FLOW, "--quiet", "run", cwd=where, hermetic=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "Done! Run InspectFlow/1 succeeded."
    return where


@pytest.fixture(scope="module")
def ids(folder) -> dict[str, list[str]]:
    """step -> its task ids in item order, read with the client."""
    from headwater import Run, namespace

    from .flowrun import reset_client

    point_client_at(folder / ".headwater")
    namespace(None)  # module fixtures run before the per-test environment is set
    try:
        run = Run("InspectFlow/1")
        return {s.id: [t.id for t in sorted(s, key=lambda t: int(t.id))] for s in run}
    finally:
        reset_client()


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli(FLOW, *args, cwd=folder, hermetic=True)


def assert_clear_error(proc: subprocess.CompletedProcess, *phrases: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Not found" in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr
    assert proc.stdout == ""


# ---------------------------------------------------------------- logs


def test_logs_of_a_task_prints_its_stdout_and_stderr(folder, ids):
    proc = cli(folder, "logs", f"1/start/{ids['start'][0]}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from start: hi\n"
    assert proc.stderr == "a warning from start\n"


def test_logs_can_leave_out_a_stream(folder, ids):
    task = f"1/start/{ids['start'][0]}"
    no_err = cli(folder, "logs", task, "--no-stderr")
    assert (no_err.returncode, no_err.stdout, no_err.stderr) == (0, "hello from start: hi\n", "")
    no_out = cli(folder, "logs", task, "--no-stdout")
    assert (no_out.returncode, no_out.stdout, no_out.stderr) == (0, "", "a warning from start\n")


def test_logs_of_a_step_prints_every_task(folder, ids):
    proc = cli(folder, "logs", "1/each")
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == ["letter p", "letter q", "letter r"]
    one = cli(folder, "logs", f"1/each/{ids['each'][1]}")
    assert one.stdout == "letter q\n"


def test_logs_of_a_silent_task_is_empty(folder, ids):
    proc = cli(folder, "logs", f"1/end/{ids['end'][0]}")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_logs_through_the_headwater_command(folder, ids):
    script = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert script is not None, "pip install -e . puts the headwater script beside the interpreter"
    proc = subprocess.run(
        [script, "logs", str(FLOW), f"1/start/{ids['start'][0]}"],
        cwd=folder, env=hermetic_env(), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from start: hi\n"


# ---------------------------------------------------------------- dump


def dump_lines(text: str) -> dict[str, dict[str, str]]:
    """``dump`` output -> {task pathspec: {artifact: rest of its line}}."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            current = found.setdefault(line[:-1], {})
        elif line.strip():
            name, _, rest = line.strip().partition(" ")
            current[name] = rest.strip()
    return found


def test_dump_lists_artifacts_with_type_size_and_small_values(folder, ids):
    task = ids["start"][0]
    proc = cli(folder, "dump", f"1/start/{task}")
    assert proc.returncode == 0, proc.stderr
    tasks = dump_lines(proc.stdout)
    assert list(tasks) == [f"InspectFlow/1/start/{task}"]
    arts = tasks[f"InspectFlow/1/start/{task}"]
    # Metaflow's dump lists the flow's name artifact too
    assert set(arts) == {"big", "greeting", "letters", "name", "number", "small"}
    assert arts["name"].endswith("bytes  InspectFlow")  # str, as Metaflow's dump shows it
    size = re.compile(r"\b(\d+) bytes\b")
    for name, rest in arts.items():
        assert size.search(rest), (name, rest)
    assert "builtins.int" in arts["number"] and arts["number"].endswith("42")
    assert "builtins.dict" in arts["small"] and arts["small"].endswith("{'a': 1}")
    assert "builtins.str" in arts["greeting"] and arts["greeting"].endswith("bytes  hi")
    assert "builtins.list" in arts["letters"] and arts["letters"].endswith("['p', 'q', 'r']")
    # a large value is described, not printed
    assert "builtins.str" in arts["big"]
    assert int(size.search(arts["big"])[1]) >= 5000
    assert "xxxx" not in arts["big"]


def test_dump_of_a_step_lists_each_task(folder, ids):
    proc = cli(folder, "dump", "1/each")
    assert proc.returncode == 0, proc.stderr
    tasks = dump_lines(proc.stdout)
    assert set(tasks) == {f"InspectFlow/1/each/{t}" for t in ids["each"]}
    uppers = sorted(arts["upper"].rsplit(" ", 1)[-1] for arts in tasks.values())
    assert uppers == ["P", "Q", "R"]


def test_dump_value_size_limit(folder, ids):
    proc = cli(folder, "dump", f"1/start/{ids['start'][0]}", "--max-value-size", "0")
    assert proc.returncode == 0, proc.stderr
    assert "42" not in proc.stdout.replace("bytes", "")
    assert "{'a': 1}" not in proc.stdout


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("command", ["logs", "dump"])
def test_missing_run(folder, command):
    assert_clear_error(cli(folder, command, "99/start"), "99")


@pytest.mark.parametrize("command", ["logs", "dump"])
def test_missing_step(folder, command):
    # the message names the missing step and lists the real ones
    assert_clear_error(cli(folder, command, "1/nope"), "nope", "start", "each")


@pytest.mark.parametrize("command", ["logs", "dump"])
def test_missing_task(folder, command):
    assert_clear_error(cli(folder, command, "1/start/999"), "999")


@pytest.mark.parametrize("path", ["start", "1/start/1/extra", "1//1"])
def test_malformed_path(folder, path):
    # A malformed path is an invalid command (exit 1, as Metaflow's), not "Not found".
    proc = cli(folder, "logs", path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Invalid command" in proc.stderr and "RUN_ID/STEP" in proc.stderr, proc.stderr
    assert "Not found" not in proc.stderr
    assert proc.stdout == ""


def test_no_runs_at_all(tmp_path):
    proc = cli(tmp_path, "logs", "1/start")
    assert_clear_error(proc, "InspectFlow")
    assert not (tmp_path / ".headwater").exists()  # looking creates nothing


def test_dump_and_logs_read_the_metadata_the_option_names(tmp_path):
    # `--metadata` before the command chose where the run was recorded; dump and logs once
    # ignored it and looked in the datastore's own meta.sqlite.
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(FLOW, work / FLOW.name)
    elsewhere = str(tmp_path / "elsewhere.sqlite")
    ran = run_cli(work / FLOW.name, "--metadata", elsewhere, "run", cwd=work, hermetic=True,
                  timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for command in ("dump", "logs"):
        proc = run_cli(work / FLOW.name, "--metadata", elsewhere, command, "1/start", cwd=work,
                       hermetic=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "not found" not in proc.stderr
