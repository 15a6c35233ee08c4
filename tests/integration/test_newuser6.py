"""What a user coming from Prefect or Dagster typed first (sixth new-user pass).

``headwater deploy``, ``python flow.py run --retries 3``, ``headwater dev``, ``@step(retries=3)``,
``python flow.py logs``: each is another tool's word. Each test types it into a real process and
checks that the answer names what does that here, and, where the answer is a command, that the
command it names works when pasted.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .faultkit import env_for, hw, no_headwater_traceback
from .flowrun import write_flow

FLOW = '''
from headwater import FlowSpec, Parameter, step


class GuessFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        print("alpha is", self.alpha)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GuessFlow()
'''


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    return write_flow(tmp_path, "guess_flow.py", FLOW)


def headwater(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``headwater ARGS`` of this install, as a user types it."""
    script = shutil.which("headwater", path=str(Path(sys.executable).parent))
    argv = [script] if script else [sys.executable, "-m", "headwater"]
    return subprocess.run([*argv, *args], cwd=cwd, env=env_for(cwd), capture_output=True,
                          text=True, timeout=120)


def py(flow: Path, *args: str) -> subprocess.CompletedProcess:
    """``python FLOW.py ARGS`` typed in the flow's folder (so messages quote it as typed)."""
    return hw(flow.name, *args, cwd=flow.parent)


def pasted(message: str, cwd: Path) -> list[subprocess.CompletedProcess]:
    """Run each ``python guess_flow.py ...`` command quoted in ``message``, as a user pasting it."""
    done = []
    for command in re.findall(r"`(python guess_flow\.py [^`]*)`", message):
        argv = shlex.split(command)
        done.append(hw(argv[1], *argv[2:], cwd=cwd))
    return done


# ------------------------------------------------------------- another tool's command names


@pytest.mark.parametrize(("word", "names"), [
    ("deploy", "python guess_flow.py argo-workflows create"),
    ("schedule", "@schedule(cron="),
    ("backfill", "python guess_flow.py run --date"),
    ("dev", "`headwater ui`"),
    ("status", "`headwater runs [FLOW]`"),
    ("retry", "`python guess_flow.py resume`"),
    ("assets", "`python guess_flow.py dump RUN_ID/STEP`"),
    ("notify", "@exit_hook(on_success=[notify], on_error=[notify])"),
    ("job", "`python guess_flow.py run` runs the flow"),
], ids=["deploy", "schedule", "backfill", "dev", "status", "retry", "assets", "notify", "job"])
def test_another_tools_command_names_the_one_that_does_it(flow, word, names):
    proc = py(flow, word)
    assert proc.returncode == 2
    assert f"No such command '{word}'." in proc.stderr
    assert names in proc.stderr, proc.stderr
    assert no_headwater_traceback(proc.stderr)


def test_a_guessed_command_through_headwater_is_answered_in_headwaters_form(flow):
    proc = headwater("deploy", "guess_flow.py", cwd=flow.parent)
    assert proc.returncode == 2
    assert "`headwater argo-workflows create guess_flow.py`" in proc.stderr, proc.stderr
    # without a flow file: the usage, then the word named and where it is here
    proc = headwater("dev", cwd=flow.parent)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("headwater: no command 'dev' (see the list above). The web UI is "
                           "`headwater ui`"), last
    # a word of no other tool: as before, no guess
    proc = headwater("frobnicate", cwd=flow.parent)
    assert proc.stderr.strip().splitlines()[-1] == \
        "headwater: no command 'frobnicate' (see the list above)"


def test_the_resume_command_a_guess_names_works(flow):
    assert py(flow, "run").returncode == 0
    proc = py(flow, "rerun")
    assert proc.returncode == 2
    runs = pasted(proc.stderr, flow.parent)
    assert runs and runs[0].returncode == 0, runs[0].stderr
    assert "Done! Run GuessFlow/2 succeeded." in runs[0].stdout + runs[0].stderr


# ------------------------------------------------------------- another tool's run options


@pytest.mark.parametrize(("args", "names"), [
    (["run", "--retries", "3"], "`python guess_flow.py --with retry:times=3 run`"),
    (["--retries", "3", "run"], "`python guess_flow.py --with retry:times=3 run`"),
    (["run", "--timeout", "60"], "`python guess_flow.py --with timeout:seconds=600 run`"),
    (["run", "--concurrency", "2"], "`python guess_flow.py run --max-workers 4`"),
    (["run", "--param", "alpha=1"], "`python guess_flow.py run --NAME VALUE`"),
    (["run", "--env", "A=1"], "@environment(vars="),
    (["run", "--cache"], "`python guess_flow.py --with cache run`"),
    (["resume", "--from-step", "end"], "`python guess_flow.py resume STEP`"),
], ids=["retries", "top-level-retries", "timeout", "concurrency", "param", "env", "cache",
        "from-step"])
def test_another_tools_option_names_the_one_that_does_it(flow, args, names):
    proc = py(flow, *args)
    assert proc.returncode == 2
    assert f"No such option '{args[0] if args[0].startswith('-') else args[1]}'." in proc.stderr
    assert names in proc.stderr, proc.stderr
    assert "Did you mean" not in proc.stderr  # click's guess of --help is no help beside it


def test_the_commands_an_option_guess_names_run_when_pasted(flow):
    for guess in (["run", "--retries", "3"], ["run", "--timeout", "9"], ["run", "--cache"],
                  ["run", "--concurrency", "2"]):
        proc = py(flow, *guess)
        runs = pasted(proc.stderr, flow.parent)
        assert runs, proc.stderr
        for done in runs:
            assert done.returncode == 0, (guess, done.stderr)
            assert "succeeded" in done.stdout + done.stderr


def test_an_option_of_no_other_tool_keeps_clicks_answer(flow):
    proc = py(flow, "run", "--alhpa", "1")
    assert proc.returncode == 2
    assert "No such option '--alhpa'. (Did you mean one of: '--alpha'" in proc.stderr, proc.stderr


# ---------------------------------------------------------- a task decorator's options on @step


def test_step_with_prefects_task_options_names_the_decorators(tmp_path):
    flow = write_flow(tmp_path, "opts_flow.py", FLOW.replace(
        "    @step\n    def start", "    @step(retries=5, timeout_seconds=60)\n    def start"))
    line = flow.read_text().splitlines().index("    def start(self):") + 1
    for proc in (py(flow, "run"), headwater("run", "opts_flow.py", cwd=tmp_path)):
        assert proc.returncode == 1
        err = proc.stderr
        assert f"{flow}:{line}: @step(retries=, timeout_seconds=) on step 'start': @step takes none " \
               "of these options" in err, err
        assert "retries= -> @retry(times=5); timeout_seconds= -> @timeout(seconds=60)" in err
        assert "TypeError" not in err
    assert not (tmp_path / ".headwater" / "meta.sqlite").exists()  # nothing ran


def test_step_with_an_unknown_option_lists_the_step_decorators(tmp_path):
    flow = write_flow(tmp_path, "opts_flow.py", FLOW.replace(
        "    @step\n    def end", "    @step(name='finish')\n    def end"))
    proc = py(flow, "run")
    assert proc.returncode == 1
    assert "@step(name=) on step 'end': @step takes no such option" in proc.stderr
    assert "@retry, @timeout, @catch, @resources, @environment, @cache, @card" in proc.stderr


def test_step_with_its_own_options_still_works(tmp_path):
    flow = write_flow(tmp_path, "own_flow.py", FLOW.replace(
        "    @step\n    def start", "    @step(start=True, node_info={'k': 1})\n    def start"))
    proc = py(flow, "run")
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------ `logs` without a task


def test_logs_without_a_task_names_the_latest_run_and_its_steps(flow):
    proc = py(flow, "logs")
    assert proc.returncode == 2
    assert "Missing argument 'RUN_ID/STEP[/TASK_ID]'. This flow has no run yet: " \
           "`python guess_flow.py run` makes one." in proc.stderr, proc.stderr
    assert py(flow, "run", "--alpha", "7").returncode == 0
    for command in ("logs", "dump"):
        proc = py(flow, command)
        assert proc.returncode == 2
        assert (f"Name a run and a step, e.g. `python guess_flow.py {command} 1/start` (the "
                "latest run is 1; its steps: start, end; `python guess_flow.py runs` lists the "
                "others).") in proc.stderr, proc.stderr
    pasted_logs = pasted(py(flow, "logs").stderr, flow.parent)
    assert pasted_logs[0].returncode == 0
    assert "alpha is 7" in pasted_logs[0].stdout + pasted_logs[0].stderr
    proc = headwater("logs", "guess_flow.py", cwd=flow.parent)
    assert "e.g. `headwater logs guess_flow.py 1/start`" in proc.stderr, proc.stderr


# --------------------------------------------------------------------- examples in run --help


def test_run_help_ends_with_examples_that_run_when_pasted(flow):
    proc = py(flow, "run", "--help")
    assert proc.returncode == 0
    examples = proc.stdout.split("\nExamples:\n", 1)[1]
    assert "python guess_flow.py run --alpha VALUE" in examples
    assert "@retry(times=3), @timeout(seconds=600), @cache" in examples
    commands = [line.split("  #")[0].strip() for line in examples.splitlines() if "  # " in line]
    assert len(commands) == 4, examples
    for command in commands:
        argv = shlex.split(command.replace("VALUE", "0.25"))
        done = hw(argv[1], *argv[2:], cwd=flow.parent)
        assert done.returncode == 0, (command, done.stderr)
    # through `headwater`, without a flow file, in the form that is typed there
    proc = headwater("run", "--help", cwd=flow.parent)
    assert "headwater --with retry:times=3 run FLOW_FILE" in proc.stdout, proc.stdout


# ----------------------------------------------------------- Runner keywords and date parameters


RUNNER_SCRIPT = '''
import sys
from headwater import Runner

with Runner("guess_flow.py", show_output=False) as runner:
    for keyword in ("retries", "concurrency"):
        try:
            runner.run(**{keyword: 3})
        except ValueError as err:
            print("REFUSED", keyword, str(err).replace("\\n", " "))
    done = runner.run(decospecs=["retry:times=3"], max_workers=4, no_cache=True)
    print("STATUS", done.status)
'''


def test_runner_keywords_of_another_tool_name_the_ones_to_pass(flow):
    (flow.parent / "drive.py").write_text(RUNNER_SCRIPT)
    proc = hw("drive.py", cwd=flow.parent)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    retries = next(line for line in lines if line.startswith("REFUSED retries"))
    assert "not a parameter of GuessFlow" in retries
    assert "fix: for retries, pass decospecs=['retry:times=3']" in retries
    concurrency = next(line for line in lines if line.startswith("REFUSED concurrency"))
    assert "fix: for concurrency, pass max_workers=4" in concurrency
    assert "no_cache and decospecs" in concurrency
    assert "STATUS successful" in lines  # what the fixes name works


DATE_FLOW = '''
import datetime
from headwater import FlowSpec, Parameter, step


class DayFlow(FlowSpec):
    day = Parameter("day", type=datetime.date, default=datetime.date(2026, 1, 1))

    @step
    def start(self):
        print("day is", self.day.isoformat())
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DayFlow()
'''


def test_a_date_parameter_typed_as_the_class_names_fromisoformat(tmp_path):
    flow = write_flow(tmp_path, "day_flow.py", DATE_FLOW)
    proc = py(flow, "run", "--day", "2026-11-02")
    assert proc.returncode == 2  # a bad option value, as every parameter's
    assert "parameter 'day' expects a value accepted by date" in proc.stderr
    assert "fix: declare Parameter('day', type=date.fromisoformat, ...) to read ISO text such " \
           "as --day 2026-11-02" in proc.stderr, proc.stderr
    flow.write_text(DATE_FLOW.replace("type=datetime.date,", "type=datetime.date.fromisoformat,"))
    proc = py(flow, "run", "--day", "2026-11-02")
    assert proc.returncode == 0, proc.stderr
    assert "day is 2026-11-02" in proc.stdout + proc.stderr


# ------------------------------------------------------- passing data on as other tools do it


RETURNING = '''
from headwater import FlowSpec, step


class ReturnFlow(FlowSpec):
    @step
    def start(self):
        def helper():
            return 5          # a nested function's return is its own
        self.x = helper()
        self.next(self.middle)

    @step
    def middle(self):
        if self.x:
            return self.x * 2
        self.next(self.end)

    @step
    def end(self):
        return {"total": self.x}


if __name__ == "__main__":
    ReturnFlow()
'''


def test_a_step_that_returns_its_data_is_warned_that_it_is_dropped(tmp_path):
    flow = write_flow(tmp_path, "return_flow.py", RETURNING.replace(
        "        if self.x:\n            return self.x * 2\n", ""))
    proc = py(flow, "run")
    assert proc.returncode == 0, proc.stderr
    lines = flow.read_text().splitlines()
    end_line = lines.index('        return {"total": self.x}') + 1
    assert (f"Warning: {flow}:{end_line}: step 'end' returns a value, which is dropped: only "
            "what a step sets on self is stored and passed on. Fix: assign it (self.result = "
            "...) and read it afterwards as Flow('ReturnFlow').latest_run.data.result") \
        in proc.stdout + proc.stderr
    assert "step 'start' returns" not in proc.stdout + proc.stderr
    # inside a block, before self.next: found too, with the fix for a step that has successors
    flow = write_flow(tmp_path, "return_flow.py", RETURNING)
    proc = py(flow, "check")
    assert proc.returncode == 0, proc.stderr
    middle = next(line for line in proc.stdout.splitlines() if "step 'middle' returns" in line)
    assert middle.endswith("Fix: assign it (self.result = ...) and read self.result in the "
                           "steps after it"), middle


def test_a_step_taking_its_data_as_an_argument_is_told_where_data_comes_from(tmp_path):
    flow = write_flow(tmp_path, "arg_flow.py", FLOW.replace("def end(self):",
                                                            "def end(self, data):"))
    proc = py(flow, "run")
    assert proc.returncode == 1
    assert "step 'end' takes an inputs argument, so it is a join" in proc.stderr
    assert "data from earlier steps comes through self, not through arguments" in proc.stderr


# ----------------------------------------------------------------- finding the failed runs

FAILING = FLOW.replace('print("alpha is", self.alpha)',
                       'print("alpha is", self.alpha)\n'
                       '        assert self.alpha < 1, "alpha too big"')


def test_runs_keeps_the_runs_of_a_status_tag_or_user(tmp_path):
    flow = write_flow(tmp_path, "guess_flow.py", FAILING)
    assert py(flow, "run", "--tag", "nightly").returncode == 0                  # 1 succeeded
    assert py(flow, "run", "--alpha", "3").returncode == 1                      # 2 failed
    assert py(flow, "run", "--alpha", "5", "--tag", "nightly").returncode == 1  # 3 failed
    other = write_flow(tmp_path, "other_flow.py", FAILING.replace("GuessFlow", "OtherFlow"))
    assert hw(other.name, "run", "--alpha", "9", cwd=tmp_path,
              HEADWATER_USER="ana").returncode == 1                            # OtherFlow/1

    def listed(*args: str, through_flow: bool = False) -> list[str]:
        proc = py(flow, "runs", *args) if through_flow else headwater("runs", *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return [line.split()[0] for line in proc.stdout.splitlines()[1:]]

    assert listed("--status", "failed") == ["OtherFlow/1", "GuessFlow/3", "GuessFlow/2"]
    assert listed("GuessFlow", "--status", "failed") == ["GuessFlow/3", "GuessFlow/2"]
    assert listed("--status", "failed", "--tag", "nightly") == ["GuessFlow/3"]
    assert listed("--status", "succeeded") == ["GuessFlow/1"]
    assert listed("--user", "ana") == ["OtherFlow/1"]
    assert listed("--status", "failed", "-n", "1") == ["OtherFlow/1"]
    assert listed("--status", "failed", through_flow=True) == ["GuessFlow/3", "GuessFlow/2"]
    proc = headwater("runs", "--status", "failed", "--json", cwd=tmp_path)
    assert [r["pathspec"] for r in json.loads(proc.stdout)] == \
        ["OtherFlow/1", "GuessFlow/3", "GuessFlow/2"]
    proc = headwater("runs", "--status", "running", cwd=tmp_path)
    assert proc.stdout.startswith("No runs with status running in the datastore "), proc.stdout
    proc = headwater("runs", "--status", "crashed", cwd=tmp_path)
    assert proc.returncode == 2 and "'running', 'succeeded', 'failed'" in proc.stderr
