"""What the examples of Metaflow's documentation showed missing, pinned down as headwater's tests.

The examples themselves are played by ``tools/metaflow_docs_examples.py`` against a snapshot of
the documentation site (see docs/migrating.md); each behaviour they needed is kept here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap

from .helpers import headwater_argv


def _run(tmp_path, tripwire, name: str, code: str, *args: str) -> subprocess.CompletedProcess:
    flow = tmp_path / name
    flow.write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": tripwire}
    return subprocess.run(headwater_argv(*args[:1], str(flow), *args[1:]), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)


def test_catch_var_is_none_in_the_tasks_that_did_not_fail(tmp_path, tripwire, client):
    # The failures page's CatchFlow: a join reads `input.compute_failed` of every foreach task,
    # and only the one that divided by zero had failed.
    done = _run(tmp_path, tripwire, "catchflow.py", """
        from metaflow import FlowSpec, catch, step

        class CatchFlow(FlowSpec):
            @step
            def start(self):
                self.params = [0, 1]
                self.next(self.compute, foreach="params")

            @catch(var="compute_failed", print_exception=False)
            @step
            def compute(self):
                self.div = self.input
                self.x = 5 / self.div
                self.next(self.join)

            @step
            def join(self, inputs):
                self.failed = sorted(i.div for i in inputs if i.compute_failed)
                self.ok = sorted(i.div for i in inputs if i.compute_failed is None)
                self.next(self.end)

            @step
            def end(self):
                pass
    """, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow

    join = Flow("CatchFlow").latest_run["join"].task
    assert join.data.failed == [0] and join.data.ok == [1]


def _python_flow(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """``python flow.py ARGS`` as a user types it, with the shim serving ``import metaflow``."""
    shim = tmp_path.parent / f"{tmp_path.name}-shim"
    if not shim.exists():
        made = subprocess.run(headwater_argv("shim", str(shim)), capture_output=True, text=True,
                              timeout=120)
        assert made.returncode == 0, made.stderr
    env = {**os.environ, "PYTHONPATH": str(shim)}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)


def test_package_list_info_and_save_show_the_code_package(tmp_path):
    # The project-structure page: `python teaflow.py package list`, and with
    # `--package-suffixes .sql` the SQL files it reads travel with the code.
    (tmp_path / "teaflow.py").write_text(textwrap.dedent("""
        from metaflow import FlowSpec, step
        from teatime import brew

        class TeaFlow(FlowSpec):
            @step
            def start(self):
                self.tea = brew()
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            TeaFlow()
    """))
    (tmp_path / "teatime.py").write_text("def brew():\n    return 'earl grey'\n")
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "q.sql").write_text("select 1;\n")
    listed = _python_flow(tmp_path, "teaflow.py", "package", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert sorted(listed.stdout.split()) == sorted(
        str(tmp_path.resolve() / name) for name in ("teaflow.py", "teatime.py"))
    archive = _python_flow(tmp_path, "teaflow.py", "--package-suffixes", ".sql", "package",
                           "list", "--archive")
    assert archive.returncode == 0, archive.stdout + archive.stderr
    assert sorted(archive.stdout.split()) == ["sql/q.sql", "teaflow.py", "teatime.py"]
    info = _python_flow(tmp_path, "teaflow.py", "package", "info")
    assert info.returncode == 0 and "TeaFlow" in info.stdout and "2 files" in info.stdout
    saved = _python_flow(tmp_path, "teaflow.py", "package", "save", "pkg.tgz")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    with tarfile.open(tmp_path / "pkg.tgz") as tar:
        assert sorted(tar.getnames()) == ["teaflow.py", "teatime.py"]


def test_card_list_without_a_pathspec_lists_the_cards_of_the_latest_run(tmp_path):
    # The default-cards page: `python fancydefaultcard.py card list`, after `run --with card`.
    (tmp_path / "cardflow.py").write_text(textwrap.dedent("""
        from metaflow import FlowSpec, card, step

        class CardListFlow(FlowSpec):
            @card
            @step
            def start(self):
                self.x = 1
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            CardListFlow()
    """))
    done = _python_flow(tmp_path, "cardflow.py", "run", "--with", "card")
    assert done.returncode == 0, done.stdout + done.stderr
    listed = _python_flow(tmp_path, "cardflow.py", "card", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith("CardListFlow/1/start/1 ") for line in lines), listed.stdout
    assert any(line.startswith("CardListFlow/1/end/2 ") for line in lines), listed.stdout
    as_json = _python_flow(tmp_path, "cardflow.py", "card", "list", "--as-json", "--file", "c.json")
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    documents = json.loads((tmp_path / "c.json").read_text())
    assert {d["pathspec"] for d in documents} == {"CardListFlow/1/start/1", "CardListFlow/1/end/2"}


PROFILER = textwrap.dedent("""
    from metaflow import StepMutator, user_step_decorator

    @user_step_decorator
    def my_profile(step_name, flow, inputs=None, attributes=None):
        yield
        flow.profiled = [step_name, dict(attributes or {})]

    class add_env(StepMutator):
        def mutate(self, mutable_step):
            mutable_step.add_decorator("environment", deco_kwargs={"vars": {"MUTATED": "yes"}})
""")

WAITER = textwrap.dedent("""
    import os
    from metaflow import FlowSpec, step
    from myprofiler import my_profile

    class WaiterFlow(FlowSpec):
        @step
        def start(self):
            self.mutated = os.environ.get("MUTATED")
            self.waiters = [1, 2]
            self.next(self.wait, foreach="waiters")

        @my_profile(own=True)
        @step
        def wait(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.seen = sorted(str(i.profiled) for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        WaiterFlow()
""")


def test_with_names_a_user_step_decorator_or_step_mutator_by_import_path(tmp_path, client):
    # The custom-decorators page: `python waiterflow.py run --with myprofiler.my_profile`, and
    # `--with statsprofiler.stats_profile:silent=1` (options given after the colon).
    (tmp_path / "myprofiler.py").write_text(PROFILER)
    (tmp_path / "waiterflow.py").write_text(WAITER)
    done = _python_flow(tmp_path, "waiterflow.py", "run", "--with",
                        "myprofiler.my_profile:silent=1", "--with", "myprofiler.add_env")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow

    run = Flow("WaiterFlow").latest_run
    assert run["start"].task.data.profiled == ["start", {"silent": 1}]
    assert run["end"].task.data.profiled == ["end", {"silent": 1}]
    # the step's own @my_profile wins over the --with one, as a built-in decorator's would
    assert run["join"].task.data.seen == [str(["wait", {"own": True}])] * 2
    assert run["start"].task.data.mutated == "yes"  # the step mutator ran on every step


def test_with_a_user_decorator_that_does_not_import_names_the_flow_and_the_fix(tmp_path):
    (tmp_path / "myprofiler.py").write_text(PROFILER)
    (tmp_path / "waiterflow.py").write_text(WAITER)
    missing = _python_flow(tmp_path, "waiterflow.py", "run", "--with", "myprofile.my_profile")
    assert missing.returncode != 0
    assert "--with myprofile.my_profile (flow WaiterFlow): could not import the module " \
           "'myprofile'" in missing.stderr, missing.stderr
    assert "fix: put myprofile.py beside the flow" in missing.stderr
    wrong = _python_flow(tmp_path, "waiterflow.py", "run", "--with", "myprofiler.PROFILER")
    assert wrong.returncode != 0
    assert "myprofiler.PROFILER is not a step decorator" in wrong.stderr, wrong.stderr


def test_a_step_reads_its_flows_graph_info_as_metaflows_flow_object_has_it(tmp_path, tripwire,
                                                                         client):
    # The mutators page's HungryFlow prints self._graph_info in its start step.
    done = _run(tmp_path, tripwire, "hungryflow.py", """
        from metaflow import FlowSpec, current, resources, step

        class HungryFlow(FlowSpec):
            @resources(cpu=1)
            @step
            def start(self):
                print(self._graph_info)
                self.steps = sorted(self._graph_info["steps"])
                self.same = self._graph_info == current.graph
                self.next(self.end)

            @step
            def end(self):
                pass
    """, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow

    start = Flow("HungryFlow").latest_run["start"].task
    assert start.data.steps == ["end", "start"] and start.data.same is True


def test_with_user_decorators_reach_tasks_that_import_the_flow_afresh(dask_cluster, child_env,
                                                                       tmp_path, client):
    # A Dask worker imports the flow from its code package: the --with user decorator and step
    # mutator are put on its steps there too, as in the launching process.
    (tmp_path / "myprofiler.py").write_text(PROFILER)
    (tmp_path / "waiterflow.py").write_text(WAITER)
    env = {**os.environ, **child_env}
    done = subprocess.run(headwater_argv("run", str(tmp_path / "waiterflow.py"), "--executor",
                                         "dask", "--dask-address", dask_cluster.address, "--with",
                                         "myprofiler.my_profile", "--with", "myprofiler.add_env"),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow

    run = Flow("WaiterFlow").latest_run
    assert run["end"].task.data.profiled == ["end", {}]
    assert run["start"].task.data.mutated == "yes"
