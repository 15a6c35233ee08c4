"""What tripped a new user (fifth pass): typos read back from past runs, a config key the flow
reads but the file lacks, ``dump --include`` of a name no task has.

Each test makes real runs of a small flow written the way a data scientist writes one, then
checks that the error names what was asked, what exists and the fix, with no frame of
headwater's own code.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from headwater import Flow, Run
from headwater.exceptions import ConfigError, NotFoundError

from .faultkit import client, hw, no_headwater_traceback

BRANCHES = textwrap.dedent('''
    from headwater import FlowSpec, step


    class ScoresFlow(FlowSpec):
        @step
        def start(self):
            self.base = 10
            self.next(self.a, self.b)

        @step
        def a(self):
            self.score = 1
            self.next(self.join)

        @step
        def b(self):
            self.score = 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.best = max(i.score for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            self.summary = f"best {self.best}"
            raise ValueError("the end step failed on purpose")
            self.report = "never set"


    if __name__ == "__main__":
        ScoresFlow()
''')


@pytest.fixture
def failed_run(tmp_path):
    """One run of ScoresFlow (its end step raises), the client pointed at it."""
    flow = tmp_path / "scores.py"
    flow.write_text(BRANCHES)
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    client(tmp_path)
    return flow


def test_a_mistyped_step_or_artifact_in_the_client_gets_the_close_name(failed_run):
    run = Run("ScoresFlow/1")
    with pytest.raises(KeyError, match=r"has steps .*; did you mean 'join'\?"):
        run["jion"]
    with pytest.raises(KeyError, match=r"it has base, name, score; did you mean 'score'\?"):
        run["a"].task["scor"]
    with pytest.raises(AttributeError, match=r"did you mean 'best'\?"):
        _ = run["join"].task.data.bset
    with pytest.raises(NotFoundError, match=r"did you mean 'ScoresFlow'\?"):
        Flow("ScoreFlow")
    # no close name, no guess
    with pytest.raises(KeyError) as caught:
        run["a"].task["zzz"]
    assert "did you mean" not in str(caught.value)


def test_an_artifact_of_a_failed_task_says_the_task_failed(failed_run):
    # run.data is the end task's: it failed before setting 'report' (what it set before raising
    # is kept, as Metaflow keeps it); the message says so rather than leaving the user to
    # wonder where 'report' went.
    assert Run("ScoresFlow/1").data.summary == "best 2"
    with pytest.raises(AttributeError) as caught:
        _ = Run("ScoresFlow/1").data.report
    message = str(caught.value)
    assert "artifact 'report' not found in task ScoresFlow/1/end/" in message
    assert "that task failed, and a failed task keeps only what it set before it raised" in message
    assert "task.exception" in message
    # a task that succeeded says nothing of the kind
    with pytest.raises(AttributeError) as caught:
        _ = Run("ScoresFlow/1")["a"].task.data.report
    assert "failed" not in str(caught.value)


def test_logs_and_dump_of_a_mistyped_step_name_the_close_step(failed_run, tmp_path):
    for command in ("logs", "dump"):
        proc = hw(failed_run, command, "1/strat", cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "step 'ScoresFlow/1/strat' not found" in proc.stderr
        assert "did you mean 'start'?" in proc.stderr
        assert no_headwater_traceback(proc.stdout + proc.stderr)


def test_dump_include_of_a_name_no_task_has_says_so(failed_run, tmp_path):
    proc = hw(failed_run, "dump", "1/a", "--include", "scor,base", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "base" in proc.stdout  # the name that exists is shown as before
    assert ("Note: --include scor: no artifact of that name in ScoresFlow/1/a/2; "
            "did you mean 'score'?") in proc.stderr
    assert "--include base" not in proc.stderr
    # the same with --file, which prints nothing else
    out = tmp_path / "dump.pkl"
    proc = hw(failed_run, "dump", "1/a", "--include", "scor", "--file", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--include scor: no artifact of that name" in proc.stderr
    # a name every task has: no note
    proc = hw(failed_run, "dump", "1/a", "--include", "score", cwd=tmp_path)
    assert "Note:" not in proc.stderr


CONFIGURED = textwrap.dedent('''
    from headwater import Config, FlowSpec, Parameter, config_expr, resources, step


    class TunedFlow(FlowSpec):
        config = Config("config", default="config.json")
        lr = Parameter("lr", default=config.model.lr)
        depth = Parameter("depth", default=config_expr("config.model.depth"))

        @resources(cpu=config.cpu)
        @step
        def start(self):
            print("lr", self.lr, "depth", self.depth)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        TunedFlow()
''')


@pytest.mark.parametrize(("config", "phrases"), [
    # config.model.lr read by a parameter's default, missing from the file
    ({"model": {"depth": 3, "lrs": 0.1}, "cpu": 1},
     ["the default of parameter 'lr': config['model'] has no key 'lr' (its keys: depth, lrs)",
      "did you mean 'lrs'?"]),
    # config.cpu read by @resources of start
    ({"model": {"depth": 3, "lr": 0.1}},
     ["@resources of step 'start': config 'config' has no key 'cpu' (its keys: model)"]),
    # a string config_expr: the key the ConfigValue lacks, and the fix
    ({"model": {"lr": 0.1}, "cpu": 1},
     ["the default of parameter 'depth': config_expr('config.model.depth') failed",
      "config has no key 'depth' (its keys: lr)",
      "fix: add the key to the config"]),
])
def test_a_config_key_the_flow_reads_but_the_file_lacks(tmp_path, config, phrases):
    flow = tmp_path / "tuned.py"
    flow.write_text(CONFIGURED)
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Invalid configuration:" in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr
    assert "fix:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert no_headwater_traceback(proc.stdout + proc.stderr)


def test_a_complete_config_still_runs(tmp_path):
    flow = tmp_path / "tuned.py"
    flow.write_text(CONFIGURED)
    (tmp_path / "config.json").write_text(json.dumps({"model": {"lr": 0.1, "depth": 3}, "cpu": 1}))
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lr 0.1 depth 3" in proc.stdout


def test_config_path_errors_are_config_errors():
    """The unit of it: a path into a config value names where it stopped."""
    from headwater.flow.config import ConfigPath, ConfigValue

    configs = {"settings": ConfigValue({"train": {"epochs": 3}})}
    assert ConfigPath("settings", ("train", "epochs")).evaluate(configs) == 3
    with pytest.raises(ConfigError, match=r"settings\['train'\] has no key 'epoch' "
                                          r"\(its keys: epochs\); did you mean 'epochs'\?"):
        ConfigPath("settings", ("train", "epoch")).evaluate(configs)
    with pytest.raises(ConfigError, match=r"settings\['train'\]\['epochs'\] is of type int"):
        ConfigPath("settings", ("train", "epochs", "x")).evaluate(configs)


FOREACH_TYPO = textwrap.dedent('''
    from headwater import FlowSpec, card, step


    class FanFlow(FlowSpec):
        @card
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.each, foreach="itmes")

        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FanFlow()
''')


def test_a_foreach_over_a_misspelt_artifact_names_the_close_one(tmp_path):
    flow = tmp_path / "fan.py"
    flow.write_text(FOREACH_TYPO)
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert ("foreach over 'itmes', but self.itmes was never set; did you mean self.items?"
            in out), out
    assert "fix: set self.itmes to a list before self.next()" in out
    assert no_headwater_traceback(out)

    # resume from a misspelt step: the close step, and the steps to choose from
    proc = hw(flow, "resume", "eahc", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "flow FanFlow has no step 'eahc' to resume from; did you mean 'each'?" in proc.stderr
    assert "fix: give resume one of its steps: start, each, join, end" in proc.stderr
    # and spin of a misspelt step
    proc = hw(flow, "spin", "strat", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "flow FanFlow has no step 'strat' in its current code; did you mean 'start'?" in \
        proc.stderr

    # a card asked for by a type the task has none of: the fix names the cards it has,
    # not "add @card" to a step that already has one
    proc = hw(flow, "card", "get", "1/start/1", str(tmp_path / "c.html"), "--type", "blank",
              cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "task FanFlow/1/start/1 has no card with type='blank'" in proc.stderr
    assert "fix: it has 1 card(s): type='default'; ask for one of those" in proc.stderr
    assert no_headwater_traceback(proc.stdout + proc.stderr)


SMALL = textwrap.dedent('''
    from headwater import FlowSpec, step


    class SmallFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SmallFlow()
''')


def test_deploying_with_the_embedded_defaults_notes_the_pods_cannot_reach_them(tmp_path):
    """A first `argo-workflows create` made with the defaults (a .headwater folder, its SQLite
    file) compiled tasks pointed at paths of this machine, silently."""
    flow = tmp_path / "small.py"
    flow.write_text(SMALL)
    store = tmp_path / ".headwater"
    proc = hw(flow, "argo-workflows", "create", "--only-json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)  # the manifest is still printed, whole
    note = [line for line in proc.stderr.splitlines() if line.startswith("Note: the datastore")]
    assert len(note) == 1, proc.stderr
    assert f"the datastore is the folder {store}" in note[0]
    assert f"the metadata is the file {store / 'meta.sqlite'}" in note[0]
    assert "the pods reach them only where the same path is mounted" in note[0]
    assert "--datastore-root s3://BUCKET/PREFIX --metadata postgresql://USER@HOST/DB" in note[0]

    dags = tmp_path / "dags"
    dags.mkdir()
    proc = hw(flow, "airflow", "create", str(dags / "pods.py"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "the pods of KubernetesPodOperator reach them only where" in proc.stderr
    # the local operator runs the tasks beside Airflow, on this machine: nothing to say
    proc = hw(flow, "airflow", "create", str(dags / "local.py"), "--operator", "local",
              cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Note:" not in proc.stderr


def test_an_s3_root_without_s3fs_names_the_extra_to_install(tmp_path):
    """`pip install headwater` then `--datastore-root s3://...` (as the README's scale-out
    section shows): the fix names headwater's extra, as it already did for gs:// and az://."""
    flow = tmp_path / "small.py"
    flow.write_text(SMALL)
    # an s3fs that is not there: its import fails as a missing package's does
    blocked = tmp_path / "blocked"
    (blocked / "s3fs").mkdir(parents=True)
    (blocked / "s3fs" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 's3fs'\", name='s3fs')\n")
    proc = hw(flow, "--datastore-root", "s3://some-bucket/hw", "run", cwd=tmp_path,
              PYTHONPATH=str(blocked))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "the datastore root s3://some-bucket/hw needs a driver that is not installed" in \
        proc.stderr
    assert "fix: pip install 'headwater[s3]'" in proc.stderr
    assert no_headwater_traceback(proc.stdout + proc.stderr)


@pytest.mark.parametrize(("source", "phrases"), [
    (SMALL + SMALL.replace("SmallFlow", "OtherFlow"),
     ["found: SmallFlow, OtherFlow", "fix: move each flow to a file of its own"]),
    ("rows = [1, 2]\n",
     ["found: none", "fix: define a class that subclasses FlowSpec"]),
])
def test_headwater_run_of_a_file_without_exactly_one_flow_says_what_to_do(tmp_path, source,
                                                                           phrases):
    import subprocess
    import sys

    from .faultkit import env_for

    (tmp_path / "flows.py").write_text(source)
    proc = subprocess.run([sys.executable, "-m", "headwater", "run", "flows.py"], cwd=tmp_path,
                          env=env_for(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "flows.py must define exactly one flow (a FlowSpec subclass)" in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr
    assert no_headwater_traceback(proc.stdout + proc.stderr)


WAITING = textwrap.dedent('''
    import threading

    from headwater import FlowSpec, step


    class WaitingFlow(FlowSpec):
        @step
        def start(self):
            print("READY", flush=True)
            threading.Event().wait()  # until the run is stopped
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        WaitingFlow()
''')


def test_an_interrupted_run_names_the_resume_command(tmp_path):
    """Ctrl-C ended with "recorded as failed" and nothing about what to do; a failed run
    already named `resume` on the line before its closing one."""
    import signal

    from .faultkit import LiveRun

    flow = tmp_path / "waiting.py"
    flow.write_text(WAITING)
    live = LiveRun(flow, "run", cwd=tmp_path)
    try:
        live.wait_for("READY")
        live.signal(signal.SIGINT)
        assert live.finish() == 130, live.output + live.stderr
    finally:
        live.kill()
    lines = live.output.splitlines()
    assert lines[-1] == "Run WaitingFlow/1 was interrupted and is recorded as failed.", lines
    assert lines[-2] == ("`python waiting.py resume` goes on from where it stopped, reusing "
                         "what succeeded."), lines


def test_the_runner_given_a_misspelt_parameter_names_the_close_one(tmp_path, monkeypatch):
    from headwater import Runner
    from headwater.runner.executing import RunnerArgumentValueError

    flow = tmp_path / "epochs.py"
    flow.write_text(textwrap.dedent('''
        from headwater import FlowSpec, Parameter, step


        class EpochsFlow(FlowSpec):
            epochs = Parameter("epochs", default=10)

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass


        if __name__ == "__main__":
            EpochsFlow()
    '''))
    monkeypatch.chdir(tmp_path)
    with Runner(str(flow), show_output=False) as runner:
        with pytest.raises(RunnerArgumentValueError) as caught:
            runner.run(epoch=3)
    message = str(caught.value)
    assert "given 'epoch', which is not a parameter of EpochsFlow; did you mean 'epochs'?" in \
        message


def test_a_decimal_for_a_parameter_whose_integer_default_made_it_an_integer(tmp_path):
    flow = tmp_path / "epochs.py"
    flow.write_text(textwrap.dedent('''
        from headwater import FlowSpec, Parameter, step


        class EpochsFlow(FlowSpec):
            epochs = Parameter("epochs", default=10)
            steps = Parameter("steps", default=10, type=int)

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass


        if __name__ == "__main__":
            EpochsFlow()
    '''))
    proc = hw(flow, "run", "--epochs", "0.5", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "parameter 'epochs' expects an integer; got '0.5'" in proc.stderr
    assert ("the parameter is an integer because its default is 10: declare "
            "Parameter('epochs', type=float, ...) to take decimals") in proc.stderr
    # declared int on purpose, or not a number at all: the plain fix
    for args in (["--steps", "0.5"], ["--epochs", "ten"]):
        proc = hw(flow, "run", *args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "fix: pass e.g." in proc.stderr
        assert "because its default" not in proc.stderr


def test_headwater_run_of_a_flow_file_named_like_the_package_it_imports(tmp_path):
    """`headwater run metaflow.py` failed inside the file's own import with Python's "partially
    initialized module 'metaflow'" error."""
    import subprocess
    import sys

    from .faultkit import env_for

    (tmp_path / "metaflow.py").write_text(SMALL.replace("from headwater import",
                                                        "from metaflow import"))
    proc = subprocess.run([sys.executable, "-m", "headwater", "run", "metaflow.py"],
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("flow file 'metaflow.py' is named like the package 'metaflow' it imports"
            in proc.stderr), proc.stderr
    assert "fix: rename the file, e.g. to metaflow_flow.py" in proc.stderr
    assert "partially initialized" not in proc.stderr
    # renamed, it runs
    (tmp_path / "metaflow.py").rename(tmp_path / "metaflow_flow.py")
    proc = subprocess.run([sys.executable, "-m", "headwater", "run", "metaflow_flow.py"],
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_logs_and_dump_of_a_foreach_step_list_its_tasks_in_item_order(tmp_path):
    """`logs 1/each` printed the last item's output first (the client lists newest first)."""
    flow = tmp_path / "items.py"
    flow.write_text(textwrap.dedent('''
        from headwater import FlowSpec, step


        class ItemsFlow(FlowSpec):
            @step
            def start(self):
                self.items = list(range(12))  # task ids past 9: ordered as numbers, not text
                self.next(self.each, foreach="items")

            @step
            def each(self):
                print("item", self.input)
                self.item = self.input
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass


        if __name__ == "__main__":
            ItemsFlow()
    '''))
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    proc = hw(flow, "logs", "1/each", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"item {i}" for i in range(12)]
    proc = hw(flow, "dump", "1/each", "--include", "item", cwd=tmp_path)
    values = [line.rsplit(" ", 1)[-1] for line in proc.stdout.splitlines()
              if line.strip().startswith("item ")]
    assert values == [str(i) for i in range(12)], proc.stdout


def test_resume_after_renaming_the_step_that_failed(tmp_path):
    """The first fix a newcomer makes may rename the failed step (`train` -> `fit`). Resume
    cloned `start`, whose record goes to `train`, and stopped with a KeyError traceback of the
    scheduler. `start` changed (its self.next), so it runs again, and the run succeeds."""
    flow = tmp_path / "rename.py"
    source = textwrap.dedent('''
        from headwater import FlowSpec, step


        class RenameFlow(FlowSpec):
            @step
            def start(self):
                self.x = 1
                self.next(self.train)

            @step
            def train(self):
                raise ValueError("a bug to fix")
                self.next(self.end)

            @step
            def end(self):
                print("x is", self.x)


        if __name__ == "__main__":
            RenameFlow()
    ''')
    flow.write_text(source)
    assert hw(flow, "run", cwd=tmp_path).returncode == 1
    flow.write_text(source.replace("self.train", "self.fit").replace("def train", "def fit")
                    .replace('raise ValueError("a bug to fix")', "pass"))
    proc = hw(flow, "resume", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "KeyError" not in out and no_headwater_traceback(out)
    assert "Done! Run RenameFlow/2 succeeded." in proc.stdout
    assert "x is 1" in proc.stdout
    client(tmp_path)
    run = Run("RenameFlow/2")
    assert run.successful
    assert run["start"].task.origin_pathspec is None  # ran again: its transition changed
    assert sorted(step.id for step in run) == ["end", "fit", "start"]


def test_resume_of_an_unchanged_flow_still_clones_what_succeeded(tmp_path):
    """The other side of the rule above: nothing changed but the failing line, so start and
    each foreach item that succeeded are clones."""
    flow = tmp_path / "fixed.py"
    source = textwrap.dedent('''
        import os

        from headwater import FlowSpec, step


        class FixedFlow(FlowSpec):
            @step
            def start(self):
                self.items = [1, 2, 3]
                self.next(self.each, foreach="items")

            @step
            def each(self):
                if self.input == 2 and os.environ.get("BREAK"):
                    raise ValueError("item 2")
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass


        if __name__ == "__main__":
            FixedFlow()
    ''')
    flow.write_text(source)
    assert hw(flow, "run", cwd=tmp_path, BREAK="1").returncode == 1
    proc = hw(flow, "resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(tmp_path)
    run = Run("FixedFlow/2")
    assert run["start"].task.origin_pathspec == "FixedFlow/1/start/1"
    cloned = [t for t in run["each"] if t.origin_pathspec is not None]
    assert len(cloned) == 2  # the items that succeeded; item 2 ran again


def test_reading_a_value_of_a_class_defined_in_the_flow_file(tmp_path):
    """A dataclass defined in the flow file, read back from a notebook: pickle's "Can't get
    attribute 'Model' on <module '__main__'>" now comes with the fix, and the fix works."""
    import subprocess
    import sys

    from .faultkit import env_for

    flow = tmp_path / "model_flow.py"
    flow.write_text(textwrap.dedent('''
        from dataclasses import dataclass

        from headwater import FlowSpec, step


        @dataclass
        class Model:
            w: float


        class ModelFlow(FlowSpec):
            @step
            def start(self):
                self.model = Model(0.5)
                self.next(self.end)

            @step
            def end(self):
                pass


        if __name__ == "__main__":
            ModelFlow()
    '''))
    assert hw(flow, "run", cwd=tmp_path).returncode == 0

    def read(prelude: str) -> subprocess.CompletedProcess:
        script = prelude + "from headwater import Flow\nprint(Flow('ModelFlow').latest_run.data.model)\n"
        return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env_for(tmp_path),
                              capture_output=True, text=True, timeout=300)

    proc = read("")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot load artifact 'model'" in proc.stderr
    assert ("fix: Model is a class defined in the flow's own file (the flow ran as __main__): "
            "import it into this script or notebook first (from <flow file> import Model)"
            in proc.stderr), proc.stderr
    proc = read("from model_flow import Model\n")  # what the fix says
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Model(w=0.5)"
