"""Every way a deployed task fails before or around its step reads like a local run's error.

The command an Argo container (and an Airflow task) runs, ``python -m
headwater.cli.deployed_task_cmd STEP ...``, taken from a compiled WorkflowTemplate and run here
in an empty "pod" folder against a real S3 server (moto) and PostgreSQL: its stderr names the
flow, step, run and task, says what went wrong and the fix, shows no traceback and no password,
and it exits non-zero (what the orchestrator sees as the task failing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

import servers

from .argo_walk import Walk
from .flowrun import hermetic_env
from .test_deploy_argo import BUCKET, FLOWS, team  # noqa: F401 - team is a fixture

SECRET = "s3cretpw"


class Deployment:
    """The linear flow deployed to Argo (compiled, not submitted), with its pods run by hand."""

    def __init__(self, env: dict[str, str], tmp_path: Path, flow_dir: Path,
                 create_env: dict[str, str] | None = None, flow_file: str = "linear_flow.py",
                 options: tuple[str, ...] = ()) -> None:
        proc = subprocess.run(
            [sys.executable, str(flow_dir / flow_file), *options, "argo-workflows", "create",
             "--only-json"], cwd=flow_dir, env=hermetic_env({**env, **(create_env or {})}),
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        docs = json.loads(proc.stdout)
        self.template = docs[0] if isinstance(docs, list) else docs
        self.pod = tmp_path / "pod"
        self.pod.mkdir(exist_ok=True)
        # A pod: only the team's credentials (the rest comes from the manifest), and a code
        # cache of its own (a pod starts with none).
        self.env = hermetic_env({**{k: v for k, v in env.items() if k.startswith("AWS_")},
                                 "HEADWATER_CODE_CACHE": str(tmp_path / "pod-cache"),
                                 "HEADWATER_ENV_CACHE": str(tmp_path / "pod-envs")})

    def argv(self, step: str, run_key: str, task_id: str = "1", alpha: str = "",
             code: dict | None = None, **options: str) -> list[str]:
        """The container's command line for ``step`` (Argo's references filled in)."""
        template = next(t for t in self.template["spec"]["templates"]
                        if t["name"] == f"step-{step}")
        params = {"alpha": alpha} if alpha else {}
        walk = Walk(self.template, run_key, params, self.env, self.pod)
        scope = {"inputs.parameters.task-id": task_id}
        args = [walk._sub(a, scope) for a in template["container"]["args"]]
        args = [str(self.pod / "out") if a == "/tmp/headwater-out" else a for a in args]
        if code is not None:
            at = args.index("--code") + 1
            args[at] = json.dumps({**json.loads(args[at]), **code})
        for name, value in options.items():
            flag = "--" + name.replace("_", "-")
            if flag in args:
                args[args.index(flag) + 1] = value
            else:
                args += [flag, value]
        return args

    def code(self) -> dict:
        template = self.template["spec"]["templates"]
        args = next(t for t in template if "container" in t)["container"]["args"]
        return json.loads(args[args.index("--code") + 1])

    def run(self, step: str, run_key: str, env: dict[str, str] | None = None,
            **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *self.argv(step, run_key, **kwargs)],
                              env={**self.env, **(env or {})}, cwd=self.pod,
                              capture_output=True, text=True, timeout=300)


def _linear(tmp_path: Path, extra: str = "", start: str | None = None) -> Path:
    folder = tmp_path / "flow"
    folder.mkdir()
    text = (FLOWS / "linear_flow.py").read_text()
    if start is not None:
        text = text.replace("self.x = self.alpha * 10", start)
    (folder / "linear_flow.py").write_text(extra + text)
    return folder


@pytest.fixture
def deployed(team, tmp_path) -> Deployment:  # noqa: F811 - the fixture imported above
    return Deployment(team, tmp_path, _linear(tmp_path))


def _says(proc: subprocess.CompletedProcess, step: str, run_key: str, *words: str,
          code: int = 1) -> str:
    """The failure is reported as a user error naming the task, with a fix: the text."""
    err = proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stdout, err)
    assert "Traceback" not in err and 'File "' not in err, err
    assert f"step '{step}', task 1 (argo-workflows run '{run_key}')" in err \
        or f"/{step}/1 (argo-workflows run '{run_key}')" in err, err
    assert "DeployLinearFlow" in err and "fix:" in err, err
    for word in words:
        assert word in err, (word, err)
    assert SECRET not in proc.stdout + err
    return err


def test_a_module_missing_in_the_image_is_named_with_the_fix(team, tmp_path):  # noqa: F811
    """The flow imports a module the deploying machine has (on its PYTHONPATH, outside the flow's
    folder, so not in the code package) and the image lacks: as on a Dask worker."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "team_helpers.py").write_text("FACTOR = 10\n")
    flow_dir = _linear(tmp_path, "import team_helpers  # noqa: F401\n")
    deployment = Deployment(team, tmp_path, flow_dir, create_env={"PYTHONPATH": str(lib)})
    proc = deployment.run("start", "wf-nomod")
    _says(proc, "start", "wf-nomod", "Cannot load the flow", "CodePackageError",
          "No module named 'team_helpers'", "install 'team_helpers' in the image the deployment runs")


def test_a_syntax_error_in_the_packaged_flow_file_names_file_and_line(team, tmp_path):  # noqa: F811
    flow_dir = _linear(tmp_path)
    # A second file in the package, named as the deployment's flow file (as if the package had
    # been built from a broken file): the pod cannot compile it.
    (flow_dir / "broken_flow.py").write_text("from headwater import FlowSpec\n\n"
                                             "class DeployLinearFlow(FlowSpec)\n    pass\n")
    deployment = Deployment(team, tmp_path, flow_dir)
    proc = deployment.run("start", "wf-syntax", code={"path": "broken_flow.py"})
    _says(proc, "start", "wf-syntax", "SyntaxError", "broken_flow.py, line 3",
          "correct the flow file")


def test_a_flow_class_missing_from_the_package_says_deploy_again(deployed):
    proc = deployed.run("start", "wf-class", code={"class": "DeployLinearFlow2"})
    err = proc.stderr
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert "DeployLinearFlow2 step 'start', task 1 (argo-workflows run 'wf-class')" in err
    assert "no flow class DeployLinearFlow2 in linear_flow.py" in err
    assert "launch or deploy the flow again" in err


def test_a_code_package_missing_from_the_datastore(deployed):
    proc = deployed.run("start", "wf-gone", code={"key": "0" * 32})
    _says(proc, "start", "wf-gone", "code package " + "0" * 32, "is missing from s3://",
          "the datastore root the flow was launched or deployed with")


def test_a_damaged_code_package_is_refused(deployed, team):  # noqa: F811
    key = deployed.code()["key"]
    s3 = boto3.client("s3", endpoint_url=team["AWS_ENDPOINT_URL"],
                      aws_access_key_id=team["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=team["AWS_SECRET_ACCESS_KEY"],
                      region_name=team["AWS_DEFAULT_REGION"])
    prefix = team["HEADWATER_DATASTORE_ROOT"].removeprefix(f"s3://{BUCKET}/")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/blobs/{key[:2]}/{key}", Body=b"not a package")
    proc = deployed.run("start", "wf-damaged")
    _says(proc, "start", "wf-damaged", f"code package {key}", "is corrupt",
          "store its code package anew")


def test_a_metadata_database_that_is_down_is_named_without_its_password(deployed):
    url = f"postgresql://team:{SECRET}@127.0.0.1:{servers.free_port()}/flows"
    proc = deployed.run("start", "wf-pgdown", metadata=url)
    _says(proc, "start", "wf-pgdown", "cannot connect to the metadata database",
          "postgresql://team:***@127.0.0.1", "--metadata")


def test_a_refused_login_is_named_without_its_password(deployed, pg_server):
    host = pg_server.split("@", 1)[1].rsplit("/", 1)[0]
    proc = deployed.run("start", "wf-login",
                        metadata=f"postgresql://intruder:{SECRET}@{host}/postgres")
    _says(proc, "start", "wf-login", "metadata database", "intruder")


def test_an_unreachable_datastore_is_named(deployed):
    closed = f"http://127.0.0.1:{servers.free_port()}"
    proc = deployed.run("start", "wf-nostore", env={"AWS_ENDPOINT_URL": closed})
    _says(proc, "start", "wf-nostore", f"s3://{BUCKET}", "Could not connect",
          "could not be reached: check that it is up and reachable from here")


def test_a_task_whose_run_is_not_found_says_so(deployed):
    proc = deployed.run("middle", "wf-never-started")
    _says(proc, "middle", "wf-never-started", "Deployed run error",
          "no run of DeployLinearFlow is registered", "start the deployment again")


def test_a_task_whose_parent_did_not_succeed_names_both(deployed):
    # The orchestrator runs 'end' before 'middle' (a hand-edited template, a re-run of one task).
    assert deployed.run("start", "wf-order", alpha="3").returncode == 0
    proc = deployed.run("end", "wf-order")
    _says(proc, "end", "wf-order", "parent steps of step 'end' (middle)",
          "trigger the deployment")


def test_a_parameter_value_the_step_cannot_parse_exits_2(deployed):
    proc = deployed.run("start", "wf-param", alpha="many")
    _says(proc, "start", "wf-param", "parameter 'alpha' expects an integer; got 'many'",
          "--alpha", "argo-workflows trigger", code=2)


def test_missing_environment_locks_are_named(deployed):
    proc = deployed.run("start", "wf-locks", code={"environments": "f" * 32})
    _says(proc, "start", "wf-locks", "Step environment error", "environment locks",
          "f" * 32, "deploy it again")


def test_airflows_task_command_reports_the_same_way(team, tmp_path):  # noqa: F811
    """An Airflow DAG's tasks run the same command: its failure reads the same, naming
    Airflow's run id."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "team_helpers.py").write_text("FACTOR = 10\n")
    flow_dir = _linear(tmp_path, "import team_helpers  # noqa: F401\n")
    dag = tmp_path / "dag.py"
    proc = subprocess.run([sys.executable, str(flow_dir / "linear_flow.py"), "airflow", "create",
                           str(dag)], cwd=flow_dir,
                          env=hermetic_env({**team, "PYTHONPATH": str(lib)}),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = dag.read_text()
    args = json.loads(json.loads(text.split("ARGS = json.loads(", 1)[1].split(")\n", 1)[0]))
    run_key = "manual__2026-12-04T03:00:00+00:00"
    argv = [a.replace("__TASK_ID__", "1").replace("__RUN_KEY__", run_key)
            .replace("__PARAM_alpha__", "").replace("/airflow/xcom", str(tmp_path / "out"))
            for a in args["start"]]
    pod = tmp_path / "pod"
    pod.mkdir()
    env = hermetic_env({**{k: v for k, v in team.items() if k.startswith("AWS_")},
                        "HEADWATER_CODE_CACHE": str(tmp_path / "pod-cache")})
    done = subprocess.run([sys.executable, *argv], env=env, cwd=pod, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"DeployLinearFlow step 'start', task 1 (airflow run '{run_key}')" in done.stderr
    assert "No module named 'team_helpers'" in done.stderr
    assert "install 'team_helpers' in the image the deployment runs" in done.stderr


def test_a_step_that_raises_names_its_run_and_exits_1(team, tmp_path):  # noqa: F811
    # alpha defaults to 2: the start step divides by zero, a failure of the user's step.
    flow_dir = _linear(tmp_path, start="self.x = 10 // (self.alpha - 2)")
    deployment = Deployment(team, tmp_path, flow_dir)
    proc = deployment.run("start", "wf-raises")
    assert proc.returncode == 1, proc.stderr
    assert "ZeroDivisionError" in proc.stderr
    assert "/headwater/" not in proc.stderr, proc.stderr  # the user's frames only, as in `run`
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Task DeployLinearFlow/") and last.endswith(
        "/start/1 (argo-workflows run 'wf-raises') failed: ZeroDivisionError: "
        "integer division or modulo by zero"), last


PYPI_FLOW = Path(__file__).parent / "flows" / "environments" / "pypi_step_flow.py"


def _pypi_deployment(env: dict[str, str], tmp_path: Path) -> Deployment:
    """The @pypi flow, importing at its top a module the image has (on its PYTHONPATH) and a
    step's environment does not (it holds only its lock's packages)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "team_helpers.py").write_text("FACTOR = 10\n")
    flow_dir = tmp_path / "flow"
    flow_dir.mkdir()
    (flow_dir / "pypi_step_flow.py").write_text("import team_helpers  # noqa: F401\n"
                                                + PYPI_FLOW.read_text())
    deployment = Deployment(env, tmp_path, flow_dir, create_env={
        "PYTHONPATH": str(lib), "HEADWATER_ENV_CACHE": str(tmp_path / "create-envs")},
        flow_file="pypi_step_flow.py", options=("--environment=pypi",))
    deployment.env["PYTHONPATH"] = str(lib)  # the image has it
    assert deployment.run("start", "wf-env").returncode == 0
    return deployment


def _fmt_failure(deployment: Deployment) -> str:
    """The last line of the failing @pypi task: the step's failure, naming its run."""
    proc = deployment.run("fmt", "wf-env", task_id="1-0")
    err = proc.stderr
    assert proc.returncode == 1, err
    assert 'File "' not in err and "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("Task PypiStepFlow/") and "/fmt/1-0 (argo-workflows run 'wf-env') " \
        "failed: CodePackageError: task PypiStepFlow/" in last, last
    assert "could not load its flow in its @pypi/@conda environment" in last
    return last


def test_a_module_missing_in_a_pypi_steps_environment_says_add_it_there(tmp_path):
    last = _fmt_failure(_pypi_deployment({"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")},
                                         tmp_path))
    assert "No module named 'team_helpers'" in last
    assert "add it to the step's @pypi or @conda packages" in last
