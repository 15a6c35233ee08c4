"""What a data scientist new to headwater tripped on in the ninth new-user pass.

A class of steps that forgot ``(FlowSpec)``, a foreach over a text kept as a ``str``, the client
asked for ``Run('F/latest')``, a ``@pypi`` package imported by another name than it is
installed by, ``--datastore-root`` given the project's folder, ``dump`` of plain values, and a
``JSONType`` default function returning the object. Each test types the user's command in a
real process and reads what it prints; where the message names a fix, the test applies it.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .faultkit import DEADLINE_S
from .flowrun import hermetic_env, line_of, write_flow


def typed(cwd: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess:
    """``python ARGV`` typed in ``cwd``, the store found from the working folder."""
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=hermetic_env(extra),
                          capture_output=True, text=True, timeout=DEADLINE_S)


# ------------------------------------------------------------ a class that is no FlowSpec

NOT_A_FLOW = '''
from headwater import Parameter, step


class TrainFlow:
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        print("training with", self.alpha)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrainFlow()
'''


def test_a_class_of_steps_without_flowspec_says_so_and_subclassing_runs(tmp_path):
    flow = write_flow(tmp_path, "train.py", NOT_A_FLOW)
    silent = typed(tmp_path, "train.py", "run")
    # Nothing ran, as on Metaflow; but it is said, naming the class and the fix.
    assert "training with" not in silent.stdout
    assert "train.py: class TrainFlow has @step methods but does not subclass FlowSpec" \
        in silent.stderr
    assert "fix: declare it class TrainFlow(FlowSpec):" in silent.stderr
    flow.write_text(NOT_A_FLOW.replace("import Parameter,", "import FlowSpec, Parameter,")
                    .replace("class TrainFlow:", "class TrainFlow(FlowSpec):"))
    done = typed(tmp_path, "train.py", "run")
    assert done.returncode == 0, done.stderr
    assert "training with 0.5" in done.stdout
    assert "does not subclass FlowSpec" not in done.stderr


def test_a_mixin_of_steps_used_by_a_flow_gets_no_note(tmp_path):
    source = NOT_A_FLOW.replace("class TrainFlow:", "class Steps:").replace(
        'if __name__ == "__main__":\n    TrainFlow()',
        'from headwater import FlowSpec\n\n\nclass TrainFlow(Steps, FlowSpec):\n    pass\n\n\n'
        'if __name__ == "__main__":\n    TrainFlow()')
    write_flow(tmp_path, "train.py", source)
    done = typed(tmp_path, "train.py", "run")
    assert done.returncode == 0, done.stderr
    assert "training with 0.5" in done.stdout
    assert "does not subclass FlowSpec" not in done.stderr


# ------------------------------------------------------------------- a foreach over a str

LETTERS = '''
from headwater import FlowSpec, Parameter, step


class TagFlow(FlowSpec):
    tags_text = Parameter("tags_text", default="red,green")

    @step
    def start(self):
        self.labels = "red,green"
        self.next(self.each, foreach="labels")

    @step
    def each(self):
        print("item", repr(self.input))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TagFlow()
'''


def test_a_foreach_over_a_str_runs_per_character_and_says_how_to_make_a_list(tmp_path):
    flow = write_flow(tmp_path, "tags.py", LETTERS)
    done = typed(tmp_path, "tags.py", "run")
    # As on Metaflow, one task per character...
    assert done.returncode == 0, done.stderr
    assert "Foreach yields 9 child steps." in done.stdout + done.stderr
    # ...with a note in the foreach step's log naming the artifact and the fix.
    said = done.stdout + done.stderr
    assert "Note: step 'start' of flow TagFlow: foreach='labels' iterates a str, " \
        "'red,green', one task per character (9 tasks)" in said
    assert "make self.labels a list before self.next(): e.g. self.labels = text.split(',')" \
        in said
    flow.write_text(LETTERS.replace('self.labels = "red,green"',
                                    'self.labels = "red,green".split(",")'))
    fixed = typed(tmp_path, "tags.py", "run")
    assert fixed.returncode == 0, fixed.stderr
    assert "Foreach yields 2 child steps." in fixed.stdout + fixed.stderr
    assert "item 'green'" in fixed.stdout
    assert "iterates a str" not in fixed.stdout + fixed.stderr


def test_a_foreach_over_a_str_parameter_names_separator_and_jsontype(tmp_path):
    write_flow(tmp_path, "tags.py", LETTERS.replace('foreach="labels"', 'foreach="tags_text"'))
    done = typed(tmp_path, "tags.py", "run")
    said = done.stdout + done.stderr
    assert "foreach='tags_text' iterates a str" in said
    assert "declare Parameter('tags_text', separator=',')" in said
    assert "Parameter('tags_text', type=JSONType)" in said


# ---------------------------------------------------------------- Run('F/latest') and kin

@pytest.fixture(scope="module")
def tagged(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tagged")
    write_flow(folder, "tags.py", LETTERS.replace('self.labels = "red,green"',
                                                  'self.labels = ["red", "green"]'))
    done = typed(folder, "tags.py", "run")
    assert done.returncode == 0, done.stderr
    return folder


def _read(folder: Path, expression: str) -> str:
    code = (f"from headwater import Flow, Run, Step\ntry:\n    print({expression})\n"
            "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
    return typed(folder, "-c", code).stdout


@pytest.mark.parametrize("guess", ["latest", "last", "-1", "latest_run", "LATEST"])
def test_run_latest_names_latest_run_and_the_run_id(tagged, guess):
    said = _read(tagged, f"Run('TagFlow/{guess}')")
    assert f"run 'TagFlow/{guess}' not found" in said
    assert f"'{guess}' is no run id: the latest run is Flow('TagFlow').latest_run" in said
    assert "Run('TagFlow/1')" in said
    # The spelling it names works.
    assert _read(tagged, "Flow('TagFlow').latest_run.pathspec").strip() == "TagFlow/1"
    assert _read(tagged, "Run('TagFlow/1').successful").strip() == "True"


def test_run_latest_successful_names_latest_successful_run(tagged):
    said = _read(tagged, "Step('TagFlow/latest_successful/start')")
    assert "the latest run that succeeded is Flow('TagFlow').latest_successful_run" in said


def test_an_unknown_run_number_gets_no_latest_hint(tagged):
    said = _read(tagged, "Run('TagFlow/99')")
    assert "run 'TagFlow/99' not found" in said
    assert "latest_run" not in said


# ------------------------------------------------- a @pypi package imported by another name

SKLEARN = '''
from headwater import FlowSpec, pypi, step
import sklearn


class FitFlow(FlowSpec):
    @pypi(packages={"scikit-learn": "1.5.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FitFlow()
'''


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is not None,
                    reason="the note is for a Python without scikit-learn")
def test_a_top_level_import_of_a_package_installed_by_another_name_gets_the_note(tmp_path):
    flow = write_flow(tmp_path, "fit.py", SKLEARN)
    failed = typed(tmp_path, "fit.py", "run")
    assert failed.returncode == 1
    assert "No module named 'sklearn'" in failed.stderr
    assert "note: 'sklearn' (installed as 'scikit-learn') is a package of a @pypi/@conda " \
        "declaration in this file" in failed.stderr
    assert "fix: import sklearn inside the step that declares it" in failed.stderr
    flow.write_text(SKLEARN.replace("import sklearn\n", "").replace(
        "    def start(self):\n", "    def start(self):\n        import sklearn  # noqa\n"))
    checked = typed(tmp_path, "fit.py", "check")
    assert checked.returncode == 0, checked.stderr


TABULATE = '''
from headwater import FlowSpec, pypi, step


class TableFlow(FlowSpec):
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def start(self):
        import IMPORTED
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TableFlow()
'''


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("env-cache")


def test_a_step_importing_a_module_its_environment_lacks_says_what_to_declare(tmp_path,
                                                                             env_cache):
    assert importlib.util.find_spec("tabulate") is None  # else the test proves nothing
    flow = write_flow(tmp_path, "table.py", TABULATE.replace("IMPORTED", "yaml"))
    failed = typed(tmp_path, "table.py", "--environment=pypi", "run",
                   HEADWATER_ENV_CACHE=str(env_cache))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    said = failed.stdout + failed.stderr
    assert "No module named 'yaml'" in said
    assert "Step 'start' runs in its @pypi environment (tabulate), which has no module 'yaml': " \
        "add the package that provides it to the step's @pypi(packages=...) " \
        "(for yaml: 'pyyaml')" in said
    # The module a declared package is imported by is named when the user imported the
    # package's own name instead.
    flow.write_text(TABULATE.replace("IMPORTED", "tabulate_typo"))
    failed = typed(tmp_path, "table.py", "--environment=pypi", "run",
                   HEADWATER_ENV_CACHE=str(env_cache))
    said = failed.stdout + failed.stderr
    assert "its name to install can differ from the name it is imported by" in said
    flow.write_text(TABULATE.replace("IMPORTED", "tabulate"))
    done = typed(tmp_path, "table.py", "--environment=pypi", "run",
                 HEADWATER_ENV_CACHE=str(env_cache))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "which has no module" not in done.stdout + done.stderr


def test_the_installed_name_imported_as_a_module_names_the_import(tmp_path):
    from headwater.import_hint import module_in_environment_hint

    said = module_in_environment_hint("fit", "pypi", ("scikit-learn", "PyYAML"),
                                      "No module named 'scikit_learn'")
    assert said == ("Step 'fit' installs 'scikit-learn' (@pypi), which is imported by another "
                    "name: import sklearn")
    said = module_in_environment_hint("fit", "pypi", ("PyYAML",), "No module named 'pyyaml'")
    assert said is not None and said.endswith("import yaml")


# ------------------------------------------------- --datastore-root given the project folder

FLOW = '''
from headwater import FlowSpec, step


class HelloFlow(FlowSpec):
    @step
    def start(self):
        self.greeting = "hello"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HelloFlow()
'''


def test_a_datastore_root_naming_the_project_folder_means_its_store(tmp_path):
    proj, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    proj.mkdir()
    elsewhere.mkdir()
    write_flow(proj, "hello.py", FLOW)
    assert typed(proj, "hello.py", "run").returncode == 0
    before = sorted(p.name for p in proj.iterdir())
    # From another folder, the project folder is named where its .headwater was meant.
    done = typed(elsewhere, str(proj / "hello.py"), "--datastore-root", str(proj), "run")
    assert done.returncode == 0, done.stderr
    assert "Run HelloFlow/2 succeeded" in done.stdout + done.stderr
    done = typed(elsewhere, str(proj / "hello.py"), "run", HEADWATER_DATASTORE_ROOT=str(proj))
    assert "Run HelloFlow/3 succeeded" in done.stdout + done.stderr
    # No second store was made among the project's files, nor in the working folder.
    assert sorted(p.name for p in proj.iterdir()) == before
    assert list(elsewhere.iterdir()) == []
    # A folder without a .headwater of its own is the store itself, as before.
    fresh = tmp_path / "fresh"
    done = typed(elsewhere, str(proj / "hello.py"), "--datastore-root", str(fresh), "run")
    assert "Run HelloFlow/1 succeeded" in done.stdout + done.stderr
    assert (fresh / "meta.sqlite").is_file()
    # A store that came to hold a .headwater of its own (a run started inside it) stays the
    # store it is.
    (fresh / ".headwater").mkdir()
    done = typed(elsewhere, str(proj / "hello.py"), "--datastore-root", str(fresh), "run")
    assert "Run HelloFlow/2 succeeded" in done.stdout + done.stderr
    assert list((fresh / ".headwater").iterdir()) == []


# ------------------------------------------------------------------- dump of plain values

VALUES = '''
import datetime
import decimal
import uuid

from headwater import FlowSpec, step


class PriceFlow(FlowSpec):
    @step
    def start(self):
        self.price = decimal.Decimal("1.50")
        self.when = datetime.datetime(2024, 1, 2, 3, 4)
        self.uid = uuid.UUID(int=5)
        self.word = "hello world"
        self.blank = " padded "
        self.lines = "two\\nlines"
        self.prices = [decimal.Decimal("2")]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PriceFlow()
'''


def test_dump_shows_plain_values_as_str_as_metaflow_does(tmp_path):
    write_flow(tmp_path, "price.py", VALUES)
    assert typed(tmp_path, "price.py", "run").returncode == 0
    dumped = typed(tmp_path, "price.py", "dump", "1/start")
    assert dumped.returncode == 0, dumped.stderr
    rows = {line.split()[0]: line for line in dumped.stdout.splitlines()[1:]}
    assert rows["price"].endswith("bytes  1.50")
    assert rows["when"].endswith("bytes  2024-01-02 03:04:00")
    assert rows["uid"].endswith("bytes  00000000-0000-0000-0000-000000000005")
    assert rows["word"].endswith("bytes  hello world")
    # Text that would not read as itself on one line keeps its quotes; containers their repr.
    assert rows["blank"].endswith("bytes  ' padded '")
    assert rows["lines"].endswith("bytes  'two\\nlines'")
    assert rows["prices"].endswith("bytes  [Decimal('2')]")
    assert re.search(r"price +decimal\.Decimal", rows["price"])


# ------------------------------------------------ a JSONType default function's object

JSONFLOW = '''
import json

from headwater import FlowSpec, JSONType, Parameter, step


def grid(ctx):
    return {"lr": [0.1, 0.01]}


class GridFlow(FlowSpec):
    grid = Parameter("grid", type=JSONType, default=grid)

    @step
    def start(self):
        print("grid", self.grid)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GridFlow()
'''


def test_a_jsontype_default_function_returning_an_object_is_refused_then_json_text_runs(
        tmp_path):
    flow = write_flow(tmp_path, "grid.py", JSONFLOW)
    refused = typed(tmp_path, "grid.py", "run")
    assert refused.returncode != 0
    assert "parameter 'grid' (type=JSONType) of flow GridFlow: its default function grid " \
        "returned dict {'lr': [0.1, 0.01]}" in refused.stderr
    assert "return json.dumps(...) of the value" in refused.stderr
    assert "Workflow starting" not in refused.stdout + refused.stderr
    flow.write_text(JSONFLOW.replace('return {"lr": [0.1, 0.01]}',
                                     'return json.dumps({"lr": [0.1, 0.01]})'))
    done = typed(tmp_path, "grid.py", "run")
    assert done.returncode == 0, done.stderr
    assert "grid {'lr': [0.1, 0.01]}" in done.stdout
    # The value itself as the default (not through a function) runs, as on Metaflow.
    flow.write_text(JSONFLOW.replace("default=grid)", 'default={"lr": [0.5]})'))
    done = typed(tmp_path, "grid.py", "run")
    assert done.returncode == 0, done.stderr
    assert "grid {'lr': [0.5]}" in done.stdout


def test_a_jsontype_value_typed_as_python_names_its_json(tmp_path):
    flow = write_flow(tmp_path, "grid.py", JSONFLOW.replace("default=grid)", "default='{}')"))
    refused = typed(tmp_path, "grid.py", "run", "--grid", "{'lr': [0.1], 'warm': True}")
    assert refused.returncode != 0
    assert "parameter 'grid' expects JSON" in refused.stderr
    fix = "--grid '{\"lr\": [0.1], \"warm\": true}'"
    assert f"write it as JSON, with strings in double quotes and true/false/null: {fix}" \
        in refused.stderr
    done = typed(tmp_path, "grid.py", "run", "--grid", '{"lr": [0.1], "warm": true}')
    assert done.returncode == 0, done.stderr
    assert "grid {'lr': [0.1], 'warm': True}" in done.stdout
    assert flow.is_file()


# ------------------------------------------- run.data of an artifact only an earlier step has


def test_run_data_of_an_artifact_the_join_did_not_keep_names_the_step_that_has_it(tagged):
    said = _read(tagged, "Run('TagFlow/1').data.labels")
    assert "artifact 'labels' not found in task TagFlow/1/end/" in said
    assert "step 'start' of this run has it: Run('TagFlow/1')['start'].task.data.labels" in said
    assert "merge_artifacts(inputs)" in said
    # The expression it names reads the value; hasattr stays a plain False.
    assert _read(tagged, "Run('TagFlow/1')['start'].task.data.labels").strip() == \
        "['red', 'green']"
    assert _read(tagged, "hasattr(Run('TagFlow/1').data, 'labels')").strip() == "False"
    # A name no step has gets no such clause.
    said = _read(tagged, "Run('TagFlow/1').data.nothing_like_it")
    assert "not found" in said and "of this run has it" not in said


# ------------------------------------------------------- an IncludeFile opened as a path

CSVFLOW = '''
from headwater import FlowSpec, IncludeFile, step


class CsvFlow(FlowSpec):
    table = IncludeFile("table", default="data.csv")

    @step
    def start(self):
        with open(self.table) as handle:
            self.rows = handle.read().splitlines()[1:]
        self.next(self.end)

    @step
    def end(self):
        print("rows", self.rows)


if __name__ == "__main__":
    CsvFlow()
'''


def test_an_include_file_opened_as_a_path_says_it_holds_the_contents(tmp_path):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n3,4\n")
    flow = write_flow(tmp_path, "csvflow.py", CSVFLOW)
    failed = typed(tmp_path, "csvflow.py", "run")
    assert failed.returncode == 1
    said = failed.stdout + failed.stderr
    assert "FileNotFoundError" in said
    assert "note: self.table is the contents of the file IncludeFile 'table' read at launch, " \
        "not its path" in said
    assert "io.StringIO(self.table)" in said
    flow.write_text(CSVFLOW.replace("with open(self.table) as handle:",
                                    "with io.StringIO(self.table) as handle:")
                    .replace("from headwater", "import io\nfrom headwater"))
    done = typed(tmp_path, "csvflow.py", "run")
    assert done.returncode == 0, done.stderr
    assert "rows ['1,2', '3,4']" in done.stdout


def test_another_missing_file_gets_no_include_file_note(tmp_path):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    write_flow(tmp_path, "csvflow.py", CSVFLOW.replace("open(self.table)", "open('nope.csv')"))
    failed = typed(tmp_path, "csvflow.py", "run")
    assert failed.returncode == 1
    assert "No such file or directory: 'nope.csv'" in failed.stdout + failed.stderr
    assert "is the contents of the file" not in failed.stdout + failed.stderr


# ------------------------------------------- a flow module run by its path from the root


def test_a_flow_never_started_names_the_headwater_run_line_from_the_working_folder(tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    write_flow(flows, "base.py", FLOW.replace('\n\nif __name__ == "__main__":\n    HelloFlow()\n',
                                              "\n"))
    said = typed(tmp_path, "flows/base.py", "run")
    assert "base.py defines the flow HelloFlow but never starts it" in said.stderr
    assert "headwater run flows/base.py [options]" in said.stderr
    # The line it names runs the flow, from the same folder.
    done = subprocess.run([sys.executable, "-m", "headwater", "run", "flows/base.py"],
                          cwd=tmp_path, env=hermetic_env(), capture_output=True, text=True,
                          timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    assert "Run HelloFlow/1 succeeded" in done.stdout + done.stderr


# ------------------------------------------------ a local variable where self.x was meant

LOCAL = '''
from headwater import FlowSpec, step


class ScoreFlow(FlowSpec):
    @step
    def start(self):
        self.lrs = [0.1, 0.2]
        self.next(self.train, foreach="lrs")

    @step
    def train(self):
        score = 1 - self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best = max(i.score for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("best", self.best)


if __name__ == "__main__":
    ScoreFlow()
'''


def test_a_local_variable_read_as_an_artifact_names_the_step_and_line_that_set_it(tmp_path):
    flow = write_flow(tmp_path, "score.py", LOCAL)
    failed = typed(tmp_path, "score.py", "run")
    assert failed.returncode == 1
    said = failed.stdout + failed.stderr
    assert "input from step 'train' (task 2) has no artifact 'score'" in said
    line = line_of(flow, "score = 1 - self.input")
    assert f"note: step 'train' assigns score only as a local variable (line {line}), which " \
        "is not stored" in said
    assert "Write self.score = ... there" in said
    flow.write_text(LOCAL.replace("        score = 1", "        self.score = 1"))
    done = typed(tmp_path, "score.py", "run")
    assert done.returncode == 0, done.stderr
    assert "best 0.9" in done.stdout


def test_a_misspelt_artifact_no_step_binds_gets_no_local_variable_note(tmp_path):
    write_flow(tmp_path, "score.py", LOCAL.replace("        score = 1", "        self.score = 1")
               .replace("print(\"best\", self.best)", "print(\"best\", self.bets)"))
    failed = typed(tmp_path, "score.py", "run")
    said = failed.stdout + failed.stderr
    assert "no artifact or attribute 'bets'" in said and "did you mean self.best?" in said
    assert "only as a local variable" not in said


# ------------------------------------------------------ a parameter written as name=value


@pytest.mark.parametrize("argv, option", [
    (["epochs=3"], "--epochs 3"),
    (["epochs", "3"], "--epochs 3"),
    (["grid={\"lr\": [0.1]}"], "--grid '{\"lr\": [0.1]}'"),
])
def test_a_parameter_written_without_dashes_names_the_option(tmp_path, argv, option):
    write_flow(tmp_path, "grid.py", JSONFLOW.replace("default=grid)", "default='{}')")
               .replace('    grid = Parameter(', '    epochs = Parameter("epochs", default=1)\n'
                        '    grid = Parameter('))
    refused = typed(tmp_path, "grid.py", "run", *argv)
    assert refused.returncode == 2
    assert f"options, the flow's parameters included, take two dashes: {option}" \
        in refused.stderr
    if argv[0].startswith("grid"):  # the line it names runs
        done = typed(tmp_path, "grid.py", "run", "--grid", '{"lr": [0.1]}')
        assert done.returncode == 0, done.stderr
        assert "grid {'lr': [0.1]}" in done.stdout


def test_an_extra_word_naming_no_option_keeps_clicks_answer(tmp_path):
    write_flow(tmp_path, "grid.py", JSONFLOW.replace("default=grid)", "default='{}')"))
    refused = typed(tmp_path, "grid.py", "run", "foo")
    assert refused.returncode == 2
    assert "Got unexpected extra argument (foo)" in refused.stderr
    assert "two dashes" not in refused.stderr


# ----------------------------------------------------- --config given without the config's name

CONFIGFLOW = '''
from headwater import Config, FlowSpec, step


class CfgFlow(FlowSpec):
    config = Config("config", default="config.json")

    @step
    def start(self):
        print("lr", self.config.lr)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CfgFlow()
'''


def test_config_given_only_a_file_before_run_names_the_config_instead_of_doing_nothing(
        tmp_path):
    write_flow(tmp_path, "cfg.py", CONFIGFLOW)
    (tmp_path / "config.json").write_text('{"lr": 0.1}')
    (tmp_path / "prod.json").write_text('{"lr": 0.5}')
    refused = typed(tmp_path, "cfg.py", "--config", "prod.json", "run")
    assert refused.returncode == 2  # before: exit 0, the flow checked, nothing run
    assert "--config takes two values, the config's name and its file, so it read 'run' as " \
        "its file and no command was left to run" in refused.stderr
    assert "python cfg.py --config config prod.json run (the flow's configs: config)" \
        in refused.stderr
    done = typed(tmp_path, "cfg.py", "--config", "config", "prod.json", "run")
    assert done.returncode == 0, done.stderr
    assert "lr 0.5" in done.stdout


def test_config_value_typed_as_python_names_its_json(tmp_path):
    write_flow(tmp_path, "cfg.py", CONFIGFLOW)
    (tmp_path / "config.json").write_text('{"lr": 0.1}')
    refused = typed(tmp_path, "cfg.py", "--config-value", "config", "{'lr': 0.2}", "run")
    assert refused.returncode != 0
    assert "config 'config' (--config-value config) is not valid JSON" in refused.stderr
    assert 'write it as JSON, with strings in double quotes and true/false/null: {"lr": 0.2}' \
        in refused.stderr
    done = typed(tmp_path, "cfg.py", "--config-value", "config", '{"lr": 0.2}', "run")
    assert done.returncode == 0, done.stderr
    assert "lr 0.2" in done.stdout


# ------------------------------------------------------------ a foreach over a DataFrame

FRAME = '''
import pandas as pd

from headwater import FlowSpec, step


class FrameFlow(FlowSpec):
    @step
    def start(self):
        self.grid = pd.DataFrame({"lr": [0.1, 0.2, 0.3], "depth": [1, 2, 3]})
        self.next(self.train, foreach="grid")

    @step
    def train(self):
        print("item", self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FrameFlow()
'''


def test_a_foreach_over_a_dataframe_says_it_iterates_columns_and_names_the_rows(tmp_path):
    flow = write_flow(tmp_path, "frame.py", FRAME)
    done = typed(tmp_path, "frame.py", "run")
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "Foreach yields 2 child steps." in said  # the columns, as `for x in df` gives
    assert "foreach='grid' iterates a DataFrame, which gives its column names (lr, depth)" \
        in said
    assert "self.rows = self.grid.to_dict('records') and foreach='rows'" in said
    flow.write_text(FRAME.replace('self.next(self.train, foreach="grid")',
                                  "self.rows = self.grid.to_dict('records')\n"
                                  '        self.next(self.train, foreach="rows")'))
    fixed = typed(tmp_path, "frame.py", "run")
    said = fixed.stdout + fixed.stderr
    assert fixed.returncode == 0, said
    assert "Foreach yields 3 child steps." in said
    assert "item {'lr': 0.2, 'depth': 2}" in said
    assert "iterates a DataFrame" not in said


def test_a_teammates_flow_names_the_namespace_its_runs_are_in(tagged):
    code = ("from headwater import Flow, namespace\ntry:\n    Flow('TagFlow').latest_run\n"
            "except Exception as exc:\n    print(exc)\n"
            "namespace('user:tester')\nprint(Flow('TagFlow').latest_run.pathspec)\n")
    said = typed(tagged, "-c", code, HEADWATER_USER="bob").stdout
    assert "flow 'TagFlow' exists but has no runs in the current namespace 'user:bob'; its " \
        "latest runs are in user:tester" in said
    assert "call namespace('user:tester') to read those" in said
    assert said.rstrip().endswith("TagFlow/1")


# ------------------------------------- headwater logs PATHSPEC, Runner('sweep') from above


def test_headwater_logs_of_a_pathspec_without_the_file_names_the_file_that_defines_it(tagged):
    said = typed(tagged, "-m", "headwater", "logs", "TagFlow/1/start")
    assert said.returncode == 2
    assert "did you mean `headwater logs tags.py TagFlow/1/start`?" in said.stderr
    done = typed(tagged, "-m", "headwater", "logs", "tags.py", "TagFlow/1/each")
    assert done.returncode == 0, done.stderr
    assert "item 'red'" in done.stdout


def test_a_runner_given_a_flow_file_it_cannot_find_names_the_one_meant(tagged, tmp_path):
    above = tmp_path  # a notebook's folder, with the project one level below
    (above / tagged.name).mkdir()
    (above / tagged.name / "tags.py").write_text((tagged / "tags.py").read_text())
    code = ("from headwater import Deployer, Runner\n"
            "for make, args, kw in ((Runner, ('tags',), {}), (Runner, ('tags.py',), {}),\n"
            f"                      (Runner, ('tags.py',), {{'cwd': {tagged.name!r}}}),\n"
            "                      (Deployer, ('tags.py',), {})):\n"
            "    try:\n        make(*args, **kw)\n"
            "    except Exception as exc:\n        print(exc)\n")
    said = typed(above, "-c", code).stdout
    inside = f"{tagged.name}/tags.py"
    assert f"flow file 'tags' does not exist; did you mean Runner({inside!r})?" in said
    assert f"flow file 'tags.py' does not exist; did you mean Runner({inside!r})?" in said
    assert f"it is in cwd={tagged.name!r}, but the flow file is read from this process's " \
        f"folder ({above}): give Runner({inside!r}, cwd=...)" in said
    assert f"did you mean Deployer({inside!r})?" in said
    ran = typed(above, "-c", "from headwater import Runner\n"
                f"with Runner({inside!r}, cwd={tagged.name!r}, show_output=False).run() as r:\n"
                "    print(r.status, r.run.pathspec)\n")
    assert ran.stdout.strip() == "successful TagFlow/1", ran.stderr


# ------------------------------------------------- the flow called as a function with parameters


def test_a_flow_called_with_parameters_names_the_runner_and_the_command_line(tmp_path):
    write_flow(tmp_path, "grid.py", JSONFLOW.replace("default=grid)", "default='{}')"))
    code = ("from grid import GridFlow\ntry:\n    GridFlow(grid={'lr': [0.5]})\n"
            "except TypeError as exc:\n    print(exc)\n")
    said = typed(tmp_path, "-c", code).stdout
    assert "GridFlow() takes no parameters (grid={'lr': [0.5]}): a flow is not called like a " \
        "function" in said
    assert "Runner('grid.py').run(grid={'lr': [0.5]})" in said
    assert "NBRunner(GridFlow).nbrun(grid={'lr': [0.5]})" in said
    line = "python grid.py run --grid '{\"lr\": [0.5]}'"
    assert line in said
    # Both ways it names run.
    ran = typed(tmp_path, "-c", "from headwater import Runner\n"
                "with Runner('grid.py', show_output=False).run(grid={'lr': [0.5]}) as r:\n"
                "    print(r.status)\n")
    assert ran.stdout.strip() == "successful", ran.stderr
    done = subprocess.run(line.replace("python", shlex.quote(sys.executable), 1), shell=True,
                          cwd=tmp_path, env=hermetic_env(),
                          capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    assert "grid {'lr': [0.5]}" in done.stdout
