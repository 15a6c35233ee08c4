"""What a data scientist new to headwater tripped on in the seventh new-user pass.

Running a flow from another folder than its own (``python proj/flow.py run``), and editing a
foreach step before resuming a run some of whose items had already succeeded. Each test runs
the user's commands in real processes and reads what they print.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .faultkit import DEADLINE_S, cloned, hw
from .flowrun import hermetic_env, write_flow

SWEEP = '''
from headwater import FlowSpec, IncludeFile, step


class SweepFlow(FlowSpec):
    data = IncludeFile("data", default="data.csv", help="the training table")

    @step
    def start(self):
        self.rows = self.data.split()
        self.next(self.end)

    @step
    def end(self):
        print("rows:", len(self.rows))


if __name__ == "__main__":
    SweepFlow()
'''


def typed(cwd: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess:
    """``python ARGV`` typed in ``cwd`` with no datastore setting: the store is found as a user's
    is, from the working folder."""
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=hermetic_env(extra),
                          capture_output=True, text=True, timeout=DEADLINE_S)


def project(tmp_path: Path) -> tuple[Path, Path]:
    """``tmp_path/work/proj/sweep_flow.py`` beside its ``data.csv``; returns (work, flow)."""
    proj = tmp_path / "work" / "proj"
    proj.mkdir(parents=True)
    (proj / "data.csv").write_text("x,y\n1,2\n3,4\n")
    return proj.parent, write_flow(proj, "sweep_flow.py", SWEEP)


# ------------------------------------------------------- a flow run from another folder


def test_an_include_files_default_is_found_beside_the_flow_from_another_folder(tmp_path):
    work, flow = project(tmp_path)
    done = typed(work, "proj/sweep_flow.py", "run")
    assert done.returncode == 0, done.stderr
    assert "rows: 3" in done.stdout  # the file beside the flow, not one of the working folder
    # A path typed on the command line is the shell's: relative to where it was typed.
    typed_path = typed(work, "proj/sweep_flow.py", "run", "--data", "data.csv")
    assert typed_path.returncode != 0
    assert f"looked in {work / 'data.csv'}" in typed_path.stderr
    assert "--data PATH" in typed_path.stderr


def test_a_missing_include_file_default_names_both_places_looked_in(tmp_path):
    work, flow = project(tmp_path)
    (flow.parent / "data.csv").unlink()
    done = typed(work, "proj/sweep_flow.py", "run")
    assert done.returncode != 0
    assert "IncludeFile 'data': its default file 'data.csv' does not exist" in done.stderr
    assert str(work / "data.csv") in done.stderr
    assert str(flow.parent / "data.csv") in done.stderr
    assert "pass an existing file with --data PATH" in done.stderr


def test_a_run_kept_apart_from_the_flow_folders_store_says_so(tmp_path):
    work, flow = project(tmp_path)
    first = typed(flow.parent, "sweep_flow.py", "run")  # proj/.headwater now exists
    assert first.returncode == 0, first.stderr
    assert "Note: this run is kept" not in first.stdout
    other = typed(work, "proj/sweep_flow.py", "run")
    assert other.returncode == 0, other.stderr
    store, own = work / ".headwater", flow.parent / ".headwater"
    note = next(line for line in other.stdout.splitlines() if "Note: this run is kept" in line)
    assert str(store) in note and str(own) in note
    assert f"--datastore-root {own}" in note
    assert store.is_dir()  # the run did go to the working folder's store, as before
    # Following the note keeps the runs together, and says nothing more.
    chosen = typed(work, "proj/sweep_flow.py", "--datastore-root", str(own), "run")
    assert chosen.returncode == 0, chosen.stderr
    assert "Note: this run is kept" not in chosen.stdout
    assert "Workflow starting (run-id 2)" in chosen.stdout  # after proj's own run 1
    # Resume typed from a third folder looks in that folder's store (here, work's, found by
    # walking up) and names the flow's own store where the runs are.
    third = work / "notebooks"
    third.mkdir()
    resumed = typed(third, "../proj/sweep_flow.py", "resume", "--origin-run-id", "7")
    assert resumed.returncode != 0
    assert f"in {store} (the working folder's store)" in resumed.stderr
    assert f"pass --datastore-root {own} before the command" in resumed.stderr
    # A store named by the environment is a choice too.
    env_root = typed(work, "proj/sweep_flow.py", "run", HEADWATER_DATASTORE_ROOT=str(store))
    assert env_root.returncode == 0, env_root.stderr
    assert "Note: this run is kept" not in env_root.stdout


# ------------------------------------------------ editing a foreach step, then resume

FOREACH = '''
import os
from headwater import FlowSpec, step


class EditFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3, 4]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 3 and os.path.exists("fail-three"):
            raise ValueError("item 3 is broken")
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("values:", self.values)


if __name__ == "__main__":
    EditFlow()
'''

SPLIT_NOTE = re.compile(r"Note: the flow file changed after EditFlow/1 started; step 'work' "
                        r"keeps the tasks of EditFlow/1 that succeeded .* "
                        r"`(python edit_flow\.py resume work)` runs all of its tasks anew")


def failed_origin(tmp_path: Path) -> Path:
    """EditFlow/1: items 1, 2 and 4 succeeded, item 3 failed."""
    flow = write_flow(tmp_path, "edit_flow.py", FOREACH)
    (tmp_path / "fail-three").write_text("")
    first = hw(flow.name, "run", cwd=tmp_path)
    assert first.returncode == 1 and "item 3 is broken" in first.stdout + first.stderr
    return flow


def test_resuming_after_editing_a_foreach_step_names_the_mixed_step(tmp_path):
    flow = failed_origin(tmp_path)
    (tmp_path / "fail-three").unlink()
    flow.write_text(flow.read_text().replace("self.input * 10", "self.input * 100"))
    resumed = hw(flow.name, "resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "values: [10, 20, 40, 300]" in resumed.stdout  # old results beside the new one
    notes = SPLIT_NOTE.findall(resumed.stdout)
    assert len(notes) == 1, resumed.stdout  # once for the step, not once per task
    # The command the note names recomputes every item with the code as it is now.
    again = hw(flow.name, *notes[0].split()[2:], cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "values: [100, 200, 300, 400]" in again.stdout
    assert not [task for task in cloned(again.stdout) if "/work/" in task]


def test_resuming_an_unedited_flow_says_nothing_of_code(tmp_path):
    flow = failed_origin(tmp_path)
    (tmp_path / "fail-three").unlink()  # the fix was outside the flow file
    resumed = hw(flow.name, "resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "values: [10, 20, 30, 40]" in resumed.stdout
    assert len([task for task in cloned(resumed.stdout) if "/work/" in task]) == 3
    assert "flow file changed" not in resumed.stdout


# ------------------------------------------- @cache over a sweep given as a parameter

SWEEP_CACHE = '''
from headwater import FlowSpec, JSONType, Parameter, cache, step


class LrFlow(FlowSpec):
    lrs = Parameter("lrs", type=JSONType, default="[0.1, 0.2]")
    epochs = Parameter("epochs", default=3)

    @step
    def start(self):
        self.next(self.train, foreach="lrs")

    @cache
    @step
    def train(self):
        print("TRAINED", self.input)
        self.loss = self.input * self.epochs
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best = min(i.loss for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("best:", self.best)


if __name__ == "__main__":
    LrFlow()
'''


def trained(output: str) -> list[str]:
    return sorted(re.findall(r"TRAINED (\S+)", output))


def test_adding_a_value_to_a_swept_parameter_trains_only_that_value(tmp_path):
    flow = write_flow(tmp_path, "lr_flow.py", SWEEP_CACHE)
    first = hw(flow.name, "run", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert trained(first.stdout) == ["0.1", "0.2"]
    more = hw(flow.name, "run", "--lrs", "[0.1, 0.2, 0.3]", cwd=tmp_path)
    assert more.returncode == 0, more.stdout + more.stderr
    assert trained(more.stdout) == ["0.3"]
    assert more.stdout.count("reused from cache: LrFlow/1/train/") == 2
    # Any other parameter still reaches every task's key: all of them train again.
    other = hw(flow.name, "run", "--lrs", "[0.1, 0.2, 0.3]", "--epochs", "5", cwd=tmp_path)
    assert other.returncode == 0, other.stdout + other.stderr
    assert trained(other.stdout) == ["0.1", "0.2", "0.3"]
    assert "best: 0.5" in other.stdout


# ------------------------------------------------- one value for a swept parameter

ONE_VALUE = '''
from headwater import FlowSpec, JSONType, Parameter, step


class OneFlow(FlowSpec):
    lrs = Parameter("lrs", type=JSONType, default="[0.1, 0.2]")
    depths = Parameter("depths", default=3)

    @step
    def start(self):
        self.next(self.train, foreach=FOREACH)

    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OneFlow()
'''


def test_a_foreach_over_a_parameter_given_one_value_is_refused_at_launch(tmp_path):
    flow = write_flow(tmp_path, "one_flow.py", ONE_VALUE.replace("FOREACH", '"lrs"'))
    done = hw(flow.name, "run", "--lrs", "0.1", cwd=tmp_path)
    assert done.returncode == 2  # a usage error, as every invalid parameter is
    assert ("flow OneFlow, step 'start': a foreach iterates over the parameter 'lrs', whose "
            "value 0.1 is one float, not a list") in done.stderr
    assert "fix: pass a JSON list: --lrs '[0.1]'" in done.stderr
    assert "self.lrs = list(...)" not in done.stdout + done.stderr  # a step cannot set it
    assert "Workflow starting" not in done.stdout  # no run recorded, so no resume offered
    assert "resume" not in done.stdout + done.stderr
    listed = hw(flow.name, "run", "--lrs", "[0.1]", cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "Workflow starting (run-id 1)" in listed.stdout
    # A parameter of another type is told to become a list parameter.
    flow = write_flow(tmp_path, "one_flow.py", ONE_VALUE.replace("FOREACH", '"depths"'))
    done = hw(flow.name, "run", cwd=tmp_path)
    assert done.returncode == 2
    assert "declare it Parameter('depths', type=JSONType" in done.stderr


# ------------------------------------- a join reading what a caught input never set

CAUGHT = '''
from headwater import FlowSpec, catch, step


class CaughtFlow(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 0, 2]
        self.next(self.work, foreach="xs")

    @catch(var="err", print_exception=False)
    @step
    def work(self):
        self.score = 1 / self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.scores = [i.score for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("scores:", self.scores)


if __name__ == "__main__":
    CaughtFlow()
'''


def test_a_join_reading_a_caught_inputs_artifact_is_told_how_to_leave_it_out(tmp_path):
    flow = write_flow(tmp_path, "caught_flow.py", CAUGHT)
    done = hw(flow.name, "run", cwd=tmp_path)
    assert done.returncode == 1
    assert ("has no artifact 'score': that task failed and @catch caught it (self.err holds "
            "the exception), so it set nothing") in done.stdout
    fix = re.search(r"e\.g\. (\[i\.score for i in inputs if i\.err is None\])", done.stdout)
    assert fix, done.stdout
    # The expression it offers works as written.
    flow.write_text(flow.read_text().replace("[i.score for i in inputs]", fix[1]))
    fixed = hw(flow.name, "resume", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "scores: [1.0, 0.5]" in fixed.stdout


def test_a_parameter_given_to_resume_says_resume_keeps_the_runs_and_how_to_change_it(tmp_path):
    flow = write_flow(tmp_path, "one_flow.py", ONE_VALUE.replace("FOREACH", '"lrs"'))
    assert hw(flow.name, "run", cwd=tmp_path).returncode == 0
    done = hw(flow.name, "resume", "--lrs", "[0.5]", cwd=tmp_path)
    assert done.returncode == 2
    assert ("--lrs is a parameter of OneFlow, and resume keeps the parameters of the run it "
            "resumes") in done.stderr
    command = re.search(r"`(python one_flow\.py run --lrs) \.\.\.`", done.stderr)
    assert command, done.stderr
    pasted = hw(flow.name, *command[1].split()[2:], "[0.5]", cwd=tmp_path)
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    # An option that is no parameter keeps click's answer.
    other = hw(flow.name, "resume", "--lsr", "1", cwd=tmp_path)
    assert other.returncode == 2 and "is a parameter" not in other.stderr


def test_logs_of_a_foreach_step_heads_each_tasks_lines_on_stderr(tmp_path):
    flow = write_flow(tmp_path, "lr_flow.py", SWEEP_CACHE)
    assert hw(flow.name, "run", "--lrs", "[0.1, 0.2, 0.3]", cwd=tmp_path).returncode == 0
    done = hw(flow.name, "logs", "1/train", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["TRAINED 0.1", "TRAINED 0.2", "TRAINED 0.3"]
    headings = re.findall(r"^==> LrFlow/1/train/(\d+) \(index (\d)\) <==$", done.stderr, re.M)
    assert [index for _, index in headings] == ["0", "1", "2"]
    # Both streams into one file: each heading sits right above its task's line.
    merged = subprocess.run(f"{sys.executable} lr_flow.py logs 1/train 2>&1", shell=True,
                            cwd=tmp_path, env=hermetic_env({"HEADWATER_DATASTORE_ROOT":
                                                            str(tmp_path / ".headwater")}),
                            capture_output=True, text=True, timeout=DEADLINE_S)
    lines = merged.stdout.splitlines()
    for index, value in enumerate(("0.1", "0.2", "0.3")):
        at = next(i for i, line in enumerate(lines) if f"(index {index}) <==" in line)
        assert lines[at + 1] == f"TRAINED {value}", lines
    # One task: no heading, as before.
    single = hw(flow.name, "logs", f"1/train/{headings[0][0]}", cwd=tmp_path)
    assert "==>" not in single.stderr and single.stdout.strip() == "TRAINED 0.1"


CONFIGURED = '''
from headwater import Config, FlowSpec, step


class CfgFlow(FlowSpec):
    train_cfg = Config("train_cfg", default_value={"epochs": 1})

    @step
    def start(self):
        print("epochs:", self.train_cfg.epochs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CfgFlow()
'''


def test_a_config_given_like_a_parameter_is_told_where_it_goes(tmp_path):
    flow = write_flow(tmp_path, "cfg_flow.py", CONFIGURED)
    (tmp_path / "prod.json").write_text('{"epochs": 7}')
    done = hw(flow.name, "run", "--train-cfg", "prod.json", cwd=tmp_path)
    assert done.returncode == 2
    assert "train_cfg is a Config of CfgFlow, given to the flow's command line" in done.stderr
    assert "Did you mean" not in done.stderr
    command = re.search(r"`(python cfg_flow\.py --config train_cfg) FILE (run)`", done.stderr)
    assert command, done.stderr
    pasted = hw(flow.name, *command[1].split()[2:], "prod.json", command[2], cwd=tmp_path)
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert "epochs: 7" in pasted.stdout
    resumed = hw(flow.name, "resume", "--train_cfg", "prod.json", cwd=tmp_path)
    assert "resume keeps the configs of the run it resumes" in resumed.stderr
    assert "--config train_cfg FILE run`" in resumed.stderr  # a new run, not a resume


PYPI_IGNORED = '''
import os
from headwater import FlowSpec, pypi, step


class PypiFlow(FlowSpec):
    @pypi(packages={"not-installed-here": "1.0"})
    @step
    def start(self):
        if os.path.exists("need-module"):
            import not_installed_here  # noqa: F401
        self.next(self.end)

    @step
    def end(self):
        if os.path.exists("fail-end"):
            raise RuntimeError("end is broken")


if __name__ == "__main__":
    PypiFlow()
'''


def test_the_resume_offered_after_an_ignored_pypi_step_failed_builds_its_environment(tmp_path):
    flow = write_flow(tmp_path, "pypi_flow.py", PYPI_IGNORED)
    (tmp_path / "need-module").write_text("")
    done = hw(flow.name, "run", cwd=tmp_path)
    assert done.returncode == 1
    assert ("Once it is fixed, `python pypi_flow.py --environment=pypi resume` runs again"
            in done.stdout)
    # A failure elsewhere, in a step without @pypi: the plain resume, as before.
    (tmp_path / "need-module").unlink()
    (tmp_path / "fail-end").write_text("")
    done = hw(flow.name, "run", cwd=tmp_path)
    assert done.returncode == 1
    assert "Once it is fixed, `python pypi_flow.py resume` runs again" in done.stdout


def test_resuming_a_run_that_succeeded_says_nothing_ran_and_how_to_rerun_a_step(tmp_path):
    flow = failed_origin(tmp_path)
    (tmp_path / "fail-three").unlink()
    fixed = hw(flow.name, "resume", cwd=tmp_path)  # a resume that ran something says nothing
    assert fixed.returncode == 0 and "Nothing ran" not in fixed.stdout
    copy = hw(flow.name, "resume", cwd=tmp_path)  # of EditFlow/2, which succeeded
    assert copy.returncode == 0, copy.stdout + copy.stderr
    lines = copy.stdout.splitlines()
    assert lines[-1] == "Done! Run EditFlow/3 succeeded."
    assert lines[-2].startswith("Nothing ran: every task was cloned")
    command = re.search(r"`(python edit_flow\.py resume) STEP`", lines[-2])
    assert command, lines[-2]
    again = hw(flow.name, *command[1].split()[2:], "join", cwd=tmp_path)
    assert again.returncode == 0 and "Nothing ran" not in again.stdout
    assert "values: [10, 20, 30, 40]" in again.stdout  # the join and end ran again
