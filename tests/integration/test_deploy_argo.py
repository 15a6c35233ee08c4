"""argo-workflows create: manifests valid against Argo 3.7's schema, and their commands, run in
the DAG's order against a real S3 server and PostgreSQL, give the same run as ``run``.

No Kubernetes cluster can run here: the schema check is strict (every field must survive a
round trip through hera's generated Argo models, so an unknown field fails), and the
execution walks the manifest itself (tests/integration/argo_walk.py).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import servers

from .acme_extension import EXTENSION_FILES, write_extension
from .argo_walk import Walk
from .flowrun import hermetic_env, write_flow
from .test_scale_out import read_elsewhere

FLOWS = Path(__file__).parent / "deploy_flows"
BUCKET = "headwater-deploy"

# flow file -> (class, the step and artifact that sum the run up)
SHAPES = {
    "linear": ("linear_flow.py", "DeployLinearFlow", "end", "result"),
    "branch": ("branch_flow.py", "DeployBranchFlow", "join", "total"),
    "foreach": ("foreach_flow.py", "DeployForeachFlow", "join", "words"),
    "nested": ("nested_flow.py", "DeployNestedFlow", "outer_join", "totals"),
    "conditional": ("conditional_flow.py", "DeployConditionalFlow", "merge", "final"),
    "parallel": ("parallel_flow.py", "DeployParallelFlow", "join", "ranks"),
    # @catch: a failing foreach item and a timed-out step are caught; the DAG goes on.
    "catch": ("catch_flow.py", "DeployCatchFlow", "end", "outcome"),
    # @step(start=True) / @step(end=True): the DAG begins and finishes at begin and finish.
    "custom_steps": ("custom_steps_flow.py", "DeployCustomStepsFlow", "finish", "result"),
}
_ENDPOINTS = {"custom_steps": ("begin", "finish")}  # other shapes: start and end


def _create(flow: str, env: dict[str, str], cwd: Path, *args: str) -> list[dict]:
    proc = subprocess.run([sys.executable, str(FLOWS / flow), "argo-workflows", "create",
                           "--only-json", *args], cwd=cwd, env=hermetic_env(env),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    return docs if isinstance(docs, list) else [docs]


def _roundtrip(model: type, doc: dict) -> None:
    doc = copy.deepcopy(doc)
    assert doc["apiVersion"] == "argoproj.io/v1alpha1"
    if "kind" not in model.model_fields:  # hera's Argo Events models leave these two out
        del doc["apiVersion"], doc["kind"]
    if model.__name__ == "Sensor":
        # The workflow a trigger submits is an opaque object to the Sensor's schema: check it
        # against the Workflow schema instead.
        from hera.workflows.models import Workflow

        for trigger in doc["spec"]["triggers"]:
            source = trigger["template"]["argoWorkflow"]["source"]
            _roundtrip(Workflow, source.pop("resource"))
    parsed = model.model_validate(doc)
    again = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert again == doc  # nothing dropped: every field is one Argo's schema has


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_manifests_validate_against_argo_schema(shape, tmp_path):
    from hera.events.models import Sensor
    from hera.workflows.models import CronWorkflow, WorkflowTemplate

    flow = SHAPES[shape][0]
    docs = _create(flow, {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}, tmp_path,
                   "--image", "registry.example/team/flows:1", "--namespace", "flows",
                   "--secret", "headwater-credentials")
    kinds = [d["kind"] for d in docs]
    models = {"WorkflowTemplate": WorkflowTemplate, "CronWorkflow": CronWorkflow,
              "Sensor": Sensor}
    for doc in docs:
        _roundtrip(models[doc["kind"]], doc)
        assert doc["metadata"]["namespace"] == "flows"
    template = docs[0]
    assert kinds[0] == "WorkflowTemplate"
    steps = [t for t in template["spec"]["templates"] if "container" in t]
    for t in steps:
        assert t["container"]["image"] == "registry.example/team/flows:1"
        assert t["container"]["envFrom"] == [{"secretRef": {"name": "headwater-credentials"}}]
    if shape == "foreach":
        assert kinds == ["WorkflowTemplate", "CronWorkflow"]
        assert docs[1]["spec"]["schedules"] == ["0 6 * * *"]
        assert docs[1]["spec"]["timezone"] == "Europe/Paris"
    if shape == "conditional":
        assert kinds == ["WorkflowTemplate", "Sensor"]
        assert docs[1]["spec"]["dependencies"][0]["eventName"] == "data_ready"


def test_decorators_become_argo_fields(tmp_path):
    docs = _create("linear_flow.py", {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}, tmp_path)
    templates = {t["name"]: t for t in docs[0]["spec"]["templates"]}
    middle = templates["step-middle"]
    assert middle["retryStrategy"] == {"limit": 2, "retryPolicy": "Always",
                                      "backoff": {"duration": "120s"}}  # @retry: 2 min apart
    assert middle["activeDeadlineSeconds"] == 600
    assert middle["container"]["resources"] == {
        "requests": {"cpu": "2", "memory": "1024Mi"}, "limits": {"memory": "1024Mi"}}
    assert {"name": "GREETING", "value": "hello"} in middle["container"]["env"]
    assert "retryStrategy" not in templates["step-start"]
    params = docs[0]["spec"]["arguments"]["parameters"]
    assert params[0] == {"name": "alpha", "value": "2", "description": "A number"}


def test_a_password_in_the_metadata_url_stays_out_of_the_manifest(tmp_path):
    url = "postgresql://team:s3cret@db.example:5432/flows"
    text = json.dumps(_create("linear_flow.py", {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds"),
                                                 "HEADWATER_METADATA": url}, tmp_path))
    assert "s3cret" not in text
    assert "postgresql://team@db.example:5432/flows" in text


def test_a_loop_is_refused_naming_the_step(tmp_path):
    flow = tmp_path / "loop_flow.py"
    flow.write_text(
        "from headwater import FlowSpec, step\n\n"
        "class LoopFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.n = 0\n        self.next(self.body)\n\n"
        "    @step\n    def body(self):\n        self.n += 1\n        self.again = self.n < 3\n"
        "        self.next({True: self.body, False: self.end}, condition='again')\n\n"
        "    @step\n    def end(self):\n        pass\n\n"
        "if __name__ == '__main__':\n    LoopFlow()\n")
    proc = subprocess.run([sys.executable, str(flow), "argo-workflows", "create", "--only-json"],
                          cwd=tmp_path, env=hermetic_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert "step 'body'" in proc.stderr and "loop" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture
def team(pg_server, moto_endpoint, tmp_path) -> dict[str, str]:
    metadata = servers.fresh_database(pg_server, "deploy")
    servers.make_bucket(moto_endpoint, BUCKET)
    return {**servers.s3_env(moto_endpoint),
            "HEADWATER_DATASTORE_ROOT": f"s3://{BUCKET}/{tmp_path.name}",
            "HEADWATER_METADATA": metadata}


_SUMMARY = """
    import json
    from headwater import Flow, namespace
    namespace(None)
    out = {}
    for run in Flow("%(cls)s").runs():
        steps = {s.id: len(list(s.tasks())) for s in run.steps()}
        out[run.id] = {"ok": run.successful, "finished": run.finished, "steps": steps,
                       "value": run["%(step)s"].task["%(artifact)s"].data,
                       "tags": sorted(run.system_tags)}
    print(json.dumps(out))
"""


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_manifest_commands_in_dag_order_give_the_same_run_as_run(shape, team, tmp_path):
    flow, cls, step, artifact = SHAPES[shape]
    deploy_dir = tmp_path / "deploy"
    deploy_dir.mkdir()
    template = _create(flow, team, deploy_dir)[0]
    local = subprocess.run([sys.executable, str(FLOWS / flow), "run"], cwd=deploy_dir,
                           env=hermetic_env(team), capture_output=True, text=True, timeout=240)
    assert local.returncode == 0, local.stderr
    # The pods: an empty folder (the code comes from the datastore), only the team's settings.
    pod = tmp_path / "pod"
    pod.mkdir()
    keep = {k: v for k, v in team.items() if k.startswith("AWS_")}
    walk = Walk(template, f"{template['metadata']['name']}-x7k2p", {}, hermetic_env(keep), pod)
    walk.run()
    summary = read_elsewhere(team, tmp_path / "reader",
                             _SUMMARY % {"cls": cls, "step": step, "artifact": artifact})
    assert len(summary) == 2
    deployed = next(r for r in summary.values() if any(
        t.startswith("orchestrator_run:") for t in r["tags"]))
    ran_here = next(r for r in summary.values() if r is not deployed)
    assert deployed["ok"] and deployed["finished"]
    assert deployed["value"] == ran_here["value"]
    assert deployed["steps"] == ran_here["steps"]
    assert "runtime:argo-workflows" in deployed["tags"]
    assert f"production:{cls}" in deployed["tags"]  # namespace("production:<name>") finds it
    assert f"orchestrator_run:{template['metadata']['name']}-x7k2p" in deployed["tags"]
    first, last = _ENDPOINTS.get(shape, ("start", "end"))
    assert walk.order[0] == (f"step-{first}", "1") and walk.order[-1] == (f"step-{last}", "1")
    if shape == "catch":
        # The item dividing by zero and the step stopped by its @timeout were caught, as in `run`.
        assert deployed["value"] == [[10, "ZeroDivisionError", 5], "TimeoutException"]
        slow = next(t for t in template["spec"]["templates"] if t["name"] == "step-slow")
        # Argo waits longer than @timeout, so the task itself stops the step and records it.
        assert slow["activeDeadlineSeconds"] == 3 + 120


def test_trigger_on_finish_chain_passes_the_event_and_the_upstream_run(tmp_path):
    """The end task of one deployment posts its 'finished' event; a sensor would hand it to the
    next deployment's start task: current.trigger and Run.trigger show it, and its run."""
    import http.server
    import threading

    received: list[bytes] = []
    authorization: list[str | None] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            authorization.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}
        upstream = _create("linear_flow.py", env, tmp_path, "--events-url",
                           f"http://127.0.0.1:{server.server_address[1]}/events")[0]
        end = next(t for t in upstream["spec"]["templates"] if t["name"] == "step-end")
        assert {"name": "HEADWATER_EVENTS_URL",
                "value": f"http://127.0.0.1:{server.server_address[1]}/events"} in \
            end["container"]["env"]
        # The webhook's token comes from a Kubernetes secret in the pod's environment.
        Walk(upstream, "up-1", {"alpha": "5"}, {**hermetic_env(), "HEADWATER_EVENTS_TOKEN": "t0k"},
             tmp_path).run()
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 1 and authorization == ["Bearer t0k"]
    event = json.loads(received[0])
    assert event["name"] == "headwater.DeployLinearFlow.end"
    docs = _create("finish_trigger_flow.py", env, tmp_path)
    sensor = docs[1]
    assert sensor["spec"]["dependencies"][0]["eventName"] == "headwater.DeployLinearFlow.end"
    Walk(docs[0], "down-1", {"headwater-trigger": json.dumps(event)}, hermetic_env(),
         tmp_path).run()
    value = read_elsewhere(env, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("DeployAfterLinearFlow").latest_run
        end = run["end"].task
        print(json.dumps({"event": run["start"].task["event_name"].data,
                          "upstream": end["upstream"].data,
                          "result": end["upstream_result"].data,
                          "trigger": run.trigger.event.name,
                          "trigger_run": run.trigger.run.pathspec}))
    """)
    assert value["event"] == value["trigger"] == "headwater.DeployLinearFlow.end"
    assert value["upstream"] == value["trigger_run"] == event["payload"]["pathspec"]
    assert value["result"] == [51, "hello"]  # alpha=5 reached the upstream run


def test_an_events_url_with_credentials_is_refused_not_written_into_the_manifest(tmp_path):
    proc = subprocess.run([sys.executable, str(FLOWS / "linear_flow.py"), "argo-workflows",
                           "create", "--only-json", "--events-url",
                           "https://hook:s3cr3t@events.example/hw"], cwd=tmp_path,
                          env=hermetic_env({"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "--events-url of the deployment of DeployLinearFlow holds credentials" in proc.stderr
    assert "HEADWATER_EVENTS_TOKEN" in proc.stderr and "--secret" in proc.stderr
    assert "s3cr3t" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_deployer_api_compiles_and_says_what_triggering_needs(tmp_path):
    from headwater import Deployer
    from headwater.runner.deployer import DeployFailedError

    deployer = Deployer(str(FLOWS / "foreach_flow.py"), cwd=tmp_path,
                        env={"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")})
    deployed = deployer.argo_workflows(image="registry.example/flows:3").create(only_json=True)
    assert deployed.name == "deployforeachflow" and deployed.flow_name == "DeployForeachFlow"
    assert [d["kind"] for d in deployed.manifests] == ["WorkflowTemplate", "CronWorkflow"]
    containers = [t["container"] for t in deployed.manifests[0]["spec"]["templates"]
                  if "container" in t]
    assert {c["image"] for c in containers} == {"registry.example/flows:3"}
    # No cluster here: the error names what is missing and how to fix it.
    env = {"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
    deployer.env.update(env)
    with pytest.raises(DeployFailedError) as caught:
        deployed.trigger(alpha=1)
    text = str(caught.value)
    assert "Kubernetes" in text and ("headwater[argo]" in text or "KUBECONFIG" in text)


def test_deployed_flow_gives_the_compiled_workflow_template_as_metaflows_does(tmp_path):
    # Metaflow's ArgoWorkflowsDeployedFlow.workflow_template: the WorkflowTemplate document of
    # an only_json create, whose metadata.name is the deployed name.
    from headwater import Deployer

    deployer = Deployer(str(FLOWS / "foreach_flow.py"), cwd=tmp_path,
                        env={"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")})
    deployed = deployer.argo_workflows().create(only_json=True)
    template = deployed.workflow_template
    assert template is not None and template["kind"] == "WorkflowTemplate"
    assert template["metadata"]["name"] == deployed.name == "deployforeachflow"
    assert template == deployed.manifests[0] and template["spec"]["templates"]


@pytest.mark.parametrize("mode, extra, expected", [
    ("prepare", "more", ["start", "prepare", "gate", "join", 14, "end"]),
    ("direct", "more", ["start", "gate", "join", 14, "end"]),
    ("prepare", "done", ["start", "prepare", "gate", "end"]),
    ("direct", "done", ["start", "gate", "end"]),
])
def test_a_case_also_reached_from_another_step_deploys_and_runs_either_way(mode, extra,
                                                                           expected, tmp_path):
    # As Metaflow's Argo compiler does: the case's `when` also holds when its other parent
    # succeeded (before: refused, "Argo's `when` cannot say it").
    env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}
    template = _create("shared_case_flow.py", env, tmp_path)[0]
    from hera.workflows.models import WorkflowTemplate

    _roundtrip(WorkflowTemplate, template)
    walk = Walk(template, f"shared-{mode}-{extra}", {"mode": mode, "extra": extra},
                hermetic_env(env), tmp_path)
    walk.run()
    ran = [name.removeprefix("step-") for name, _ in walk.order]
    assert [s for s in ran if s not in ("fan", "work")] == [s for s in expected
                                                             if isinstance(s, str)]
    assert ran.count("work") == (3 if extra == "more" else 0)
    value = read_elsewhere(env, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("DeploySharedCaseFlow").latest_run
        print(json.dumps({"ok": run.successful, "trail": run["end"].task["trail"].data}))
    """)
    assert value == {"ok": True, "trail": expected}


def test_a_shared_case_whose_conditional_may_not_have_run_is_refused(tmp_path):
    # 'meet' is a case of 'pick', which runs only on one side of start's conditional; when the
    # other side reaches 'meet', pick's choice cannot be read, so the deployment is refused.
    flow = tmp_path / "unsure_flow.py"
    flow.write_text(textwrap.dedent("""
        from headwater import FlowSpec, step

        class UnsureCaseFlow(FlowSpec):
            @step
            def start(self):
                self.a = "left"
                self.next({"left": self.pick, "right": self.other}, condition="a")

            @step
            def pick(self):
                self.b = "meet"
                self.next({"meet": self.meet, "skip": self.skip}, condition="b")

            @step
            def skip(self):
                self.next(self.end)

            @step
            def other(self):
                self.next(self.meet)

            @step
            def meet(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            UnsureCaseFlow()
    """))
    proc = subprocess.run([sys.executable, str(flow), "argo-workflows", "create", "--only-json"],
                          cwd=tmp_path, env=hermetic_env({"HEADWATER_DATASTORE_ROOT":
                                                          str(tmp_path / "ds")}),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "step 'meet' of flow UnsureCaseFlow" in proc.stderr
    assert "'pick' may not have run" in proc.stderr
    assert "put a step of its own between 'pick' and 'meet'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_kubernetes_options_reach_the_argo_containers(tmp_path):
    # A Metaflow flow's @kubernetes asks for its pod: on Argo (pods on Kubernetes) its image is
    # the step's, and its cpu/memory/disk/gpu raise @resources' where larger, as in Metaflow.
    flow = tmp_path / "kube_flow.py"
    flow.write_text(textwrap.dedent("""
        from headwater import FlowSpec, resources, step
        from headwater.compat.metaflow_api import kubernetes  # `from metaflow import` it

        class KubeFlow(FlowSpec):
            @kubernetes(cpu=1, memory=16000, image="registry.example/big:2")
            @resources(cpu=2, memory=8192)
            @step
            def start(self):
                self.next(self.middle)

            @kubernetes(cpu=3, disk=20480)
            @step
            def middle(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            KubeFlow()
    """))
    env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")})
    proc = subprocess.run([sys.executable, str(flow), "argo-workflows", "create", "--only-json",
                           "--image", "registry.example/flows:1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    containers = {name: t["container"] for name, t in _steps_of(json.loads(proc.stdout)).items()}
    assert containers["step-start"]["image"] == "registry.example/big:2"
    assert containers["step-start"]["resources"] == {
        "requests": {"cpu": "2", "memory": "16000Mi"}, "limits": {"memory": "16000Mi"}}
    assert containers["step-middle"]["image"] == "registry.example/flows:1"
    assert containers["step-middle"]["resources"] == {
        "requests": {"cpu": "3", "ephemeral-storage": "20480Mi"}}
    assert "resources" not in containers["step-end"]
    flow.write_text(flow.read_text().replace("cpu=3, disk=20480", "cpu='lots'"))
    proc = subprocess.run([sys.executable, str(flow), "argo-workflows", "create", "--only-json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "@kubernetes(cpu='lots') of step 'middle' of flow KubeFlow is not a number" in \
        proc.stderr
    assert "Traceback" not in proc.stderr


def test_project_branches_deploy_under_their_own_names(tmp_path):
    flow = tmp_path / "proj_flow.py"
    flow.write_text(
        "from headwater import FlowSpec, project, step\n\n"
        "@project(name='fraud')\n"
        "class ScoreFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n"
        "if __name__ == '__main__':\n    ScoreFlow()\n")
    names = {}
    for option in (("--branch", "exp1"), ("--production",)):
        proc = subprocess.run([sys.executable, str(flow), *option, "argo-workflows", "create",
                               "--only-json"], cwd=tmp_path, env=hermetic_env(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        names[option[0]] = doc["metadata"]["name"]
        args = next(t for t in doc["spec"]["templates"] if "container" in t)["container"]["args"]
        assert ("--branch" in args) == (option[0] == "--branch")
        assert ("--production" in args) == (option[0] == "--production")
    assert names == {"--branch": "fraud.test.exp1.scoreflow", "--production": "fraud.prod.scoreflow"}


def _steps_of(template: dict) -> dict[str, dict]:
    return {t["name"]: t for t in template["spec"]["templates"] if "container" in t}


def test_create_with_adds_the_decorators_to_every_deployed_step(tmp_path):
    """`create --with retry` compiles a retry strategy for every step; `--with catch` (here the
    top-level `--with`, as `run` takes it) lets the run go on past a failing step."""
    env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}
    retried = _create("fragile_flow.py", env, tmp_path, "--with", "retry:times=2")[0]
    steps = _steps_of(retried)
    assert sorted(steps) == ["step-end", "step-fragile", "step-start"]
    for template in steps.values():
        assert template["retryStrategy"]["limit"] == 2
        args = template["container"]["args"]
        assert args[args.index("--with") + 1] == "retry:times=2"
    proc = subprocess.run([sys.executable, str(FLOWS / "fragile_flow.py"), "--with", "catch",
                           "argo-workflows", "create", "--only-json"], cwd=tmp_path,
                          env=hermetic_env(env), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    caught = json.loads(proc.stdout)
    walk = Walk(caught, "fragile-1", {}, hermetic_env(), tmp_path)
    walk.run()  # every container must exit 0: the failure of 'fragile' was caught
    assert [name for name, _ in walk.order] == ["step-start", "step-fragile", "step-end"]
    value = read_elsewhere(env, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("DeployFragileFlow").latest_run
        fragile = run["fragile"].task
        print(json.dumps({"ok": run.successful, "result": run["end"].task["result"].data,
                          "fragile_ok": fragile.successful,
                          "stdout": fragile.stdout, "stderr": fragile.stderr}))
    """)
    # the run succeeded; the caught step reads unsuccessful, as Metaflow's client says
    assert value["ok"] is True and value["fragile_ok"] is False
    assert value["result"] == 2  # what the failed attempt set before raising, as Metaflow keeps it
    # as Metaflow's: what @catch caught is on stdout, its traceback marked ">  "
    assert "@catch caught an exception from <flow DeployFragileFlow step fragile>" in \
        value["stdout"]
    assert ">  RuntimeError: fragile always fails" in value["stdout"]
    assert value["stderr"] == ""


def test_a_bad_with_is_refused_at_create_naming_it(tmp_path):
    proc = subprocess.run([sys.executable, str(FLOWS / "fragile_flow.py"), "argo-workflows",
                           "create", "--only-json", "--with", "retry:nope=1"], cwd=tmp_path,
                          env=hermetic_env({"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "--with retry:nope=1" in proc.stderr and "nope" in proc.stderr
    assert "Traceback" not in proc.stderr


PYPI_FLOW = Path(__file__).parent / "flows" / "environments" / "pypi_step_flow.py"


def test_the_pypi_lock_made_at_create_travels_and_each_task_builds_that_environment(tmp_path):
    """`--environment=pypi argo-workflows create` locks @pypi (builds nothing); the deployed
    tasks of that step build the environment of that very lock in their own cache and run in it;
    the other steps run in the image's Python, which lacks the package."""
    env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}
    create_cache, pod_cache = tmp_path / "create-cache", tmp_path / "pod-cache"
    proc = subprocess.run([sys.executable, str(PYPI_FLOW), "--environment=pypi", "argo-workflows",
                           "create", "--only-json"], cwd=tmp_path,
                          env=hermetic_env({**env, "HEADWATER_ENV_CACHE": str(create_cache)}),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    template = json.loads(proc.stdout)
    assert list((create_cache / "locks").iterdir())  # locked at create ...
    assert not (create_cache / "envs").exists() or not list((create_cache / "envs").iterdir())
    args = _steps_of(template)["step-fmt"]["container"]["args"]
    assert "environments" in json.loads(args[args.index("--code") + 1])  # ... and deployed
    Walk(template, "pypi-1", {}, hermetic_env({"HEADWATER_ENV_CACHE": str(pod_cache)}),
         tmp_path).run()
    value = read_elsewhere(env, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("PypiStepFlow").latest_run
        join = run["join"].task
        fmt = list(run["fmt"])
        print(json.dumps({"ok": run.successful, "versions": join["versions"].data,
                          "prefixes": join["prefixes"].data,
                          "start_has": run["start"].task["start_has_tabulate"].data,
                          "join_has": join["join_has_tabulate"].data,
                          "env_ids": sorted({t.environment_info["env_id"] for t in fmt}),
                          "metadata_env": fmt[0].metadata_dict.get("environment"),
                          "packages": fmt[0].environment_info["packages"],
                          "join_env": join.environment_info}))
    """)
    assert value["ok"] is True
    assert value["versions"] == ["0.9.0"]
    assert value["start_has"] is False and value["join_has"] is False
    (env_id,) = value["env_ids"]
    assert value["metadata_env"] == env_id
    assert any(p.startswith("tabulate==0.9.0") for p in value["packages"])
    assert value["join_env"] is None
    # Built by the "pod", in its own cache, under the name of the lock made at create.
    assert [Path(p) for p in value["prefixes"]] == [pod_cache / "envs" / env_id]
    locks = [json.loads(p.read_text()) for p in (create_cache / "locks").iterdir()]
    assert env_id in {lock["id"] for lock in locks}


def test_a_deployed_pypi_step_reaches_s3_and_postgres_from_its_environment(team, tmp_path):
    """With the team's S3 datastore and PostgreSQL metadata, `create` locks the environment with
    the backends' client libraries (the step lists only tabulate): each deployed task of the
    step writes to S3 and reads its run's records from inside the environment."""
    flow = PYPI_FLOW.parent / "pypi_remote_flow.py"
    create_cache, pod_cache = tmp_path / "create-cache", tmp_path / "pod-cache"
    proc = subprocess.run([sys.executable, str(flow), "--environment=pypi", "argo-workflows",
                           "create", "--only-json"], cwd=tmp_path,
                          env=hermetic_env({**team, "HEADWATER_ENV_CACHE": str(create_cache)}),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Adding s3fs>=2024.2 (the s3 datastore), psycopg[binary]>=3.1" in proc.stderr
    pod_env = {k: v for k, v in team.items() if k.startswith("AWS_")}
    Walk(json.loads(proc.stdout), "remote-1", {},
         hermetic_env({**pod_env, "HEADWATER_ENV_CACHE": str(pod_cache)}), tmp_path).run()
    value = read_elsewhere(team, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("PypiRemoteFlow").latest_run
        join = run["join"].task
        print(json.dumps({"ok": run.successful, "tables": join["tables"].data,
                          "seen": join["seen"].data, "drivers": join["drivers"].data,
                          "prefixes": join["prefixes"].data}))
    """)
    assert value["ok"] is True and value["tables"] == ["1  2", "2  4"]
    assert value["seen"] == [[1, 2], [1, 2]]  # current.run, read in the environment
    (prefix,) = value["prefixes"]
    assert Path(prefix).parent == pod_cache / "envs"
    for drivers in value["drivers"]:
        assert drivers["s3fs"].startswith(prefix) and drivers["psycopg"].startswith(prefix)


def test_without_the_switch_create_notes_that_pypi_is_ignored(tmp_path):
    proc = subprocess.run([sys.executable, str(PYPI_FLOW), "argo-workflows", "create",
                           "--only-json"], cwd=tmp_path,
                          env=hermetic_env({"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "@pypi/@conda (fmt) are ignored" in proc.stderr and "--environment=pypi" in proc.stderr
    args = _steps_of(json.loads(proc.stdout))["step-fmt"]["container"]["args"]
    assert "environments" not in json.loads(args[args.index("--code") + 1])


@pytest.mark.parametrize("command", [("argo-workflows", "create", "--only-json"),
                                     ("airflow", "create", "dag.py")])
def test_a_parallel_gang_is_refused_naming_the_step(command, tmp_path):
    """@parallel tasks must run together and reach one another: no gang scheduling in either
    orchestrator, so create refuses (num_parallel alone deploys: see the 'parallel' shape)."""
    flow = tmp_path / "gang_flow.py"
    flow.write_text(
        "from headwater import FlowSpec, parallel, step\n\n"
        "class GangFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.train, num_parallel=2)\n\n"
        "    @parallel\n    @step\n    def train(self):\n        self.next(self.join)\n\n"
        "    @step\n    def join(self, inputs):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n"
        "if __name__ == '__main__':\n    GangFlow()\n")
    proc = subprocess.run([sys.executable, str(flow), "--datastore-root", str(tmp_path / "ds"),
                           *command], cwd=tmp_path, env=hermetic_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "step 'train'" in proc.stderr and "@parallel" in proc.stderr
    assert "gang scheduling" in proc.stderr and command[0] in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "dag.py").exists()


_GREETER = {
    "metaflow_extensions/greet/plugins/mfextinit_greet.py":
        'FLOW_DECORATORS_DESC = [("greeter", ".greeter.Greeter")]\n',
    "metaflow_extensions/greet/plugins/greeter.py": textwrap.dedent("""
        from metaflow import current
        from metaflow.decorators import FlowDecorator

        class Greeter(FlowDecorator):
            name = "greeter"
            options = {"greeting": dict(default="hello", show_default=True, help="Said by steps.")}

            def flow_init(self, flow, graph, environment, flow_datastore, metadata, logger,
                          echo, options):
                current._update_env({"greeting": options["greeting"]})
    """),
    "greeted_flow.py": textwrap.dedent("""
        from metaflow import FlowSpec, current, greeter, step

        @greeter
        class GreetedFlow(FlowSpec):
            @step
            def start(self):
                self.first = current.greeting
                self.next(self.end)

            @step
            def end(self):
                self.last = current.greeting

        if __name__ == "__main__":
            GreetedFlow()
    """),
}


def test_a_flow_decorator_option_given_at_create_reaches_every_deployed_task(tmp_path):
    """`python flow.py --greeting bonjour argo-workflows create`: a Metaflow-style flow
    decorator's top-level option travels in the manifest, so the deployed tasks see the value
    given at create, not the option's default (as Metaflow bakes it into each step's command)."""
    code = tmp_path / "code"
    for relative, text in _GREETER.items():
        (code / relative).parent.mkdir(parents=True, exist_ok=True)
        (code / relative).write_text(text)
    shim = tmp_path / "shim"
    subprocess.run([sys.executable, "-c", "from headwater.cli.main import main; main()",
                    "shim", str(shim)], check=True, capture_output=True, timeout=120)
    env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds"),
           "PYTHONPATH": os.pathsep.join([str(shim), str(code)])}
    proc = subprocess.run([sys.executable, "greeted_flow.py", "--greeting", "bonjour",
                           "argo-workflows", "create", "--only-json"], cwd=code,
                          env=hermetic_env(env), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    template = json.loads(proc.stdout)
    for step_template in _steps_of(template).values():
        args = step_template["container"]["args"]
        assert json.loads(args[args.index("--flow-options") + 1]) == {"greeting": "bonjour"}
    pod = tmp_path / "pod"
    pod.mkdir()
    Walk(template, "greeted-1", {}, hermetic_env({"PYTHONPATH": env["PYTHONPATH"]}), pod).run()
    value = read_elsewhere(env, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("GreetedFlow").latest_run
        print(json.dumps([run.successful, run["start"].task["first"].data,
                          run["end"].task["last"].data]))
    """)
    assert value == [True, "bonjour", "bonjour"]


ACME_FLOW = """
    import os

    from metaflow import FlowSpec, acme_step, step
    from metaflow.metaflow_config import ACME_LIMIT


    class AcmeDeployedFlow(FlowSpec):
        @acme_step
        @step
        def start(self):
            import metaflow_extensions.acme.plugins.acme_decorators as decorators

            self.limit = ACME_LIMIT
            self.ext_file = os.path.realpath(decorators.__file__)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        AcmeDeployedFlow()
"""


def acme_deployment(tmp_path: Path) -> dict[str, Path]:
    """The acme extension installed outside the flow's folder (tests/integration/acme_extension.py)
    and a flow using its decorator and config value, in a folder of its own."""
    extensions, shim = write_extension(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    flow = write_flow(project, "acme_deployed_flow.py", ACME_FLOW)
    return {"extensions": extensions, "shim": shim, "project": project, "flow": flow}


def package_files_of(root: Path, code: dict[str, str]) -> list[str]:
    """The names inside the code package ``code`` stored in the datastore at ``root``."""
    from headwater.store import open_datastore
    from headwater.store.code_package import CodePackage

    with open_datastore(str(root)) as store:
        return CodePackage("AcmeDeployedFlow/-", code, lambda: store).files


def assert_without_the_extension(env: dict[str, str], cwd: Path) -> None:
    """The deployed tasks' environment cannot import metaflow_extensions by itself."""
    probe = subprocess.run([sys.executable, "-c", "import importlib.util as u; "
                            "print(u.find_spec('metaflow_extensions'))"], env=env, cwd=cwd,
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and probe.stdout.strip() == "None", probe.stdout + probe.stderr


def assert_the_task_used_the_packaged_extension(root: Path, cache: Path, tmp_path: Path) -> None:
    value = read_elsewhere({"HEADWATER_DATASTORE_ROOT": str(root)}, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("AcmeDeployedFlow").latest_run
        start = run["start"].task
        print(json.dumps([run.successful, start["pre"].data, start["limit"].data,
                          start["ext_file"].data]))
    """)
    ok, pre, limit, ext_file = value
    assert (ok, pre, limit) == (True, "acme:start", 7)
    # imported from the unpacked code package, not from where create found it
    assert Path(ext_file).is_relative_to(cache.resolve()), ext_file


def test_the_metaflow_extensions_active_at_create_travel_in_the_argo_code_package(tmp_path):
    """`argo-workflows create` where an extension package is installed (here: on PYTHONPATH,
    outside the flow's folder) stores its files in the code package, and a deployed task run
    where it is not installed (only the metaflow shim on the path) imports it from there: its
    decorator runs and its config value is read, as Metaflow's deployed tasks get them."""
    made = acme_deployment(tmp_path)
    root = tmp_path / "ds"
    env = {"HEADWATER_DATASTORE_ROOT": str(root),
           "PYTHONPATH": os.pathsep.join([str(made["shim"]), str(made["extensions"])])}
    proc = subprocess.run([sys.executable, str(made["flow"]), "argo-workflows", "create",
                           "--only-json"], cwd=made["project"], env=hermetic_env(env),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    template = json.loads(proc.stdout)
    args = _steps_of(template)["step-start"]["container"]["args"]
    code = json.loads(args[args.index("--code") + 1])
    files = package_files_of(root, code)
    assert "acme_deployed_flow.py" in files
    for relative in EXTENSION_FILES:
        assert f"metaflow_extensions/{relative}" in files
    # `package list` lists what ships, the extension's files included (as Metaflow's does)
    listed = subprocess.run([sys.executable, str(made["flow"]), "package", "list", "--archive"],
                            cwd=made["project"], env=hermetic_env(env), capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == sorted(files)
    pod, cache = tmp_path / "pod", tmp_path / "cache"
    pod.mkdir()
    pod_env = hermetic_env({"PYTHONPATH": str(made["shim"]), "HEADWATER_CODE_CACHE": str(cache)})
    assert_without_the_extension(pod_env, pod)
    Walk(template, "acme-1", {}, pod_env, pod).run()
    assert_the_task_used_the_packaged_extension(root, cache, tmp_path)


def test_braces_argo_would_expand_are_refused_on_the_command_line(tmp_path):
    """`create --tag 't-{{workflow.name}}'` used to compile a manifest whose tasks got the run's
    name as their tag (Argo expands `{{...}}` in a template's args); now `create` says which text
    holds the braces, and `trigger` refuses such a value before it reaches any cluster."""
    flow = tmp_path / "brace_flow.py"
    flow.write_text(
        "from headwater import FlowSpec, Parameter, step\n\n"
        "class BraceFlow(FlowSpec):\n"
        "    value = Parameter('value', default='x')\n\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n"
        "if __name__ == '__main__':\n    BraceFlow()\n")
    env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")})
    created = subprocess.run([sys.executable, str(flow), "argo-workflows", "create", "--only-json",
                              "--tag", "t-{{workflow.name}}"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert created.returncode != 0 and not created.stdout
    assert "--tag of the deployment of flow BraceFlow holds '{{'" in created.stderr
    assert "Traceback" not in created.stderr
    triggered = subprocess.run([sys.executable, str(flow), "argo-workflows", "trigger",
                                "--name", "braceflow", "--param", "value", "{{=1+1}}"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert triggered.returncode != 0
    assert "--param value '{{=1+1}}' holds '{{'" in triggered.stderr
    assert "Traceback" not in triggered.stderr


SECRET = "hunter2-s3cr3t-token"
CREATE_CONFIG = {"cpu": 3, "greeting": "from-create", "project": "made", "cron": "5 4 * * *",
                 "alpha": 7, "token": SECRET}


def test_create_time_configs_reach_the_deployed_run_and_stay_out_of_the_manifest(tmp_path):
    """`python flow.py --config settings prod.json argo-workflows create`: the configs are
    resolved at create, as `run` resolves them, and baked into the deployment (Metaflow's
    semantics). The compiled manifest holds what they decide (@resources, @project's name,
    @schedule's cron); the deployed run sees their values in its steps, in a decorator option
    each task evaluates (@environment) and in a parameter default; their values themselves are
    not written into the manifest (the token here is a credential)."""
    (tmp_path / "prod.json").write_text(json.dumps(CREATE_CONFIG))
    env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}
    proc = subprocess.run([sys.executable, str(FLOWS / "config_flow.py"), "--config", "settings",
                           "prod.json", "argo-workflows", "create", "--only-json"], cwd=tmp_path,
                          env=hermetic_env(env), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout
    template, cron = json.loads(proc.stdout)
    from hera.workflows.models import CronWorkflow, WorkflowTemplate

    _roundtrip(WorkflowTemplate, template)
    _roundtrip(CronWorkflow, cron)
    assert template["metadata"]["name"] == "made.user.tester.deployconfigflow"
    assert cron["kind"] == "CronWorkflow" and cron["spec"]["schedules"] == ["5 4 * * *"]
    start = _steps_of(template)["step-start"]
    assert start["container"]["resources"]["requests"]["cpu"] == "3"
    args = start["container"]["args"]
    assert "--configs" in args  # the key of the values in the datastore, not the values
    # A parameter default read from a config is evaluated by the start task, not copied here.
    assert template["spec"]["arguments"]["parameters"][0] == {"name": "alpha", "value": ""}
    pod = tmp_path / "pod"
    pod.mkdir()  # no prod.json here: the values come from the datastore
    Walk(template, "made-1", {}, hermetic_env(), pod).run()
    value = read_elsewhere(env, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("DeployConfigFlow").latest_run
        print(json.dumps({"ok": run.successful, "result": run["end"].task["result"].data,
                          "settings": dict(run["start"].task["settings"].data),
                          "tags": sorted(run.system_tags)}))
    """)
    assert value["ok"] is True
    assert value["result"] == {"greeting": "from-create", "token": SECRET, "env": "from-create",
                               "alpha": 7, "project": "made", "end_greeting": "from-create"}
    assert value["settings"] == CREATE_CONFIG  # the run records the configs it used
    assert "project:made" in value["tags"]


def test_executor_options_at_create_are_refused_naming_them(tmp_path):
    """`--executor dask` (or one of its options) before `create` would be dropped: the
    orchestrator runs a deployed run's tasks. Refused, naming the option and the fix."""
    env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")})
    for option in (("--executor", "dask"), ("--dask-address", "tcp://127.0.0.1:1"),
                   ("--progress", "lines")):
        proc = subprocess.run([sys.executable, str(FLOWS / "linear_flow.py"), *option,
                               "argo-workflows", "create", "--only-json"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0 and not proc.stdout, option
        assert f"{option[0]} does not apply to the deployment of flow DeployLinearFlow" \
            in proc.stderr, proc.stderr
        assert f"drop {option[0]}" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_max_workers_is_the_workflows_parallelism_and_a_stray_event_source_is_noted(tmp_path):
    """`create --max-workers 3` (Metaflow's option) bounds the pods of a run at once; an
    `--event-source` for a flow that listens to no event is said to be unused, not dropped
    without a word."""
    from hera.workflows.models import WorkflowTemplate

    env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}
    proc = subprocess.run([sys.executable, str(FLOWS / "linear_flow.py"), "argo-workflows",
                           "create", "--only-json", "--max-workers", "3", "--event-source",
                           "team-events"], cwd=tmp_path, env=hermetic_env(env),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    template = json.loads(proc.stdout)
    _roundtrip(WorkflowTemplate, template)
    assert template["spec"]["parallelism"] == 3
    assert "--event-source team-events is unused: flow DeployLinearFlow has no @trigger" \
        in proc.stderr
    assert "parallelism" not in _create("linear_flow.py", env, tmp_path)[0]["spec"]


_INCLUDE_FLOW = """
from headwater import FlowSpec, IncludeFile, step

class IncludeDeployFlow(FlowSpec):
    data = IncludeFile("data", default="data.txt")

    @step
    def start(self):
        self.got = self.data
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    IncludeDeployFlow()
"""


def test_an_include_files_default_is_read_at_create_for_every_deployed_run(tmp_path):
    """An IncludeFile's default file is on the deploying machine, not in the pods (each run's
    start used to fail looking for it there): `create` reads it, as Metaflow uploads it, and
    keeps the content in the datastore; a run given no value uses it. Missing at create (neither
    in the working folder nor beside the flow file), it is refused there, naming the parameter."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "include_flow.py").write_text(_INCLUDE_FLOW)
    (code / "data.txt").write_text("rows from the deploying machine\n")
    env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}
    proc = subprocess.run([sys.executable, "include_flow.py", "argo-workflows", "create",
                           "--only-json"], cwd=code, env=hermetic_env(env), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "rows from the deploying machine" not in proc.stdout
    pod = tmp_path / "pod"
    pod.mkdir()  # no data.txt here
    Walk(json.loads(proc.stdout), "inc-1", {}, hermetic_env(), pod).run()
    value = read_elsewhere(env, tmp_path / "reader", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("IncludeDeployFlow").latest_run
        print(json.dumps([run.successful, run["start"].task["got"].data]))
    """)
    assert value == [True, "rows from the deploying machine\n"]
    # From another folder the default is still found beside the flow file (newuser7); gone
    # from both places, create refuses it.
    (code / "data.txt").unlink()
    elsewhere = subprocess.run([sys.executable, str(code / "include_flow.py"), "argo-workflows",
                                "create", "--only-json"], cwd=pod, env=hermetic_env(env),
                               capture_output=True, text=True, timeout=120)
    assert elsewhere.returncode == 1 and not elsewhere.stdout
    assert "the default of IncludeFile 'data' of flow IncludeDeployFlow is read at create" \
        in elsewhere.stderr
    assert "Traceback" not in elsewhere.stderr
