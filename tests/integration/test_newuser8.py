"""What a data scientist new to headwater tripped on in the eighth new-user pass.

A sweep with a list parameter, a flow split across a package of the project (and @cache over
its helper module), a join indented the wrong way, ``self.next`` and decorators written the way
they read, options typed on the wrong side of ``run``, artifacts pickle cannot store, the client
and the Runner from a notebook-like script in another folder, pathspecs pasted from a run's
closing line, and the README's ``airflow create dags/flow.py`` in a fresh folder. Each test types
the user's command in a real process and reads what it prints; where the message names a fix,
the test applies it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .faultkit import DEADLINE_S
from .flowrun import hermetic_env, line_of, write_flow

SWEEP = '''
from headwater import FlowSpec, Parameter, step


class SweepFlow(FlowSpec):
    lrs = Parameter("lrs", type=list, default=[0.1, 0.01])
    epochs = Parameter("epochs", default=3)

    @step
    def start(self):
        self.next(self.train, foreach="lrs")

    @step
    def train(self):
        self.score = 1 - self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best = max(i.score for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("best", self.best)


if __name__ == "__main__":
    SweepFlow()
'''


def typed(cwd: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess:
    """``python ARGV`` typed in ``cwd``, the store found from the working folder."""
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=hermetic_env(extra),
                          capture_output=True, text=True, timeout=DEADLINE_S)


# ------------------------------------------------------- a list parameter declared type=list


def test_a_list_parameter_declared_type_list_is_refused_with_jsontype_then_runs(tmp_path):
    flow = write_flow(tmp_path, "sweep.py", SWEEP)
    # Its default (a real list) runs as declared: only text given to type=list is wrong.
    done = typed(tmp_path, "sweep.py", "run")
    assert done.returncode == 0, done.stderr
    assert "best 0.99" in done.stdout
    # list('[0.5]') was five characters, and every train task failed on a str; now the launch
    # refuses it, naming the parameter and the declaration that reads it.
    refused = typed(tmp_path, "sweep.py", "run", "--lrs", "[0.5]")
    assert refused.returncode != 0
    assert "parameter 'lrs' is declared type=list" in refused.stderr
    assert "one item per character" in refused.stderr
    assert "declare Parameter('lrs', type=JSONType, ...)" in refused.stderr
    assert "Workflow starting" not in refused.stdout + refused.stderr
    # The fix, applied as the message words it, runs the value given.
    source = flow.read_text().replace("type=list", "type=JSONType")
    flow.write_text(source.replace("import FlowSpec,", "import FlowSpec, JSONType,"))
    fixed = typed(tmp_path, "sweep.py", "run", "--lrs", "[0.5]")
    assert fixed.returncode == 0, fixed.stderr
    assert "best 0.5" in fixed.stdout


@pytest.mark.parametrize("declared", ["list[float]", "dict", "tuple"])
def test_other_container_types_given_text_are_refused_the_same_way(tmp_path, declared):
    write_flow(tmp_path, "sweep.py", SWEEP.replace("type=list", f"type={declared}"))
    refused = typed(tmp_path, "sweep.py", "run", "--lrs", "[0.5]")
    assert refused.returncode != 0
    assert f"parameter 'lrs' is declared type={declared}" in refused.stderr
    assert "type=JSONType" in refused.stderr


def test_an_optional_type_names_the_one_type_and_a_none_default(tmp_path):
    write_flow(tmp_path, "sweep.py", SWEEP.replace(
        'Parameter("epochs", default=3)', 'Parameter("epochs", type=int | None, default=None)'))
    refused = typed(tmp_path, "sweep.py", "run", "--epochs", "4")
    assert refused.returncode != 0
    assert "parameter 'epochs' has an unsupported type int | None" in refused.stderr
    assert "declare Parameter('epochs', type=int, default=None)" in refused.stderr


# ------------------------------------------------------- options on the wrong side of `run`


@pytest.mark.parametrize(("before", "said"), [
    (["--tag", "x"], "an option of 'run', so it goes after 'run': python sweep.py run --tag ..."),
    (["--max-workers", "2"], "python sweep.py run --max-workers ..."),
    (["--no-cache"], "python sweep.py run --no-cache\n"),
    (["--epochs", "2"], "a parameter of SweepFlow, so it goes after 'run': "
                        "python sweep.py run --epochs ..."),
])
def test_a_run_option_typed_before_run_says_it_goes_after(tmp_path, before, said):
    write_flow(tmp_path, "sweep.py", SWEEP)
    refused = typed(tmp_path, "sweep.py", *before, "run")
    assert refused.returncode == 2
    assert f"No such option '{before[0]}' before the command" in refused.stderr
    assert said in refused.stderr


def test_a_resume_option_typed_before_resume_names_resume(tmp_path):
    write_flow(tmp_path, "sweep.py", SWEEP)
    refused = typed(tmp_path, "sweep.py", "--origin-run-id", "1", "resume")
    assert refused.returncode == 2
    assert "it is an option of 'resume', so it goes after 'resume': python sweep.py resume " \
        "--origin-run-id ..." in refused.stderr


def test_an_option_of_no_command_keeps_clicks_answer(tmp_path):
    write_flow(tmp_path, "sweep.py", SWEEP)
    refused = typed(tmp_path, "sweep.py", "--bogus", "run")
    assert refused.returncode == 2
    assert "No such option '--bogus'." in refused.stderr
    assert "goes after" not in refused.stderr


# ------------------------------------------------------- a join indented the wrong way

NESTED = '''
from headwater import FlowSpec, step


class IndFlow(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 2]
        self.next(self.work, foreach="xs")

    @step
    def work(self):
        self.y = self.input * 2
        self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.y for i in inputs)
            self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    IndFlow()
'''


NESTED_JOIN = '''
        @step
        def join(self, inputs):
            self.total = sum(i.y for i in inputs)
            self.next(self.end)
'''


def test_a_join_indented_inside_the_step_above_is_named_and_dedenting_it_runs(tmp_path):
    flow = write_flow(tmp_path, "ind.py", NESTED)
    refused = typed(tmp_path, "ind.py", "run")
    assert refused.returncode != 0
    line = line_of(flow, "def join")
    assert f"ind.py:{line}: self.next must be the last statement of step 'work', but def join " \
        f"comes after it at line {line}, inside step 'work': it is indented one level too far" \
        in refused.stderr
    assert "fix: dedent def join (and its body) to line up with def work" in refused.stderr
    # The fix as worded: the block four spaces left, in line with def work.
    dedented = "".join(line[4:] if line.strip() else line
                       for line in NESTED_JOIN.splitlines(keepends=True))
    flow.write_text(flow.read_text().replace(NESTED_JOIN, dedented))
    done = typed(tmp_path, "ind.py", "run")
    assert done.returncode == 0, done.stderr
    assert "total 6" in done.stdout


def test_a_join_dedented_out_of_the_class_is_named_with_the_steps_it_took(tmp_path):
    # join at the module's top level; end, left where it was, is now inside join.
    source = NESTED.replace('''        self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.y for i in inputs)
            self.next(self.end)
''', '''        self.next(self.join)

@step
def join(self, inputs):
    self.total = sum(i.y for i in inputs)
    self.next(self.end)
''')
    flow = write_flow(tmp_path, "ind.py", source)
    refused = typed(tmp_path, "ind.py", "run")
    assert refused.returncode != 0
    assert "flow IndFlow has no 'end' step" in refused.stderr
    assert (f"def end at line {line_of(flow, 'def end')} is inside step 'join' (line "
            f"{line_of(flow, 'def join')}), which is outside class IndFlow") in refused.stderr
    assert "fix: indent def join and its body one level" in refused.stderr


def test_a_step_left_at_the_module_level_is_named_where_the_flow_goes_to_it(tmp_path):
    source = NESTED.replace(NESTED_JOIN, "").replace('if __name__', '''@step
def join(self, inputs):
    self.total = sum(i.y for i in inputs)
    self.next(self.end)


if __name__''')
    flow = write_flow(tmp_path, "ind.py", source)
    refused = typed(tmp_path, "ind.py", "check")
    assert refused.returncode != 0
    assert ("step 'work' goes to self.join, but the flow has no step named 'join'; def join at "
            f"line {line_of(flow, 'def join')} is at the module's top level, outside class "
            "IndFlow") in refused.stderr
    assert "fix: indent it (and the steps after it)" in refused.stderr


def test_a_module_helper_named_like_a_missing_step_is_not_taken_for_it(tmp_path):
    source = NESTED.replace(NESTED_JOIN, "").replace('if __name__', 'def join(parts):\n    return parts\n\n\nif __name__')
    write_flow(tmp_path, "ind.py", source)
    refused = typed(tmp_path, "ind.py", "check")
    assert refused.returncode != 0
    assert "the flow has no step named 'join'" in refused.stderr
    assert "module's top level" not in refused.stderr
    assert "fix: define @step def join(self): ..." in refused.stderr


# ------------------------------------------------------- a flow inside the project's package

TRAIN = '''
from headwater import FlowSpec, step
from mlproj.lib.features import make_features


class TrainFlow(FlowSpec):
    @step
    def start(self):
        self.x = make_features([1, 2, 3])
        self.next(self.end)

    @step
    def end(self):
        print("features", self.x)


if __name__ == "__main__":
    TrainFlow()
'''


def _package(root: Path) -> Path:
    for folder in ("mlproj", "mlproj/flows", "mlproj/lib"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "__init__.py").write_text("")
    (root / "mlproj/lib/features.py").write_text(
        "def make_features(rows):\n    return [r * 2 for r in rows]\n")
    return write_flow(root / "mlproj/flows", "train.py", TRAIN)


def test_a_flow_that_cannot_import_its_own_package_names_the_root_and_the_command(tmp_path):
    _package(tmp_path)
    failed = typed(tmp_path, "mlproj/flows/train.py", "run")
    assert failed.returncode == 1
    assert "ModuleNotFoundError: No module named 'mlproj'" in failed.stderr
    assert f"note: 'mlproj' is in {tmp_path}, above the flow file" in failed.stderr
    command = f"cd {tmp_path} && python -m mlproj.flows.train run"
    assert f"`{command}`" in failed.stderr
    # The command pasted as printed runs the flow.
    done = subprocess.run(command.replace("python", sys.executable, 1), shell=True,
                          env=hermetic_env(), capture_output=True, text=True,
                          timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    assert "features [2, 4, 6]" in done.stdout
    # So does the other one it names, from where the user typed the first.
    assert f"`PYTHONPATH={tmp_path} python mlproj/flows/train.py run`" in failed.stderr
    again = typed(tmp_path, "mlproj/flows/train.py", "run", PYTHONPATH=str(tmp_path))
    assert again.returncode == 0, again.stderr


def test_headwater_run_of_such_a_flow_names_the_same_fix(tmp_path):
    _package(tmp_path)
    failed = subprocess.run([sys.executable, "-m", "headwater", "run", "flows/train.py",
                             "--tag", "a"], cwd=tmp_path / "mlproj", env=hermetic_env(),
                            capture_output=True, text=True, timeout=DEADLINE_S)
    assert failed.returncode == 1
    assert f"`cd {tmp_path} && python -m mlproj.flows.train run --tag a`" in failed.stderr


def test_a_module_missing_from_everywhere_gets_no_note(tmp_path):
    write_flow(tmp_path, "lost.py", TRAIN.replace("mlproj.lib.features", "nowhere_pkg_xyz"))
    failed = typed(tmp_path, "lost.py", "run")
    assert failed.returncode == 1
    assert "No module named 'nowhere_pkg_xyz'" in failed.stderr
    assert "note:" not in failed.stderr


# ------------------------------------------------------- artifacts pickle cannot store

UNPICKLABLE = '''
import sqlite3
from headwater import FlowSpec, step


class KeepFlow(FlowSpec):
    @step
    def start(self):
        self.thing = VALUE
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    KeepFlow()
'''


@pytest.mark.parametrize(("value", "fix"), [
    ("lambda x: x + 1", "define it at the top level of the flow file (def thing(...): ...)"),
    ("(i for i in range(3))", "it is a one-pass iterator: store its items, self.thing = "
                              "list(...)"),
    ("open(__file__)", "an open file belongs to one process: store its path"),
    ("sqlite3.connect(':memory:')", "a connection, lock or client belongs to one process"),
])
def test_an_artifact_pickle_cannot_store_gets_a_fix_for_its_kind(tmp_path, value, fix):
    write_flow(tmp_path, "keep.py", UNPICKLABLE.replace("VALUE", value))
    failed = typed(tmp_path, "keep.py", "run")
    assert failed.returncode != 0
    out = failed.stdout + failed.stderr
    assert "cannot save artifact 'thing' of task KeepFlow/1/start/1" in out
    assert fix in out
    assert "or delete it before the step ends (del self.thing)" in out


def test_the_generator_fix_applied_runs(tmp_path):
    write_flow(tmp_path, "keep.py", UNPICKLABLE.replace("VALUE", "list(i for i in range(3))"))
    done = typed(tmp_path, "keep.py", "run")
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------- the README's airflow create


def test_airflow_create_into_a_folder_not_made_yet_makes_it(tmp_path):
    write_flow(tmp_path, "sweep.py", SWEEP)
    done = typed(tmp_path, "sweep.py", "airflow", "create", "dags/flow.py")
    assert done.returncode == 0, done.stderr
    assert "Created the folder dags." in done.stderr
    dag = tmp_path / "dags" / "flow.py"
    assert "SweepFlow" in dag.read_text()
    compile(dag.read_text(), str(dag), "exec")  # a Python file Airflow can import


# ------------------------------------------------------- the client from another process

READ = '''
import sys
from headwater import Flow, Run, Step, Task

try:
    print(repr(eval(sys.argv[1])))
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}")
'''


def _read(folder: Path, expression: str) -> str:
    done = typed(folder, "read.py", expression)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("swept")
    write_flow(folder, "sweep.py", SWEEP)
    write_flow(folder, "read.py", READ)
    done = typed(folder, "sweep.py", "run")
    assert done.returncode == 0, done.stderr
    return folder


def test_a_run_id_alone_names_the_flow_that_has_it(swept):
    for typed_id in ("'1'", "1"):
        said = _read(swept, f"Run({typed_id})")
        assert "'1' is not a run pathspec: it is a run id alone" in said
        assert "Run('SweepFlow/1') (run 1 exists in SweepFlow)" in said
    # The expression it names reads the run.
    assert "Run('SweepFlow/1')" in _read(swept, "Run('SweepFlow/1')")


def test_a_pathspec_of_another_kind_names_the_class_that_reads_it(swept):
    said = _read(swept, "Task('SweepFlow/1/train')")
    assert "'SweepFlow/1/train' is not a task pathspec but a step one" in said
    assert "Step('SweepFlow/1/train').task" in said
    assert "Task('SweepFlow/1/train/TASK_ID')" in said
    assert "is not a run pathspec but a flow one" in _read(swept, "Run('SweepFlow')")
    assert "Flow('SweepFlow').latest_run" in _read(swept, "Run('SweepFlow')")
    assert "read this one with Task('SweepFlow/1/start/1')" in _read(
        swept, "Step('SweepFlow/1/start/1')")
    # Each expression named works.
    assert "0.99" in _read(swept, "max(t.data.score for t in Step('SweepFlow/1/train'))")


def test_data_of_a_step_says_its_tasks_hold_the_artifacts(swept):
    said = _read(swept, "Run('SweepFlow/1')['train'].data")
    assert "AttributeError: 'Step' object has no attribute 'data': artifacts belong to a " \
        "step's tasks" in said
    assert "[task.data.NAME for task in Step('SweepFlow/1/train')]" in said
    assert "[0.9, 0.99]" in _read(
        swept, "sorted(task.data.score for task in Step('SweepFlow/1/train'))")
    # hasattr stays False, as for any missing attribute (and as Metaflow's Step has none).
    assert "False" in _read(swept, "hasattr(Run('SweepFlow/1')['train'], 'data')")
    assert "no attribute 'nope'" in _read(swept, "Run('SweepFlow/1')['train'].nope")


# ------------------------------------------------------- a @pypi package imported at the top

REPORT = '''
from headwater import FlowSpec, pypi, step
import tabulate_not_here_xyz


class ReportFlow(FlowSpec):
    @pypi(packages={"tabulate-not-here-xyz": "0.9.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReportFlow()
'''


def test_a_step_package_imported_at_the_top_of_the_file_says_to_import_it_in_the_step(
        tmp_path):
    flow = write_flow(tmp_path, "report.py", REPORT)
    for argv in (["report.py", "--environment=pypi", "run"],
                 ["-m", "headwater", "run", "report.py"]):
        failed = typed(tmp_path, *argv)
        assert failed.returncode == 1
        assert "No module named 'tabulate_not_here_xyz'" in failed.stderr
        assert "note: 'tabulate_not_here_xyz' is a package of a @pypi/@conda declaration in " \
            "this file" in failed.stderr
        assert "fix: import tabulate_not_here_xyz inside the step that declares it" \
            in failed.stderr
    # Moved into the step, the file imports (the step's environment is another matter).
    flow.write_text(REPORT.replace("import tabulate_not_here_xyz\n", "").replace(
        "    def start(self):\n", "    def start(self):\n        import tabulate_not_here_xyz\n"))
    checked = typed(tmp_path, "report.py", "check")
    assert checked.returncode == 0, checked.stderr


def test_a_missing_module_no_declaration_names_gets_no_step_note(tmp_path):
    write_flow(tmp_path, "report.py", REPORT.replace('"tabulate-not-here-xyz"', '"other"'))
    failed = typed(tmp_path, "report.py", "run")
    assert failed.returncode == 1
    assert "No module named 'tabulate_not_here_xyz'" in failed.stderr
    assert "note:" not in failed.stderr


def test_a_notebook_one_folder_above_the_flows_store_is_told_where_it_is(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    write_flow(proj, "sweep.py", SWEEP)
    assert typed(proj, "sweep.py", "run").returncode == 0
    write_flow(tmp_path, "read.py", READ)
    said = _read(tmp_path, "Flow('SweepFlow').latest_run")
    assert (f"flow 'SweepFlow' not found in the datastore {tmp_path / '.headwater'}; it is in "
            "the store proj/.headwater, below the working folder") in said
    assert "headwater.metadata('proj/.headwater')" in said
    assert "--datastore-root proj/.headwater" in said
    # The call it names reads the run, and so does the option.
    done = typed(tmp_path, "-c", "from headwater import Flow, metadata\n"
                 "metadata('proj/.headwater')\nprint(Flow('SweepFlow').latest_run)")
    assert done.returncode == 0, done.stderr
    assert "Run('SweepFlow/1')" in done.stdout
    listed = typed(tmp_path, "-m", "headwater", "runs", "SweepFlow", "--datastore-root",
                   "proj/.headwater")
    assert listed.returncode == 0, listed.stderr
    assert "SweepFlow/1" in listed.stdout
    # A flow no store below has keeps the list of known flows.
    assert "flow 'NoSuchFlow' not found; known flows: none" in _read(tmp_path, "Flow('NoSuchFlow')")


# ------------------------------------------------------- a pathspec pasted from the closing line


def test_logs_dump_and_card_take_the_pathspec_a_failed_run_prints(tmp_path):
    flow = write_flow(tmp_path, "sweep.py", SWEEP.replace(
        "    @step\n    def start(self):",
        "    @card\n    @step\n    def start(self):\n        print('starting')").replace(
        "import FlowSpec,", "import FlowSpec, card,").replace(
        "self.score = 1 - self.input", "self.score = 1 / (self.input - 0.1)"))
    failed = typed(tmp_path, "sweep.py", "run")
    assert failed.returncode != 0
    assert "Run SweepFlow/1 failed: SweepFlow/1/train/" in failed.stdout + failed.stderr
    assert flow.exists()
    logs = typed(tmp_path, "sweep.py", "logs", "SweepFlow/1/start/1")
    assert logs.returncode == 0, logs.stderr
    assert "starting" in logs.stdout
    steps = typed(tmp_path, "sweep.py", "logs", "SweepFlow/1/start")
    assert steps.returncode == 0 and "starting" in steps.stdout
    dumped = typed(tmp_path, "sweep.py", "dump", "SweepFlow/1/start")
    assert dumped.returncode == 0, dumped.stderr
    assert "lrs" in dumped.stdout
    got = typed(tmp_path, "sweep.py", "card", "get", "SweepFlow/1/start", "card.html")
    assert got.returncode == 0, got.stderr
    assert "<html" in (tmp_path / "card.html").read_text().lower()


# ------------------------------------------------------- self.next written the way it reads


@pytest.mark.parametrize(("old", "new", "said", "fix"), [
    ('foreach="lrs"', "foreach=self.lrs",
     "foreach= in step 'start' must be a string literal naming an artifact, not self.lrs",
     "write foreach='lrs', the artifact's name as a string"),
    ("self.next(self.join)", 'self.next("join")',
     "could not understand the self.next call in step 'train': 'join' is a string, not a step",
     "write self.next(self.join): the step itself, not its name"),
    ("        self.next(self.end)\n\n    @step\n    def end",
     "        self.next(self.end())\n\n    @step\n    def end",
     "could not understand the self.next call in step 'join': 'self.end()' calls the step",
     "write self.next(self.end), without the parentheses"),
])
def test_a_self_next_slip_names_the_form_that_works(tmp_path, old, new, said, fix):
    flow = write_flow(tmp_path, "sweep.py", SWEEP.replace(old, new))
    refused = typed(tmp_path, "sweep.py", "check")
    assert refused.returncode != 0
    assert said in refused.stderr
    assert f"fix: {fix}" in refused.stderr
    flow.write_text(flow.read_text().replace(new, old))  # the fix, as worded
    assert typed(tmp_path, "sweep.py", "check").returncode == 0


def test_a_foreach_over_a_misspelt_parameter_names_the_parameter(tmp_path):
    write_flow(tmp_path, "sweep.py", SWEEP.replace('foreach="lrs"', 'foreach="lr"'))
    failed = typed(tmp_path, "sweep.py", "run")
    assert failed.returncode != 0
    assert "foreach over 'lr', but self.lr was never set; did you mean self.lrs?" in \
        failed.stdout + failed.stderr


# ------------------------------------------------------- the Runner given command-line text

RUNNER_SWEEP = SWEEP.replace("type=list", "type=JSONType").replace(
    "import FlowSpec,", "import FlowSpec, JSONType,")


def test_the_runner_given_json_text_for_a_jsontype_parameter_says_to_pass_the_value(tmp_path):
    write_flow(tmp_path, "sweep.py", RUNNER_SWEEP)
    script = ("from headwater import Runner\n"
              "with Runner('sweep.py', quiet=True) as runner:\n"
              "    text = runner.run(lrs='[0.5]')\n"
              "    print('status', text.status)\n"
              "    value = runner.run(lrs=[0.5])\n"
              "    print('status', value.status, value.run.data.best)\n")
    done = typed(tmp_path, "-c", script)
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    # Kept as Metaflow's Runner keeps it (a str), and said, with the call that passes the list.
    assert "status failed" in out
    assert ("Note: parameter 'lrs' of SweepFlow (JSONType) was given the str '[0.5]', which "
            "the Runner passes as that string, not as the list it spells") in out
    assert "Runner(...).run(lrs=[0.5])" in out
    assert "status successful 0.5" in out
    assert out.count("Note: parameter 'lrs'") == 1  # the list given as a list: no note


# ------------------------------------------------------- an IncludeFile's path mistyped

CSV_FLOW = '''
from headwater import FlowSpec, IncludeFile, step


class CsvFlow(FlowSpec):
    data = IncludeFile("data", default="data.csv")

    @step
    def start(self):
        self.rows = self.data.split()
        self.next(self.end)

    @step
    def end(self):
        print("rows", len(self.rows))


if __name__ == "__main__":
    CsvFlow()
'''


def test_a_mistyped_include_file_path_gets_the_close_file_of_that_folder(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "data.csv").write_text("x,y\n1,2\n")
    write_flow(tmp_path / "proj", "csv_flow.py", CSV_FLOW)
    refused = typed(tmp_path, "proj/csv_flow.py", "run", "--data", "proj/dta.csv")
    assert refused.returncode != 0
    assert "file 'proj/dta.csv' does not exist" in refused.stderr
    assert "did you mean 'proj/data.csv'?" in refused.stderr
    done = typed(tmp_path, "proj/csv_flow.py", "run", "--data", "proj/data.csv")
    assert done.returncode == 0, done.stderr
    assert "rows 2" in done.stdout
    far = typed(tmp_path, "proj/csv_flow.py", "run", "--data", "proj/nothing_like_it")
    assert "did you mean" not in far.stderr


def test_headwater_run_of_a_flow_named_without_py_names_the_file(tmp_path):
    write_flow(tmp_path, "sweep.py", SWEEP)
    refused = typed(tmp_path, "-m", "headwater", "run", "sweep")
    assert refused.returncode == 2
    assert "got 'sweep'; did you mean `headwater run sweep.py`?" in refused.stderr
    other = typed(tmp_path, "-m", "headwater", "run", "elsewhere")
    assert "did you mean" not in other.stderr


def test_a_flow_importing_relatively_run_by_its_path_names_the_module_command(tmp_path):
    flow = _package(tmp_path)
    flow.write_text(flow.read_text().replace("from mlproj.lib.features", "from ..lib.features"))
    failed = typed(tmp_path, "mlproj/flows/train.py", "run")
    assert failed.returncode == 1
    assert "attempted relative import with no known parent package" in failed.stderr
    assert "note: the flow file imports relatively, so it runs as a module of its package " \
        "mlproj" in failed.stderr
    command = f"cd {tmp_path} && python -m mlproj.flows.train run"
    assert f"fix: `{command}`" in failed.stderr
    done = subprocess.run(command.replace("python", sys.executable, 1), shell=True,
                          env=hermetic_env(), capture_output=True, text=True,
                          timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    assert "features [2, 4, 6]" in done.stdout


# ------------------------------------------------------- @cache and the project's other modules

CACHED = '''
from headwater import FlowSpec, cache, step
from helpers import score


class CFlow(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 2, 3]
        self.next(self.work, foreach="xs")

    @cache
    @step
    def work(self):
        self.y = score(self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    CFlow()
'''


def test_a_cache_hit_older_than_an_edit_of_a_helper_module_says_so_once(tmp_path):
    import os
    import time

    helpers = tmp_path / "helpers.py"
    helpers.write_text("def score(x):\n    return x * 2\n")
    os.utime(helpers, (time.time() - 3600, time.time() - 3600))  # written long before
    write_flow(tmp_path, "cflow.py", CACHED)
    first = typed(tmp_path, "cflow.py", "run")
    assert first.returncode == 0, first.stderr
    assert "total 12" in first.stdout
    again = typed(tmp_path, "cflow.py", "run")
    assert "reused from cache: CFlow/1/work/" in again.stdout
    assert "Note:" not in again.stdout  # nothing changed since
    # The helper edited (its time set after every run so far, as an edit now would be).
    helpers.write_text("def score(x):\n    return x * 3\n")
    later = time.time() + 3600
    os.utime(helpers, (later, later))
    stale = typed(tmp_path, "cflow.py", "run")
    assert stale.returncode == 0, stale.stderr
    assert "total 12" in stale.stdout  # the cached result, as the key cannot see the edit
    notes = [line for line in stale.stdout.splitlines() if "Note: helpers.py changed" in line]
    assert len(notes) == 1, stale.stdout  # once for the step, not once per item
    assert "computed this result, and @cache keys see the flow file's code only: if step " \
        "'work' uses what changed, `python cflow.py run --no-cache` runs it anew" in notes[0]
    assert "after CFlow/1/work/" in notes[0]  # the task that computed it, not run 2's clone
    fresh = typed(tmp_path, "cflow.py", "run", "--no-cache")
    assert fresh.returncode == 0, fresh.stderr
    assert "total 18" in fresh.stdout


# ------------------------------------------------------- a decorator's value without its name


@pytest.mark.parametrize(("written", "fix"), [
    ("@timeout(10)", "write @timeout(seconds=10) (its options: hours, minutes, seconds)"),
    ("@retry(3)", "write @retry(times=3)"),
    ("@catch('err')", "write @catch(var='err')"),
])
def test_a_decorator_value_without_its_name_is_refused_naming_the_option(tmp_path, written,
                                                                          fix):
    source = SWEEP.replace("import FlowSpec,", "import FlowSpec, catch, retry, timeout,")
    flow = write_flow(tmp_path, "sweep.py", source.replace(
        "    @step\n    def train(self)", f"    {written}\n    @step\n    def train(self)"))
    refused = typed(tmp_path, "sweep.py", "run")
    assert refused.returncode == 1
    assert f"{written[1:]}: a step decorator's options are given by name" in refused.stderr
    assert f"fix: {fix}" in refused.stderr
    assert f'sweep.py", line {line_of(flow, written)}' in refused.stderr
    # @catch('err') ran before, its variable silently not set: the fix as written runs.
    fixed = fix.split("write ", 1)[1].split(" (", 1)[0]
    flow.write_text(flow.read_text().replace(written, fixed))
    done = typed(tmp_path, "sweep.py", "run")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("written", "fix"), [
    ('@project("shop")', "write @project(name='shop')"),
    ('@schedule("0 6 * * *")', "write @schedule(cron='0 6 * * *')"),
    ('@pypi_base({"six": ""})', "write @pypi_base(packages={'six': ''})"),
])
def test_a_flow_decorator_value_without_its_name_is_refused_naming_the_option(tmp_path, written,
                                                                               fix):
    source = SWEEP.replace("import FlowSpec,", "import FlowSpec, project, pypi_base, schedule,")
    flow = write_flow(tmp_path, "sweep.py", source.replace(
        "class SweepFlow", f"{written}\nclass SweepFlow"))
    refused = typed(tmp_path, "sweep.py", "check")
    assert refused.returncode == 1
    assert "a flow decorator's options are given by name" in refused.stderr
    assert f"fix: {fix}" in refused.stderr
    flow.write_text(flow.read_text().replace(written, fix.split("write ", 1)[1]))
    checked = typed(tmp_path, "sweep.py", "check")
    assert checked.returncode == 0, checked.stderr


def test_create_with_an_output_option_names_where_the_deployment_goes(tmp_path):
    write_flow(tmp_path, "sweep.py", SWEEP)
    argo = typed(tmp_path, "sweep.py", "argo-workflows", "create", "--output", "wf.yaml")
    assert argo.returncode == 2
    assert ("No such option '--output' for 'argo-workflows create': --only-json prints the "
            "manifest instead of submitting it: `python sweep.py argo-workflows create "
            "--only-json > workflow.json`") in argo.stderr
    printed = typed(tmp_path, "sweep.py", "argo-workflows", "create", "--only-json")
    assert printed.returncode == 0, printed.stderr
    assert '"kind": "WorkflowTemplate"' in printed.stdout
    airflow = typed(tmp_path, "sweep.py", "airflow", "create", "-o", "dags/flow.py")
    assert airflow.returncode == 2
    assert "the DAG file is the argument of create: `python sweep.py airflow create " \
        "dags/flow.py`" in airflow.stderr


def test_airflow_create_without_a_path_names_the_dag_file_to_give(tmp_path):
    write_flow(tmp_path, "sweep.py", SWEEP)
    refused = typed(tmp_path, "sweep.py", "airflow", "create")
    assert refused.returncode == 2
    assert "Missing argument 'OUT'. It is the DAG file to write, in Airflow's dags folder: " \
        "`python sweep.py airflow create dags/sweep.py`." in refused.stderr
    done = typed(tmp_path, "sweep.py", "airflow", "create", "dags/sweep.py")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dags" / "sweep.py").is_file()
