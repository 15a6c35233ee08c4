"""Patterns met in public flows written for Metaflow (the wild-flows round), each reduced to
the smallest flow that shows it. Every flow imports ``metaflow`` and runs through
``headwater run`` in its own process, with the real package behind a tripwire."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

_MULTIPLE_FLOW = """
    from metaflow import FlowSpec, Parameter, step


    class RepeatFlow(FlowSpec):
        counts = Parameter("count", type=int, multiple=True)
        sizes = Parameter("size", default=[3, 4], multiple=True)
        one = Parameter("one", default=7, multiple=True)
        words = Parameter("word", multiple=True)

        @step
        def start(self):
            print("VALUES", repr(self.counts), repr(self.sizes), repr(self.one),
                  repr(self.words))
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        RepeatFlow()
"""


def _values(output: str) -> str:
    line = next(line for line in output.splitlines() if "VALUES" in line)
    return line.split("VALUES", 1)[1].strip()


def test_a_parameter_given_multiple_is_a_tuple_of_repeated_values(run_headwater, tmp_path: Path):
    """``Parameter(..., multiple=True)``: Metaflow hands the keyword to its click option, so
    ``--count 1 --count 2`` is ``(1, 2)``, each value converted by the parameter's type, and a
    parameter given no value (and no default) is ``()``."""
    (tmp_path / "repeat.py").write_text(textwrap.dedent(_MULTIPLE_FLOW))
    given = run_headwater("run", "repeat.py", "--count", "1", "--count", "2",
                          "--word", "a", "--word", "b c", "--size", "9")
    assert given.returncode == 0, given.stdout + given.stderr
    assert _values(given.stdout) == "(1, 2) (9,) (7,) ('a', 'b c')"

    defaults = run_headwater("run", "repeat.py")
    assert defaults.returncode == 0, defaults.stdout + defaults.stderr
    # a list default gives its values (their type too); a scalar default is one value
    assert _values(defaults.stdout) == "() (3, 4) (7,) ()"

    bad = run_headwater("run", "repeat.py", "--count", "1", "--count", "x")
    assert bad.returncode != 0
    assert "parameter 'count' expects an integer; got 'x'" in bad.stdout + bad.stderr

    from_env = run_headwater("run", "repeat.py", extra_env={"METAFLOW_RUN_COUNT": "5 6"})
    assert from_env.returncode == 0, from_env.stdout + from_env.stderr
    assert _values(from_env.stdout).startswith("(5, 6) ")


_ENVVAR_FLOW = """
    from metaflow import FlowSpec, Parameter, step


    class EnvVarFlow(FlowSpec):
        epochs = Parameter("epochs", envvar="TRAIN_EPOCHS", default=1, type=int)
        width = Parameter("width", envvar=["FIRST_WIDTH", "SECOND_WIDTH"], default=5)

        @step
        def start(self):
            print("VALUES", self.epochs, self.width)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        EnvVarFlow()
"""


def test_a_parameter_reads_the_variables_its_envvar_names(run_headwater, tmp_path: Path):
    """``Parameter(..., envvar="X")``: the option Metaflow builds reads ``X`` (or the first set
    of a list of names) before its ``METAFLOW_RUN_<NAME>``; the command line wins over both."""
    (tmp_path / "envvar.py").write_text(textwrap.dedent(_ENVVAR_FLOW))
    named = run_headwater("run", "envvar.py", extra_env={
        "TRAIN_EPOCHS": "4", "METAFLOW_RUN_EPOCHS": "5", "SECOND_WIDTH": "7"})
    assert named.returncode == 0, named.stdout + named.stderr
    assert _values(named.stdout) == "4 7"

    prefixed = run_headwater("run", "envvar.py", extra_env={"METAFLOW_RUN_EPOCHS": "5",
                                                            "FIRST_WIDTH": "8",
                                                            "SECOND_WIDTH": "7"})
    assert prefixed.returncode == 0, prefixed.stdout + prefixed.stderr
    assert _values(prefixed.stdout) == "5 8"

    given = run_headwater("run", "envvar.py", "--epochs", "9",
                          extra_env={"TRAIN_EPOCHS": "4"})
    assert given.returncode == 0, given.stdout + given.stderr
    assert _values(given.stdout) == "9 5"


_CATCH_SWITCH_FLOW = """
    from metaflow import FlowSpec, catch, step


    class CaughtSwitchFlow(FlowSpec):
        @catch(var="failure")
        @step
        def start(self):
            self.route = "left"
            self.next({"left": self.left, "right": self.right}, condition="route")

        @step
        def left(self):
            self.next(self.end)

        @step
        def right(self):
            self.next(self.end)

        @step
        def end(self):
            print("ran to the end")


    if __name__ == "__main__":
        CaughtSwitchFlow()
"""


def test_catch_on_a_switch_step_is_refused_before_the_run(run_headwater, tmp_path: Path):
    """Metaflow refuses ``@catch`` on a step that ends in a switch (a caught failure leaves no
    condition to pick a case by); headwater ran it and, on a failure, skipped every case."""
    (tmp_path / "caught_switch.py").write_text(textwrap.dedent(_CATCH_SWITCH_FLOW))
    refused = run_headwater("run", "caught_switch.py")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "step 'start' is a switch" in output and "@catch" in output
    assert "remove @catch from 'start'" in output
    assert "ran to the end" not in output
    listed = run_headwater("runs", "caught_switch.py")
    assert "CaughtSwitchFlow/1" not in listed.stdout  # nothing was recorded


_RUNNER_SCRIPT = """
    from headwater.compat import alias

    alias.install()
    from metaflow import Runner

    with Runner("repeat.py").run(count=[1, 2], word=("a", "b")) as running:
        data = running.run.data
        print("READ BACK", repr(data.counts), repr(data.words), repr(data.sizes))
"""


def test_the_runner_repeats_a_multiple_parameter_for_a_list(child_env, tmp_path: Path):
    """``Runner(...).run(count=[1, 2])`` for a ``multiple=True`` parameter gives ``(1, 2)``, as
    Metaflow's Runner repeats the option; the list is not one JSON value."""
    import os
    import subprocess
    import sys

    (tmp_path / "repeat.py").write_text(textwrap.dedent(_MULTIPLE_FLOW))
    (tmp_path / "drive.py").write_text(textwrap.dedent(_RUNNER_SCRIPT))
    done = subprocess.run([sys.executable, "drive.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **child_env})
    assert done.returncode == 0, done.stdout + done.stderr
    read = next(line for line in done.stdout.splitlines() if line.startswith("READ BACK"))
    assert read == "READ BACK (1, 2) ('a', 'b') (3, 4)"


_DAGNODE_FLOW = """
    from metaflow import FlowSpec, step
    from metaflow.graph import DAGNode


    class NodeTypeFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    print("VALUES", isinstance(NodeTypeFlow._graph["start"], DAGNode),
          NodeTypeFlow._graph["start"].type)

    if __name__ == "__main__":
        NodeTypeFlow()
"""


def test_metaflow_graph_serves_dagnode(run_headwater, tmp_path: Path):
    """``from metaflow.graph import DAGNode`` (a plug-in's import, for its type checks) is the
    class of ``MyFlow._graph[name]``."""
    (tmp_path / "node_type.py").write_text(textwrap.dedent(_DAGNODE_FLOW))
    shown = run_headwater("run", "node_type.py")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert _values(shown.stdout) == "True start"


# Round 2 (wildflows2): patterns met in a second set of public repositories.

_FANOUT_FLOW = """
    from metaflow import FlowSpec, step


    class FanOutFlow(FlowSpec):
        @step
        def start(self):
            self.items = ["a", "b", "c"]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.wide, num_parallel=2)

        @step
        def wide(self):
            self.next(self.gather)

        @step
        def gather(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FanOutFlow()
"""


def _task_texts(output: str, step: str) -> list[str]:
    """The console lines of ``step``'s tasks, without their time stamp and task prefix."""
    marker = f"/{step}/"
    return [line.split("] ", 1)[1] for line in output.splitlines()
            if marker in line and "] " in line]


def test_a_foreach_step_says_how_many_children_it_yields(run_headwater, tmp_path: Path):
    """Metaflow's runtime prints ``Foreach yields N child steps.`` just before a bounded
    foreach's parent finishes (every public flow with a foreach shows it); a ``num_parallel``
    fan-out is not counted there."""
    (tmp_path / "fan_out.py").write_text(textwrap.dedent(_FANOUT_FLOW))
    ran = run_headwater("run", "fan_out.py")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _task_texts(ran.stdout, "start")[-2:] == ["Foreach yields 3 child steps.",
                                                     "Task finished successfully."]
    assert "Foreach yields" not in ran.stdout.split("/join/", 1)[1]


_LINKED_FLOW = """
    from metaflow import FlowSpec, step

    from neighbour import WORD


    class LinkedFlow(FlowSpec):
        @step
        def start(self):
            print("VALUES", WORD)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        LinkedFlow()
"""


def test_a_linked_flow_imports_the_neighbours_of_the_file_it_points_to(run_headwater,
                                                                          tmp_path: Path):
    """A flow file that is a symbolic link into another folder imports the modules beside the
    file it points to, as ``python linked.py run`` does (Python puts the resolved folder on
    ``sys.path``): outerbounds/custom-decorator-examples links one flow into several folders."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "flow.py").write_text(textwrap.dedent(_LINKED_FLOW))
    (real / "neighbour.py").write_text("WORD = 'found'\n")
    (tmp_path / "linked.py").symlink_to(real / "flow.py")
    ran = run_headwater("run", "linked.py")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _values(ran.stdout) == "found"


_CONFIGURED_FLOW = """
    import os

    from metaflow import Config, FlowSpec, step


    class ConfiguredFlow(FlowSpec):
        config = Config("config", default_value={"limit": 1})

        @step
        def start(self):
            print("VALUES", self.config.limit)
            if os.path.exists("fail"):
                raise RuntimeError("asked to fail")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ConfiguredFlow()
"""


def test_resume_says_it_ignores_the_config_variables(run_headwater, tmp_path: Path):
    """outerbounds/config-examples passes configs in ``METAFLOW_FLOW_CONFIG_VALUE``; Metaflow
    refuses it with ``resume`` (as it refuses ``--config``), headwater resumes with the origin's
    configs and says that the variable is ignored, as it does for ``--config``."""
    (tmp_path / "configured.py").write_text(textwrap.dedent(_CONFIGURED_FLOW))
    (tmp_path / "fail").touch()
    given = {"METAFLOW_FLOW_CONFIG_VALUE": '{"config": {"limit": 5}}'}
    failed = run_headwater("run", "configured.py", extra_env=given)
    assert failed.returncode != 0
    assert _values(failed.stdout) == "5"
    (tmp_path / "fail").unlink()
    resumed = run_headwater("resume", "configured.py",
                            extra_env={"METAFLOW_FLOW_CONFIG_VALUE": '{"config": {"limit": 9}}'})
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ("Note: METAFLOW_FLOW_CONFIG_VALUE is ignored by resume: the configs of "
            "ConfiguredFlow/1 are used") in resumed.stdout
    assert _values(resumed.stdout) == "5"


_MUTATED_FLOW = """
    from metaflow import Config, FlowMutator, FlowSpec, step


    class everywhere(FlowMutator):
        def mutate(self, mutable_flow):
            for name, one_step in mutable_flow.steps:
                if name in mutable_flow.config.steps:
                    one_step.add_decorator("retry", deco_kwargs={"times": 1})


    @everywhere
    class MutatedFlow(FlowSpec):
        config = Config("config", default_value={"steps": ["end"]})

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        MutatedFlow()
"""


def test_show_lists_the_decorators_a_mutator_adds(run_headwater, tmp_path: Path):
    """Metaflow applies a flow's mutators before any command, so ``show`` lists the decorators
    they add (npow/metaflow-flyte's mutable flow adds ``@environment`` to its end step), with
    the configs given before the command."""
    (tmp_path / "mutated.py").write_text(textwrap.dedent(_MUTATED_FLOW))
    shown = run_headwater("show", "mutated.py")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.split() == ["Step", "start", "?", "=>", "end",
                                    "@retry", "Step", "end", "?"]
    both = run_headwater("--config-value", "config", '{"steps": ["start", "end"]}',
                         "show", "mutated.py")
    assert both.returncode == 0, both.stdout + both.stderr
    assert both.stdout.split() == ["@retry", "Step", "start", "?", "=>", "end",
                                   "@retry", "Step", "end", "?"]


_MEMBERSHIP_FLOW = """
    from metaflow import FlowMutator, FlowSpec, Parameter, current, project, step


    class named_by_user(FlowMutator):
        def pre_mutate(self, mutable_flow):
            from metaflow.util import get_username

            mutable_flow.add_parameter(
                "owner", Parameter("owner", default=str(get_username())), overwrite=True)


    @named_by_user
    @project(name="shop")
    class MembershipFlow(FlowSpec):
        @step
        def start(self):
            print("VALUES", "project_flow_name" in current, "card" in current,
                  current.get("branch_name").startswith("user."), current.get("nothing", "fallback"),
                  self.owner)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        MembershipFlow()
"""


def test_current_answers_in_and_get_and_util_names_the_user(run_headwater, tmp_path: Path):
    """A mutator from outerbounds/custom-decorator-examples asks ``"project_flow_name" in
    current`` and imports ``metaflow.util.get_username``: ``in`` is whether the fact is set,
    ``current.get`` reads one with a default, and the user is ``USERNAME`` unless it is root."""
    (tmp_path / "membership.py").write_text(textwrap.dedent(_MEMBERSHIP_FLOW))
    ran = run_headwater("run", "membership.py",
                        extra_env={"USERNAME": "alice", "USER": "root", "METAFLOW_USER": ""})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _values(ran.stdout) == "True False True fallback alice"


_OLD_LAYOUT_PLUGIN = """
    from metaflow.decorators import StepDecorator


    class AlarmDecorator(StepDecorator):
        name = "alarm"
        defaults = {"channel": None}

        def task_exception(self, exception, step_name, flow, graph, retry_count,
                           max_user_code_retries):
            print("VALUES", self.attributes["channel"], step_name, type(exception).__name__,
                  retry_count, flow.input)


    STEP_DECORATORS_DESC = [("alarm", ".AlarmDecorator")]
"""

_ALARMED_FLOW = """
    from metaflow import FlowSpec, alarm, step


    class AlarmedFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @alarm(channel="ops")
        @step
        def end(self):
            1 / 0


    if __name__ == "__main__":
        AlarmedFlow()
"""


def test_a_plugin_declared_in_the_plugins_init_is_served(run_headwater, tmp_path: Path):
    """t-chov/metaflow_slack_notifier declares its step decorator in
    ``metaflow_extensions/<org>/plugins/__init__.py`` (no ``mfextinit_*.py``), with the class
    path ``".SlackDecorator"``: Metaflow reads that layout too, so ``from metaflow import
    slack`` works and its ``task_exception`` hook runs when the step fails."""
    plugins = tmp_path / "metaflow_extensions" / "acme" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "__init__.py").write_text(textwrap.dedent(_OLD_LAYOUT_PLUGIN))
    (tmp_path / "alarmed.py").write_text(textwrap.dedent(_ALARMED_FLOW))
    ran = run_headwater("run", "alarmed.py")
    assert ran.returncode != 0
    assert _values(ran.stdout) == "ops end ZeroDivisionError 0 None", ran.stdout + ran.stderr


_WARNING_FLOW = """
    import warnings

    from {package} import FlowSpec, step


    class WarnFlow(FlowSpec):
        @step
        def start(self):
            warnings.warn("this API is going away", FutureWarning)
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                warnings.warn("recorded", UserWarning)
            print("VALUES", len(seen))
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        WarnFlow()
"""


def test_a_metaflow_flow_hides_python_warnings_as_metaflow_does(run_headwater, tmp_path: Path):
    """Metaflow ignores every Python warning in the processes that run steps, so public flows
    (mmuratarat/metaflow_tutorial's grid search) print none; headwater does the same for a flow
    written for Metaflow, keeps them for a flow that imports headwater, and shows them to anyone
    who sets ``PYTHONWARNINGS``. A step that records warnings itself still gets them."""
    (tmp_path / "warn_mf.py").write_text(textwrap.dedent(_WARNING_FLOW.format(package="metaflow")))
    (tmp_path / "warn_hw.py").write_text(textwrap.dedent(_WARNING_FLOW.format(package="headwater")))
    hidden = run_headwater("run", "warn_mf.py")
    assert hidden.returncode == 0, hidden.stdout + hidden.stderr
    assert "going away" not in hidden.stdout + hidden.stderr
    assert _values(hidden.stdout) == "1"
    asked = run_headwater("run", "warn_mf.py", extra_env={"PYTHONWARNINGS": "default"})
    assert "FutureWarning: this API is going away" in asked.stdout + asked.stderr
    native = run_headwater("run", "warn_hw.py")
    assert native.returncode == 0, native.stdout + native.stderr
    assert "FutureWarning: this API is going away" in native.stdout + native.stderr


_MODULE_FLOW = """
    from headwater import FlowSpec, step


    class ModuleFlow(FlowSpec):
        @step
        def start(self):
            raise ValueError("asked to fail")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ModuleFlow()
"""


def test_a_flow_run_as_a_module_is_told_to_resume_as_a_module(child_env, tmp_path: Path):
    """leoluyi/metaflow-demo runs its flows as ``python -m ml_pipeline.flows.train_flow run``
    (they import their package relatively); the hint after a failure names that command,
    where it named ``python train_flow.py``, which does not run from the project's root."""
    import os
    import subprocess
    import sys

    package = tmp_path / "pipeline"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "module_flow.py").write_text(textwrap.dedent(_MODULE_FLOW))
    env = {**os.environ, **child_env,
           "PYTHONPATH": os.pathsep.join([str(tmp_path), child_env["PYTHONPATH"]])}
    failed = subprocess.run([sys.executable, "-m", "pipeline.module_flow", "run"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert failed.returncode != 0
    assert "`python -m pipeline.module_flow resume` runs again what failed" in failed.stdout


_SETTINGS_FLOW = """
    from metaflow import FlowSpec, step


    def tracing():
        from metaflow.metaflow_config import KUBERNETES_NAMESPACE, OTEL_ENDPOINT, SERVICE_HEADERS
        return OTEL_ENDPOINT, KUBERNETES_NAMESPACE, SERVICE_HEADERS


    class SettingsFlow(FlowSpec):
        @step
        def start(self):
            print("VALUES", *map(repr, tracing()))
            self.next(self.end)

        @step
        def end(self):
            from metaflow.metaflow_config import NOT_A_SETTING  # noqa: F401


    if __name__ == "__main__":
        SettingsFlow()
"""


def test_metaflow_config_serves_the_settings_flows_check(run_headwater, tmp_path: Path):
    """xenonnn4w/metaflow-ga-testing's ``helloflow`` imports ``OTEL_ENDPOINT`` from
    ``metaflow.metaflow_config`` to see whether tracing is set up: served as Metaflow computes
    it from ``METAFLOW_OTEL_ENDPOINT`` (None when unset), like a few other such settings; a name
    headwater does not serve is still an ImportError."""
    (tmp_path / "settings.py").write_text(textwrap.dedent(_SETTINGS_FLOW))
    unset = run_headwater("run", "settings.py")
    assert _values(unset.stdout) == "None 'default' {}"
    assert unset.returncode != 0
    assert "cannot import name 'NOT_A_SETTING'" in unset.stdout + unset.stderr

    given = run_headwater("run", "settings.py", extra_env={
        "METAFLOW_OTEL_ENDPOINT": "http://collector:4317", "METAFLOW_KUBERNETES_NAMESPACE": "ml",
        "METAFLOW_SERVICE_HEADERS": '{"x-team": "a"}'})
    assert _values(given.stdout) == "'http://collector:4317' 'ml' {'x-team': 'a'}"


_TRIGGERED_FLOW = """
    from metaflow import FlowSpec, step, trigger


    def field_of(ctx):
        return "alpha"


    @trigger(event={"name": "data_ready", "parameters": {"alpha": FIELD}})
    class TriggeredFlow(FlowSpec):
        @step
        def start(self):
            print("RAN")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        TriggeredFlow()
"""


def test_a_trigger_of_no_valid_shape_is_refused_before_the_run(run_headwater, tmp_path: Path):
    """xenonnn4w/metaflow-ga-testing's ``ParamTestFail1``: a deploy-time function given as one
    payload field of ``@trigger``'s parameters (a function may stand for all of them, not for
    one). Metaflow refuses it before any command runs; headwater ran it (a run ignores
    ``@trigger``) and would have left it out of the deployment. Now refused before the run; the
    same flow with a function for all its parameters runs, with the usual note."""
    flow = textwrap.dedent(_TRIGGERED_FLOW)
    (tmp_path / "bad.py").write_text(flow.replace("FIELD", "field_of"))
    bad = run_headwater("run", "bad.py")
    assert bad.returncode == 1
    out = bad.stdout + bad.stderr
    assert "the parameters of event 'data_ready' in @trigger of flow TriggeredFlow" in out
    assert "fix: give a dict" in out and "RAN" not in out and "run-id" not in out

    (tmp_path / "good.py").write_text(flow.replace('{"alpha": FIELD}', "field_of"))
    good = run_headwater("run", "good.py")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "RAN" in good.stdout and "@trigger: takes effect when the flow is deployed" in good.stdout


_INCLUDING_FLOW = """
    from metaflow import FlowSpec, IncludeFile, step


    class IncludingFlow(FlowSpec):
        data = IncludeFile("dataset", default="rows.txt", is_text=True)

        @step
        def start(self):
            print("ROWS", len(self.data.splitlines()))
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        IncludingFlow()
"""


def test_a_run_says_which_files_it_includes(run_headwater, tmp_path: Path):
    """jacopotagliabue/MLSys-NYU-2022's ``small_flow`` (and three flows like it): Metaflow prints
    ``Including file regression_dataset.txt of size 37KB`` when a run reads an IncludeFile's
    file; headwater printed nothing. The size counts whole units of 1024, as Metaflow's."""
    (tmp_path / "including.py").write_text(textwrap.dedent(_INCLUDING_FLOW))
    (tmp_path / "rows.txt").write_text("a\n" * 20000)  # 40,000 bytes: 39KB
    (tmp_path / "small.txt").write_text("b\n" * 3)
    default = run_headwater("run", "including.py")
    assert default.returncode == 0, default.stdout + default.stderr
    assert "Including file rows.txt of size 39KB" in default.stdout
    assert "ROWS 20000" in default.stdout
    given = run_headwater("run", "including.py", "--dataset", "small.txt")
    assert "Including file small.txt of size 6B" in given.stdout
    assert given.stdout.count("Including file") == 1


_EARLY_EXIT_FLOW = """
    from metaflow import FlowSpec, Parameter, step


    class EarlyExitFlow(FlowSpec):
        skip = Parameter("skip", default=False, type=bool)
        both = Parameter("both", default=False, type=bool)

        @step
        def start(self):
            if self.skip:
                self.note = "skipped"
                self.next(self.EARLY)
                if not self.both:
                    return
            self.note = "worked"
            self.next(self.middle)

        @step
        def middle(self):
            self.next(self.end)

        @step
        def end(self):
            print("NOTE", self.note)


    if __name__ == "__main__":
        EarlyExitFlow()
"""


def test_an_early_self_next_before_the_closing_one_runs_as_in_metaflow(run_headwater,
                                                                        tmp_path: Path):
    """inriva-ai/ai-academy's ``preprocessing_flow``, ``text_analysis_flow`` and
    ``model_comparison_flow``: a step leaves early with ``self.next(self.x); return`` inside an
    ``if`` and ends with another ``self.next``. Metaflow runs them (its graph reads the step's
    last statement; a run that takes the early call to another step fails); headwater refused
    the graph ("calls self.next more than once"). Now the closing call makes the graph: an early
    call repeating it runs either way, a task calling both fails, and an early call to another
    step is warned about before the run and fails the task only if the run takes it."""
    flow = textwrap.dedent(_EARLY_EXIT_FLOW)
    (tmp_path / "early.py").write_text(flow.replace("EARLY", "middle"))
    for given, note in ((("--skip", "true"), "skipped"), ((), "worked")):
        ran = run_headwater("run", "early.py", *given)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert f"NOTE {note}" in ran.stdout and "Warning" not in ran.stdout
    shown = run_headwater("show", "early.py")
    assert shown.returncode == 0 and "=> middle" in shown.stdout, shown.stdout + shown.stderr

    twice = run_headwater("run", "early.py", "--skip", "true", "--both", "true")
    assert twice.returncode == 1
    assert "step 'start' of flow EarlyExitFlow called self.next() twice" in twice.stdout + twice.stderr

    (tmp_path / "other.py").write_text(flow.replace("EARLY", "end"))
    checked = run_headwater("check", "other.py")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert ("step 'start' calls self.next(self.end) before its last statement, "
            "self.next(self.middle); the flow's graph follows the last one") in checked.stdout
    fine = run_headwater("run", "other.py")
    assert fine.returncode == 0 and "NOTE worked" in fine.stdout, fine.stdout + fine.stderr
    taken = run_headwater("run", "other.py", "--skip", "true")
    assert taken.returncode == 1
    out = taken.stdout + taken.stderr
    assert "called self.next(end) but its source says self.next(middle)" in out
    assert "end the step with a switch" in out


_PATH_DEFAULT_FLOW = """
    from decimal import Decimal
    from pathlib import Path

    from metaflow import FlowSpec, Parameter, step


    class SourcedFlow(FlowSpec):
        source = Parameter("source", default=Path("data"))
        rate = Parameter("rate", default=Decimal("0.5"))

        @step
        def start(self):
            print("VALUES", repr(self.source), repr(self.rate))
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SourcedFlow()
"""


def test_a_default_of_another_class_reads_the_given_value_with_it(run_headwater,
                                                                  tmp_path: Path):
    """eschmidt42/etl-with-metaflow's ``ETLFlow``: ``Parameter("source", default=Path("data"))``,
    then ``self.source.parent`` in a step. Metaflow's parameter takes the default's class as
    its type, so ``--source other`` is ``Path('other')``; headwater gave the text 'other'."""
    (tmp_path / "sourced.py").write_text(textwrap.dedent(_PATH_DEFAULT_FLOW))
    given = run_headwater("run", "sourced.py", "--source", "other", "--rate", "1.25")
    assert given.returncode == 0, given.stdout + given.stderr
    assert _values(given.stdout).endswith("Path('other') Decimal('1.25')")
    default = run_headwater("run", "sourced.py")
    assert _values(default.stdout).endswith("Path('data') Decimal('0.5')")
    bad = run_headwater("run", "sourced.py", "--rate", "lots")
    assert bad.returncode != 0
    assert "parameter 'rate' expects a value accepted by Decimal" in bad.stdout + bad.stderr


_PROFILED_FLOW = """
    from metaflow import FlowSpec, profile, step
    from metaflow.metaflow_profile import profile as same_profile


    class ProfiledFlow(FlowSpec):
        @step
        def start(self):
            with profile("loading"):
                self.x = list(range(1000))
            stats = {}
            for _ in range(2):
                with same_profile("twice", stats_dict=stats):
                    pass
            print("STATS", sorted(stats), [type(v).__name__ for v in stats.values()])
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ProfiledFlow()
"""


def test_profile_times_a_block_of_a_step(run_headwater, tmp_path: Path):
    """jackie-ob/metaflow-datastore-tests: every flow but one imports ``profile`` from
    ``metaflow`` (``with profile('loading'):``), which headwater did not serve (ImportError).
    As Metaflow's, it prints the block's start and its time in whole milliseconds, or adds the
    time to a dict given as ``stats_dict`` and prints nothing."""
    (tmp_path / "profiled.py").write_text(textwrap.dedent(_PROFILED_FLOW))
    ran = run_headwater("run", "profiled.py")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "PROFILE: loading starting" in ran.stdout
    assert re.search(r"PROFILE: loading completed in \d+ms", ran.stdout)
    assert "PROFILE: twice" not in ran.stdout
    assert "STATS ['twice'] ['int']" in ran.stdout


_MERGING_JOIN_FLOW = """
    import functools

    from metaflow import FlowSpec, Parameter, step


    def merged(join):
        # the helper's way: list each input's stored names, copy what one branch set or all
        # branches agree on, skipping the flow's properties
        @functools.wraps(join)
        def wrapper(self, inputs):
            names = set()
            for inp in inputs:
                names |= {name for name, _ in inp._datastore.items() if not name.startswith("_")}
            for name in sorted(names):
                if isinstance(getattr(type(self), name, None), property):
                    continue
                values = [getattr(inp, name) for inp in inputs if name in inp._datastore]
                if all(value == values[0] for value in values):
                    setattr(self, name, values[0])
            join(self, inputs)
        return wrapper


    class MergingJoinFlow(FlowSpec):
        size = Parameter("size", default=3)

        @step
        def start(self):
            self.count = self.size * 2
            self.next(self.left, self.right)

        @step
        def left(self):
            self.side = "left"
            self.only_left = 1
            self.next(self.join)

        @step
        def right(self):
            self.side = "right"
            self.next(self.join)

        @step
        @merged
        def join(self, inputs):
            print("KEYS", sorted(k for k, _ in inputs.left._datastore.items() if k[0] != "_"))
            self.next(self.end)

        @step
        def end(self):
            print("MERGED", self.count, self.only_left, hasattr(self, "side"), self.size)


    if __name__ == "__main__":
        MergingJoinFlow()
"""


def test_a_join_input_lists_what_it_stored(run_headwater, tmp_path: Path):
    """npow/metaflow-coordinator's ``coordinator_join``: it lists each join input's artifacts
    with ``inp._datastore.items()`` (Metaflow's task datastore: name and content hash) and
    copies what one branch set or all agree on. headwater's inputs had no ``_datastore``, the
    helper's merge silently did nothing, and ``end`` failed on an artifact set before the
    join. The flow's parameters are not listed (they are the flow's own, read as before)."""
    (tmp_path / "merging.py").write_text(textwrap.dedent(_MERGING_JOIN_FLOW))
    ran = run_headwater("run", "merging.py")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "KEYS ['count', 'only_left', 'side']" in ran.stdout
    assert "MERGED 6 1 False 3" in ran.stdout
