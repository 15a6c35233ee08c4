"""airflow create: a real Apache Airflow (SQLite metadata, ``airflow dags test``) runs the DAG
file end to end, and the headwater client reads the run from a fresh process."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_env import airflow_bin

from .acme_extension import EXTENSION_FILES
from .flowrun import hermetic_env
from .test_deploy_argo import (
    FLOWS,
    acme_deployment,
    assert_the_task_used_the_packaged_extension,
    assert_without_the_extension,
    package_files_of,
)
from .test_scale_out import read_elsewhere


@pytest.fixture(scope="module")
def airflow(tmp_path_factory) -> dict[str, str]:
    """The environment of an Airflow installation: its home (SQLite database) migrated."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = hermetic_env({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags")})
    binary = str(airflow_bin())
    done = subprocess.run([binary, "db", "migrate"], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return {**env, "AIRFLOW_BIN": binary}


def _create(flow: str, root: Path, out: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, str(FLOWS / flow), "--datastore-root", str(root),
                           "airflow", "create", str(out), *args],
                          cwd=root.parent, env=hermetic_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return out.read_text()


@pytest.mark.parametrize("flow,cls,step,artifact,expected", [
    ("linear_flow.py", "DeployLinearFlow", "end", "result", [21, "hello"]),
    ("foreach_flow.py", "DeployForeachFlow", "join", "words", ["AA", "BB", "CC"]),
    # Nested: the inner body is a mapped group of its own, over every outer item's children.
    ("nested_flow.py", "DeployNestedFlow", "outer_join", "totals", [60, 120]),
    # @step(start=True) / @step(end=True): begin takes the parameters, finish ends the run.
    ("custom_steps_flow.py", "DeployCustomStepsFlow", "finish", "result", 43),
])
def test_airflow_dags_test_runs_the_dag_and_the_client_reads_it(flow, cls, step, artifact,
                                                                  expected, airflow, tmp_path):
    root = tmp_path / "ds"
    dags = Path(airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(exist_ok=True)
    for old in dags.glob("*.py"):
        old.unlink()
    _create(flow, root, dags / f"{cls}.py", "--operator", "local")
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = subprocess.run([airflow["AIRFLOW_BIN"], "dags", "test", cls, "2024-06-01"],
                          env={**airflow, "TMPDIR": str(temp)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "state=success" in done.stdout + done.stderr
    # Each task's folder for its return value is removed once read, not left in the worker's /tmp.
    assert not list(temp.glob("headwater-airflow-*"))
    value = read_elsewhere({"HEADWATER_DATASTORE_ROOT": str(root)}, tmp_path / "reader", f"""
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("{cls}").latest_run
        print(json.dumps({{"ok": run.successful, "value": run["{step}"].task["{artifact}"].data,
                          "tags": sorted(run.system_tags),
                          "tasks": {{s.id: len(list(s.tasks())) for s in run.steps()}}}}))
    """)
    assert value["ok"] is True
    assert value["value"] == expected
    assert "runtime:airflow" in value["tags"]
    assert "orchestrator_run:manual__2024-06-01T00:00:00+00:00" in value["tags"]
    if cls == "DeployForeachFlow":
        assert value["tasks"] == {"start": 1, "work": 3, "polish": 3, "join": 1, "end": 1}
    if cls == "DeployNestedFlow":
        assert value["tasks"] == {"start": 1, "fan": 2, "leaf": 6, "inner_join": 2,
                                  "outer_join": 1, "end": 1}


def _dags_test(airflow: dict[str, str], flow: str, cls: str, root: Path, tmp_path: Path,
               *create_args: str, date: str = "2024-06-01",
               test_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    dags = Path(airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(exist_ok=True)
    for old in dags.glob("*.py"):
        old.unlink()
    _create(flow, root, dags / f"{cls}.py", "--operator", "local", *create_args)
    return subprocess.run([airflow["AIRFLOW_BIN"], "dags", "test", cls, date, *test_args],
                          env=airflow, cwd=tmp_path, capture_output=True, text=True, timeout=1200)


def _read_run(root: Path, tmp_path: Path, cls: str, step: str, artifact: str) -> dict:
    return read_elsewhere({"HEADWATER_DATASTORE_ROOT": str(root)}, tmp_path / "reader", f"""
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("{cls}").latest_run
        print(json.dumps({{"ok": run.successful, "value": run["{step}"].task["{artifact}"].data,
                          "tasks": {{s.id: len(list(s.tasks())) for s in run.steps()}}}}))
    """)


def test_the_metaflow_extensions_active_at_create_travel_in_the_airflow_code_package(airflow,
                                                                                  tmp_path):
    """`airflow create` where an extension package is installed (on PYTHONPATH, outside the
    flow's folder) stores its files in the code package; Airflow then runs the DAG with only the
    metaflow shim on the path, and the deployed task imports the extension from the package."""
    made = acme_deployment(tmp_path)
    root = tmp_path / "ds"
    dags = Path(airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(exist_ok=True)
    for old in dags.glob("*.py"):
        old.unlink()
    dag = dags / "AcmeDeployedFlow.py"
    env = {"PYTHONPATH": os.pathsep.join([str(made["shim"]), str(made["extensions"])])}
    created = subprocess.run([sys.executable, str(made["flow"]), "--datastore-root", str(root),
                              "airflow", "create", str(dag), "--operator", "local"],
                             cwd=made["project"], env=hermetic_env(env), capture_output=True,
                             text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    line = next(x for x in dag.read_text().splitlines() if x.startswith("ARGS = json.loads("))
    args = json.loads(ast.literal_eval(line.removeprefix("ARGS = json.loads(")[:-1]))["start"]
    files = package_files_of(root, json.loads(args[args.index("--code") + 1]))
    assert "acme_deployed_flow.py" in files
    for relative in EXTENSION_FILES:
        assert f"metaflow_extensions/{relative}" in files
    cache = tmp_path / "cache"
    task_env = {**airflow, "PYTHONPATH": str(made["shim"]), "HEADWATER_CODE_CACHE": str(cache)}
    assert_without_the_extension(task_env, tmp_path)
    done = subprocess.run([airflow["AIRFLOW_BIN"], "dags", "test", "AcmeDeployedFlow",
                           "2024-06-01"], env=task_env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert_the_task_used_the_packaged_extension(root, cache, tmp_path)


def test_catch_in_an_airflow_run_lets_the_dag_go_on(airflow, tmp_path):
    """A foreach item that fails and a step stopped by its @timeout are caught (@catch), as in
    `run`: every Airflow task succeeds and the run's end sees what was caught."""
    root = tmp_path / "ds"
    done = _dags_test(airflow, "catch_flow.py", "DeployCatchFlow", root, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    value = _read_run(root, tmp_path, "DeployCatchFlow", "end", "outcome")
    assert value["ok"] is True
    assert value["value"] == [[10, "ZeroDivisionError", 5], "TimeoutException"]
    assert value["tasks"] == {"start": 1, "divide": 3, "join": 1, "slow": 1, "end": 1}


def test_two_dags_of_one_flow_keep_their_runs_apart_on_the_same_date(airflow, tmp_path):
    """Airflow names a DAG's run of a date the same in every DAG (``manual__<date>`` here,
    ``scheduled__<date>`` on a schedule). Two deployments of one flow (a @project branch and
    production, or two ``--name``s) sharing a datastore once wrote both into one run: the second
    start task found the first's run, its parameters were never read."""
    root = tmp_path / "ds"
    dags = Path(airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(exist_ok=True)
    for old in dags.glob("*.py"):
        old.unlink()
    for name in ("LinearA", "LinearB"):
        _create("linear_flow.py", root, dags / f"{name}.py", "--operator", "local",
                "--name", name)
    for name, conf in (("LinearA", "{}"), ("LinearB", '{"alpha": 5}')):
        done = subprocess.run([airflow["AIRFLOW_BIN"], "dags", "test", "-c", conf, name,
                               "2024-06-01"], env=airflow, cwd=tmp_path, capture_output=True,
                              text=True, timeout=1200)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = read_elsewhere({"HEADWATER_DATASTORE_ROOT": str(root)}, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        print(json.dumps({[t for t in run.system_tags if t.startswith("deployment:")][0]:
                          [run.successful, run["end"].task["result"].data,
                           run["start"].task.current_attempt]
                          for run in Flow("DeployLinearFlow").runs()}))
    """)
    assert runs == {"deployment:LinearA": [True, [21, "hello"], 0],
                    "deployment:LinearB": [True, [51, "hello"], 0]}


def test_airflow_create_with_catch_applies_to_every_step(airflow, tmp_path):
    root = tmp_path / "ds"
    done = _dags_test(airflow, "fragile_flow.py", "DeployFragileFlow", root, tmp_path,
                      "--with", "catch")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    value = _read_run(root, tmp_path, "DeployFragileFlow", "end", "result")
    # the caught step set x=2 before it raised: kept, as Metaflow keeps it (decisions.md,
    # "Leftovers (leftovers7)")
    assert value["ok"] is True and value["value"] == 2


@pytest.mark.parametrize("mode,date,final,tasks", [
    ("small", "2024-06-02", 2, {"start": 1, "small": 1, "after_small": 1, "merge": 1, "end": 1}),
    ("big", "2024-06-03", 100, {"start": 1, "big": 1, "merge": 1, "end": 1}),
])
def test_a_conditional_runs_only_the_case_taken(mode, date, final, tasks, airflow, tmp_path):
    """The branch task after the conditional's step runs the case it took and skips the other;
    the merge step runs after whichever case ran."""
    root = tmp_path / "ds"
    done = _dags_test(airflow, "conditional_flow.py", "DeployConditionalFlow", root, tmp_path,
                      date=date, test_args=("-c", json.dumps({"mode": mode})))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    value = _read_run(root, tmp_path, "DeployConditionalFlow", "merge", "final")
    assert value["ok"] is True
    assert value["value"] == final
    assert value["tasks"] == tasks


def test_a_conditional_case_reached_from_elsewhere_is_refused_naming_it(tmp_path):
    flow = tmp_path / "case_flow.py"
    flow.write_text(
        "from headwater import FlowSpec, step\n\n"
        "class CaseFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.go = 'a'\n"
        "        self.next({'a': self.a, 'b': self.b}, condition='go')\n\n"
        "    @step\n    def a(self):\n        self.next(self.b)\n\n"
        "    @step\n    def b(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n"
        "if __name__ == '__main__':\n    CaseFlow()\n")
    done = subprocess.run([sys.executable, str(flow), "--datastore-root", str(tmp_path / "ds"),
                           "airflow", "create", str(tmp_path / "d.py")], cwd=tmp_path,
                          env=hermetic_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "step 'b'" in done.stderr and "Airflow's branching" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "d.py").exists()


def test_kubernetes_operator_dag_is_valid_python_with_the_pod_spec(tmp_path):
    text = _create("foreach_flow.py", tmp_path / "ds", tmp_path / "dag.py", "--image",
                   "registry.example/flows:2", "--namespace", "flows")
    compile(text, "dag.py", "exec")
    assert "KubernetesPodOperator(" in text
    assert "'registry.example/flows:2'" in text and "'flows'" in text
    assert "schedule='0 6 * * *'" in text
    assert "start_date=pendulum.datetime(2024, 1, 1, tz='Europe/Paris')" in text  # @schedule's zone
    args = json.loads(json.loads(text.split("ARGS = json.loads(", 1)[1].split(")\n", 1)[0]))
    assert args["work"][:3] == ["-m", "headwater.cli.deployed_task_cmd", "work"]
    assert "/airflow/xcom" in args["work"]
    linear = _create("linear_flow.py", tmp_path / "ds", tmp_path / "lin.py", "--operator", "local")
    assert ("'middle': {'retries': 2, 'retry_delay_s': 120.0, 'timeout_s': 600.0}" in linear)


def test_the_schedules_time_zone_is_the_dags_in_airflow(airflow, tmp_path):
    # @schedule(cron="0 6 * * *", timezone="Europe/Paris"): 6 o'clock in Paris, not in UTC
    # (the DAG used to drop the zone without a word).
    dag_file = tmp_path / "dag.py"
    _create("foreach_flow.py", tmp_path / "ds", dag_file, "--operator", "local")
    python = str(Path(airflow["AIRFLOW_BIN"]).parent / "python")
    script = (f"import runpy; dag = runpy.run_path({str(dag_file)!r})['dag']; "
              "print(dag.timezone.name); print(dag.timetable.summary)")
    done = subprocess.run([python, "-c", script], env=airflow, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[:2] == ["Europe/Paris", "0"], done.stdout


def test_max_workers_is_the_dags_max_active_tasks_in_airflow(airflow, tmp_path):
    """`airflow create --max-workers 3` (Metaflow's option) bounds the DAG's tasks at once."""
    dag_file = tmp_path / "dag.py"
    _create("linear_flow.py", tmp_path / "ds", dag_file, "--operator", "local",
            "--max-workers", "3")
    python = str(Path(airflow["AIRFLOW_BIN"]).parent / "python")
    script = (f"import runpy; dag = runpy.run_path({str(dag_file)!r})['dag']; "
              "print(dag.max_active_tasks)")
    done = subprocess.run([python, "-c", script], env=airflow, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["3"], done.stdout


def test_concurrency_is_the_tasks_max_active_tis_per_dagrun(airflow, tmp_path):
    """@concurrency(limit=2) on a step of a nested foreach: its one mapped task runs at most two
    instances at once in a DAG run, whatever the outer item (Airflow maps every item of it)."""
    from .flowrun import write_flow
    from .test_step_concurrency import NESTED

    flow = write_flow(tmp_path, "nested_limit_flow.py", NESTED)
    dag_file = tmp_path / "dag.py"
    done = subprocess.run([sys.executable, str(flow), "--datastore-root", str(tmp_path / "ds"),
                           "airflow", "create", str(dag_file), "--operator", "local"],
                          cwd=tmp_path, env=hermetic_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    python = str(Path(airflow["AIRFLOW_BIN"]).parent / "python")
    script = (f"import runpy; dag = runpy.run_path({str(dag_file)!r})['dag']; "
              "print(dag.get_task('inner').max_active_tis_per_dagrun, "
              "dag.get_task('outer').max_active_tis_per_dagrun)")
    shown = subprocess.run([python, "-c", script], env=airflow, capture_output=True, text=True,
                           timeout=300)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert shown.stdout.split() == ["2", "None"], shown.stdout


def test_a_conditional_inside_a_foreach_is_refused_naming_the_step(tmp_path):
    flow = tmp_path / "inner_switch_flow.py"
    flow.write_text(
        "from headwater import FlowSpec, step\n\n"
        "class InnerSwitchFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.items = [1, 2]\n"
        "        self.next(self.pick, foreach='items')\n\n"
        "    @step\n    def pick(self):\n        self.go = 'a' if self.input == 1 else 'b'\n"
        "        self.next({'a': self.a, 'b': self.b}, condition='go')\n\n"
        "    @step\n    def a(self):\n        self.next(self.meet)\n\n"
        "    @step\n    def b(self):\n        self.next(self.meet)\n\n"
        "    @step\n    def meet(self):\n        self.next(self.join)\n\n"
        "    @step\n    def join(self, inputs):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n"
        "if __name__ == '__main__':\n    InnerSwitchFlow()\n")
    done = subprocess.run([sys.executable, str(flow), "--datastore-root", str(tmp_path / "ds"),
                           "airflow", "create", str(tmp_path / "d.py")], cwd=tmp_path,
                          env=hermetic_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "step 'pick'" in done.stderr and "conditional inside a foreach" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "d.py").exists()


def test_deployer_api_writes_the_dag_and_trigger_queues_a_run(airflow, tmp_path):
    from headwater import Deployer

    dags = Path(airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(exist_ok=True)
    for old in dags.glob("*.py"):
        old.unlink()
    env = {k: v for k, v in airflow.items() if k.startswith("AIRFLOW")}
    deployer = Deployer(str(FLOWS / "linear_flow.py"), cwd=tmp_path,
                        env={**env, "HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")})
    deployed = deployer.airflow().create(out=str(dags / "linear.py"), operator="local")
    assert deployed.name == "DeployLinearFlow" and Path(deployed.dag_file).is_file()
    done = subprocess.run([airflow["AIRFLOW_BIN"], "dags", "reserialize"], env=airflow,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    triggered = deployed.trigger(alpha=4)
    assert triggered.run is None  # queued: nothing has run before Airflow's scheduler takes it
    runs = subprocess.run([airflow["AIRFLOW_BIN"], "dags", "list-runs", "-d", deployed.name,
                           "-o", "plain"], env=airflow, capture_output=True, text=True,
                          timeout=600)
    assert runs.returncode == 0, runs.stderr[-2000:]
    queued = [line for line in runs.stdout.splitlines() if triggered.run_key in line]
    assert len(queued) == 1 and "queued" in queued[0]


def test_kubernetes_operator_dags_of_a_conditional_and_a_nested_foreach_compile(tmp_path):
    """No Kubernetes here: the pod DAGs are checked as Python, with the branch naming the case's
    first pod task and the inner foreach mapped over every outer item's children."""
    text = _create("conditional_flow.py", tmp_path / "ds", tmp_path / "cond.py")
    compile(text, "cond.py", "exec")
    assert "_branch('start', {'small': 'small-pod.args', 'big': 'big-pod.args'})" in text
    assert "_make('merge', trigger_rule='none_failed_min_one_success')" in text
    text = _create("nested_flow.py", tmp_path / "ds", tmp_path / "nested.py")
    compile(text, "nested.py", "exec")
    assert "refs['leaf'] = step_leaf_fn.expand(path=refs['fan__children'])" in text


def test_create_time_config_values_reach_the_dag_run_and_stay_out_of_the_dag_file(airflow,
                                                                                   tmp_path):
    """`python flow.py --config-value settings '{...}' airflow create`: the DAG is compiled
    with the given configs (@project's name, @schedule's cron) and every run of it uses their
    values, in its steps, in a decorator option (@environment) and in a parameter default;
    the values (a credential among them) are kept in the datastore, not in the DAG file."""
    from .test_deploy_argo import CREATE_CONFIG, SECRET

    root = tmp_path / "ds"
    dags = Path(airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(exist_ok=True)
    for old in dags.glob("*.py"):
        old.unlink()
    dag_file = dags / "configured.py"
    done = subprocess.run([sys.executable, str(FLOWS / "config_flow.py"), "--datastore-root",
                           str(root), "--config-value", "settings", json.dumps(CREATE_CONFIG),
                           "airflow", "create", str(dag_file), "--operator", "local"],
                          cwd=tmp_path, env=hermetic_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    text = dag_file.read_text()
    assert SECRET not in text
    assert "schedule='5 4 * * *'" in text
    dag = "made.user.tester.DeployConfigFlow"
    ran = subprocess.run([airflow["AIRFLOW_BIN"], "dags", "test", dag, "2024-06-01"],
                         env=airflow, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    value = _read_run(root, tmp_path, "DeployConfigFlow", "end", "result")
    assert value["ok"] is True
    assert value["value"] == {"greeting": "from-create", "token": SECRET, "env": "from-create",
                              "alpha": 7, "project": "made", "end_greeting": "from-create"}


@pytest.mark.parametrize("operator,option", [("local", ("--image", "registry.example/f:1")),
                                             ("local", ("--namespace", "flows")),
                                             ("kubernetes", ("--python", "/usr/bin/python3"))])
def test_an_option_of_the_other_operator_is_refused_naming_it(operator, option, tmp_path):
    """`airflow create --operator local --image X` used to write a DAG without the image, and
    `--python` was dropped from a Kubernetes DAG: now each is refused, naming the option."""
    done = subprocess.run([sys.executable, str(FLOWS / "linear_flow.py"), "--datastore-root",
                           str(tmp_path / "ds"), "airflow", "create", str(tmp_path / "d.py"),
                           "--operator", operator, *option], cwd=tmp_path, env=hermetic_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"{option[0]} of the Airflow deployment of flow DeployLinearFlow" in done.stderr
    assert f"drop {option[0]}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "d.py").exists()
