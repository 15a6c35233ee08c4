"""``Deployer``: deploy a flow file from Python, as Metaflow's Deployer API does.

    deployed = Deployer("flow.py").argo_workflows(image="team/flows:1").create()
    triggered = deployed.trigger(alpha=3)
    triggered.run  # the client Run, once its start task has registered it

    Deployer("flow.py").airflow().create(out="dags/flow.py", operator="local")

Like the Runner, it runs the flow's own command line in a child process (``argo-workflows
create``, ``airflow create``) and reads back what was deployed from a small JSON file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from typing import Any

from headwater.exceptions import FlowDefinitionError, HeadwaterException
from headwater.runner.accepted import (
    DEPLOY_CREATE,
    FLOW_DECORATOR_OPTIONS,
    refuse_unknown,
    top_level_names,
)
from headwater.runner.command import check_no_nul, cli_value, entry_argv, top_level_args


class DeployFailedError(HeadwaterException):
    """A deploy command (create, trigger, delete) failed; its error output says why."""

    headline = "Deployment failed"


# Keywords spelt otherwise than their option: Metaflow's ``tags=[...]`` and ``decospecs``.
_FLAGS = {"tags": "--tag", "decospecs": "--with", "with_decorators": "--with"}


def _options(kwargs: Mapping[str, Any]) -> list[str]:
    """``image='x'`` -> ``--image x``, ``only_json=True`` -> ``--only-json``, lists repeat."""
    args: list[str] = []
    for name, value in kwargs.items():
        flag = _FLAGS.get(name) or "--" + name.rstrip("_").replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, cli_value(item)]
        else:
            args += [flag, cli_value(value)]
    return args


class Deployer:
    """Deploy the flow in ``flow_file``; other keyword arguments are its top-level options
    (``datastore_root=...``, ``metadata=...``, ``branch=...``, ``production=True``)."""

    def __init__(self, flow_file: str | os.PathLike, show_output: bool = False,
                 profile: str | None = None, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, file_read_timeout: int = 3600,
                 **kwargs: Any) -> None:
        # profile and file_read_timeout are Metaflow's arguments, taken as the Runner takes them:
        # there are no configuration profiles, and the deployment's attributes are read once
        # the command has ended, so there is nothing to time out.
        refuse_unknown(kwargs, top_level_names(), "Deployer(...)", also=FLOW_DECORATOR_OPTIONS)
        self.flow_file = os.path.abspath(flow_file)
        if not os.path.isfile(self.flow_file):
            from headwater.runner.flow_path import missing_flow_file_hint

            raise FlowDefinitionError(f"flow file {os.fspath(flow_file)!r} does not exist"
                                      f"{missing_flow_file_hint(flow_file, cwd, 'Deployer')}")
        self.show_output = show_output
        self.cwd = os.path.abspath(cwd if cwd is not None else os.getcwd())
        self.env = {**os.environ, **{k: str(v) for k, v in (env or {}).items()}}
        self.top_level = dict(kwargs)

    def argo_workflows(self, name: str | None = None, **kwargs: Any) -> DeployerImpl:
        """Options of ``argo-workflows create`` (``image``, ``namespace``, ``secret``, ...)."""
        return DeployerImpl(self, "argo-workflows", {"name": name, **kwargs})

    def airflow(self, name: str | None = None, **kwargs: Any) -> DeployerImpl:
        """Options of ``airflow create`` (``operator``, ``image``, ``python``, ...)."""
        return DeployerImpl(self, "airflow", {"name": name, **kwargs})

    def _call(self, args: list[str]) -> str:
        # A flow written for ``metaflow`` starts through headwater's entry point, as the Runner's do.
        command = [*entry_argv(sys.executable, self.flow_file), *top_level_args(self.top_level),
                   *args]
        check_no_nul(command, self.env, self.flow_file)
        done = subprocess.run(command, cwd=self.cwd, env=self.env, capture_output=True,
                              text=True)
        if self.show_output:
            sys.stdout.write(done.stdout)
            sys.stderr.write(done.stderr)
        if done.returncode != 0:
            raise DeployFailedError(f"{' '.join(args[:2])} of {self.flow_file} failed: "
                                    f"{done.stderr.strip()[-2000:]}")
        return done.stdout


class DeployerImpl:
    """One orchestrator's deployer: ``create()`` deploys and returns a :class:`DeployedFlow`."""

    def __init__(self, deployer: Deployer, orchestrator: str, options: Mapping[str, Any]) -> None:
        method = orchestrator.replace("-", "_")
        refuse_unknown(options, DEPLOY_CREATE[orchestrator], f"Deployer(...).{method}()")
        self.deployer = deployer
        self.orchestrator = orchestrator
        self.options = dict(options)

    def create(self, **kwargs: Any) -> DeployedFlow:
        """Deploy. Airflow needs ``out``, the DAG file to write."""
        method = self.orchestrator.replace("-", "_")
        refuse_unknown(kwargs, DEPLOY_CREATE[self.orchestrator],
                       f"Deployer(...).{method}(...).create()")
        options = {**self.options, **kwargs}
        positional: list[str] = []
        if self.orchestrator == "airflow":
            out = options.pop("out", None)
            if not out:
                raise DeployFailedError("airflow create needs out=, the DAG file to write",
                                        fix="e.g. .airflow().create(out='dags/my_flow.py')")
            positional = [os.path.abspath(out)]
        folder = tempfile.mkdtemp(prefix="headwater-deploy-")
        try:
            path = os.path.join(folder, "attributes.json")
            self.deployer._call([self.orchestrator, "create", *positional, *_options(options),
                                 "--deployer-attribute-file", path])
            with open(path, encoding="utf-8") as handle:
                attributes = json.load(handle)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return DeployedFlow(self.deployer, attributes)


class DeployedFlow:
    """A deployed flow: its name, what was deployed, and how to start a run of it."""

    def __init__(self, deployer: Deployer, attributes: Mapping[str, Any]) -> None:
        self.deployer = deployer
        self.attributes = dict(attributes)
        self.name: str = attributes["deployed_name"]
        self.flow_name: str = attributes["flow_name"]
        self.orchestrator: str = attributes["orchestrator"]

    @property
    def manifests(self) -> list[dict[str, Any]]:
        """Argo: the documents ``create`` compiled (and applied, without ``only_json``)."""
        return list(self.attributes.get("manifests", []))

    @property
    def workflow_template(self) -> dict[str, Any] | None:
        """Argo: the compiled ``WorkflowTemplate`` document (Metaflow's property, there for an
        ``only_json=True`` create; here for every Argo create), None for Airflow."""
        for manifest in self.attributes.get("manifests", []):
            if isinstance(manifest, Mapping) and manifest.get("kind") == "WorkflowTemplate":
                return dict(manifest)
        return None

    @property
    def dag_file(self) -> str | None:
        """Airflow: the DAG file ``create`` wrote."""
        return self.attributes.get("dag_file")

    def trigger(self, **params: Any) -> TriggeredRun:
        """Start a run now with these parameters (Argo: through the Kubernetes API; Airflow:
        ``airflow dags trigger``, which queues it for Airflow's scheduler)."""
        if self.orchestrator == "airflow":
            return self._trigger_airflow(params)
        args = ["argo-workflows", "trigger", "--name", self.name]
        if self.attributes.get("namespace"):
            args += ["--namespace", self.attributes["namespace"]]
        for key, value in params.items():
            args += ["--param", key, cli_value(value)]
        out = self.deployer._call(args)
        run_key = out.split("Workflow ", 1)[1].split(" submitted", 1)[0].strip()
        return TriggeredRun(self, run_key)

    def _trigger_airflow(self, params: Mapping[str, Any]) -> TriggeredRun:
        airflow = self.deployer.env.get("AIRFLOW_BIN") or shutil.which("airflow",
                                                                       path=self.deployer.env.get("PATH"))
        if not airflow:
            raise DeployFailedError("triggering an Airflow DAG needs the `airflow` command",
                                    fix="put it on PATH (or set AIRFLOW_BIN), or trigger the DAG "
                                    "from Airflow's UI")
        run_key = f"headwater__{uuid.uuid4().hex[:12]}"
        done = subprocess.run([airflow, "dags", "trigger", self.name, "--run-id", run_key,
                               "--conf", json.dumps(params)], env=self.deployer.env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise DeployFailedError(f"airflow dags trigger {self.name} failed: "
                                    f"{done.stderr.strip()[-2000:]}")
        return TriggeredRun(self, run_key)

    def delete(self) -> None:
        """Argo: remove the template, its schedule and its sensor from the cluster."""
        if self.orchestrator != "argo-workflows":
            raise DeployFailedError("delete is for Argo deployments",
                                    fix=f"remove the DAG file {self.dag_file} from Airflow's folder")
        self.deployer._call(["argo-workflows", "delete", "--name", self.name])


class TriggeredRun:
    """A run the orchestrator was asked to start; ``run`` is its client Run once registered."""

    def __init__(self, deployed: DeployedFlow, run_key: str) -> None:
        self.deployed_flow = deployed
        self.run_key = run_key  # the orchestrator's id: Argo workflow name, Airflow run_id

    @property
    def run(self) -> Any:
        """The headwater Run (None until the start task registered it), read from the
        datastore and metadata the deployment uses, whatever the current namespace."""
        from headwater.client import run_found_by
        from headwater.runner.locate import child_settings

        deployer = self.deployed_flow.deployer
        settings = child_settings(deployer.top_level, deployer.env, deployer.cwd)

        def find(meta: Any) -> Any:
            rows = meta.list_runs(self.deployed_flow.flow_name,
                                  tags=[f"orchestrator_run:{self.run_key}"], limit=1)
            return rows[0] if rows else None

        return run_found_by(settings, find)

    def wait_for_run(self, check_interval: float = 5, timeout: float | None = None) -> Any:
        """The client Run once its start task has registered it (Metaflow's method): checked
        every ``check_interval`` seconds; ``TimeoutError`` naming the run after ``timeout``
        seconds (None: wait as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = self.run
            if found is not None:
                return found
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.deployed_flow.orchestrator} run {self.run_key} of "
                    f"{self.deployed_flow.name} did not start within {timeout} s: its start "
                    "task has not registered it (is the orchestrator's scheduler running?)")
            time.sleep(check_interval if deadline is None
                       else max(0.0, min(check_interval, deadline - time.monotonic())))
