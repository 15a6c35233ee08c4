"""The pieces of a deployment that are pure logic: task ids, scopes, schedules, triggers."""

from __future__ import annotations

import pytest

from headwater import FlowSpec, step
from headwater.deployers.plan import (
    DeployError,
    choices_read_safely,
    foreach_scopes,
    public_metadata_url,
    schedule_of,
    triggers_of,
)
from headwater.exceptions import FlowDefinitionError
from headwater.graph import check_flow
from headwater.runtime.deployed import DeployedRunError, path_of, task_id_for


def test_task_ids_are_foreach_paths_and_back():
    assert task_id_for(()) == "1"
    assert task_id_for((3,)) == "1-3"
    assert task_id_for((3, 0)) == "1-3-0"
    assert path_of("1-3-0") == (3, 0)
    with pytest.raises(DeployedRunError):
        path_of("7")


class Nested(FlowSpec):
    @step
    def start(self):
        self.xs = [1]
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.ys = [1]
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.ab)

    @step
    def b(self):
        self.next(self.ab)

    @step
    def ab(self, inputs):
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_foreach_scopes_follow_foreach_only():
    scopes = foreach_scopes(check_flow(Nested))
    assert scopes["start"] == ()
    assert scopes["outer"] == scopes["a"] == scopes["ab"] == ("start",)
    assert scopes["inner"] == ("start", "ab")
    assert scopes["inner_join"] == ("start",)
    assert scopes["outer_join"] == scopes["end"] == ()


def test_schedule_presets_and_cron_check():
    assert schedule_of("F", {})["cron"] == "0 0 * * *"
    assert schedule_of("F", {"hourly": True})["cron"] == "0 * * * *"
    assert schedule_of("F", {"weekly": True, "timezone": "UTC"}) == {"cron": "0 0 * * 0",
                                                                     "timezone": "UTC"}
    with pytest.raises(DeployError, match="cron"):
        schedule_of("F", {"cron": "every day"})
    # a line break inside five fields, a zone that is not one: refused now, not on the cluster
    with pytest.raises(DeployError, match="cron"):
        schedule_of("F", {"cron": "0 6 * *\n*"})
    for zone in ("Europe/Pari", "Europe/Paris\n  x: 1", "../../etc/passwd", 3):
        with pytest.raises(DeployError, match="timezone"):
            schedule_of("F", {"cron": "0 6 * * *", "timezone": zone})
    assert schedule_of("F", {"timezone": "Europe/Paris"})["timezone"] == "Europe/Paris"


def test_triggers_of_events_and_finished_flows():
    found = triggers_of("F", {
        "trigger": {"options": {"events": ["a", {"name": "b", "parameters": ["alpha"]}]}},
        "trigger_on_finish": {"options": {"flow": "Up"}}})
    assert [t["event"] for t in found] == ["a", "b", "headwater.Up.end"]
    assert found[1]["parameters"] == {"alpha": "alpha"}
    with pytest.raises(DeployError, match="event"):
        triggers_of("F", {"trigger": {"options": {"event": "no spaces allowed"}}})


def test_an_upstream_flow_is_of_this_flows_project_and_branch_unless_it_names_others():
    from headwater.runtime.project import ProjectInfo

    mine = ProjectInfo(project="shop", branch="user.alice", is_production=False,
                       is_user_branch=True, flow_name="shop.user.alice.Down")

    def events(upstream, project=mine):
        found = triggers_of("Down", {"trigger_on_finish": {"options": {"flows": upstream}}},
                            project=project)
        return [(t["event"], t["flow"]) for t in found]

    # A user's branch listens to that branch's upstream, never to production's runs.
    assert events(["Up"]) == [("headwater.shop.user.alice.Up.end", "Up")]
    assert events([{"name": "Up", "project_branch": "prod"}]) == [
        ("headwater.shop.prod.Up.end", "Up")]
    assert events([{"name": "Up", "project": "lab", "project_branch": "test.x"},
                   "lab.prod.staging.Up"]) == [
        ("headwater.lab.test.x.Up.end", "Up"), ("headwater.lab.prod.staging.Up.end", "Up")]
    # Without @project here: the upstream's plain name, or the project it names in full.
    assert events(["Up"], None) == [("headwater.Up.end", "Up")]
    assert events(["shop.prod.Up"], None) == [("headwater.shop.prod.Up.end", "Up")]
    with pytest.raises(DeployError, match="names a project_branch but not the other"):
        events([{"name": "Up", "project_branch": "prod"}], None)
    with pytest.raises(DeployError, match="neither a flow name"):
        events(["prod.Up"])


def test_a_deployed_end_task_publishes_its_projects_flow_name(tmp_path):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from headwater.runtime.deployed import publish_finished

    bodies = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        assert publish_finished(url, "Up", "argo-1", "shop.user.alice.Up")
        assert publish_finished(url, "Up", "argo-2")
    finally:
        server.shutdown()
        server.server_close()
    assert [b["name"] for b in bodies] == ["headwater.shop.user.alice.Up.end", "headwater.Up.end"]
    assert bodies[0]["payload"]["flow_name"] == "Up"  # what the downstream's client reads


def test_triggers_of_calls_deploy_time_functions():
    """xenonnn4w/metaflow-ga-testing's deploy-time trigger flows: a function may stand for the
    events, one event, its name, its parameters or the upstream flows; each is called with the
    context when the flow is deployed, and what it returns is checked like a fixed value."""
    from headwater.flow.parameters import ParameterContext

    ctx = ParameterContext("F", "alice", "trigger")
    seen = []

    def names(context):
        seen.append(context.user_name)
        return ["a", {"name": "b", "parameters": [("alpha", "field"), "beta"]}]

    found = triggers_of("F", {"trigger": {"options": {"events": names}}}, ctx)
    assert [(t["event"], t["parameters"]) for t in found] == [
        ("a", {}), ("b", {"alpha": "field", "beta": "beta"})]
    assert seen == ["alice"]
    found = triggers_of("F", {"trigger": {"options": {"event": {
        "name": lambda c: "c", "parameters": lambda c: {"gamma": "g"}}}}}, ctx)
    assert [(t["event"], t["parameters"]) for t in found] == [("c", {"gamma": "g"})]
    found = triggers_of("F", {"trigger_on_finish": {"options": {
        "flows": lambda c: ["Up", {"name": "Other", "project": "shop",
                                     "project_branch": "prod"}]}}}, ctx)
    assert [t["flow"] for t in found] == ["Up", "Other"]
    with pytest.raises(FlowDefinitionError, match="event name 3 returned"):
        triggers_of("F", {"trigger": {"options": {"event": {"name": lambda c: 3}}}}, ctx)
    with pytest.raises(FlowDefinitionError, match="raised ZeroDivisionError"):
        triggers_of("F", {"trigger": {"options": {"event": lambda c: 1 / 0}}}, ctx)


def test_trigger_shapes_neither_runtime_can_use_are_refused():
    from headwater.decorators.trigger_specs import check_options

    def fn(context):
        return "x"

    for deco, options, words in (
            ("trigger", {"event": {"name": "e", "parameters": {"a": fn}}}, "parameters of event 'e'"),
            ("trigger", {"event": {"name": "e", "parameters": [fn]}}, "parameters of event 'e'"),
            ("trigger", {"event": {"parameters": ["a"]}}, "give the event a 'name'"),
            ("trigger", {"event": "e", "events": ["f"]}, "not both"),
            ("trigger", {"events": ["e", "e"]}, "name each event once"),
            ("trigger", {"events": "e"}, "a list"),
            ("trigger", {}, "event= or events="),
            ("trigger_on_finish", {"flow": {"name": fn}}, "upstream flow"),
            ("trigger_on_finish", {"flows": "Up"}, "a list")):
        with pytest.raises(FlowDefinitionError, match="flow F") as caught:
            check_options("F", deco, options)
        assert words in str(caught.value), (options, str(caught.value))
    check_options("F", "trigger", {"event": {"name": fn, "parameters": fn}})  # called on deploy
    check_options("F", "trigger_on_finish", {"flow": fn})


def test_the_password_never_leaves_the_metadata_url():
    assert public_metadata_url("postgresql://u:pw@h:5432/db") == "postgresql://u@h:5432/db"
    assert public_metadata_url("/x/meta.sqlite") == "/x/meta.sqlite"
    assert (public_metadata_url("postgresql://u@h/db?sslmode=require&password=pw&PassWord=x")
            == "postgresql://u@h/db?sslmode=require")
    assert public_metadata_url("postgresql://u@h/db") == "postgresql://u@h/db"
    # typed without percent-encoding, or with an encoded key: still removed whole
    assert public_metadata_url("postgresql://u:p/w@h/db") == "postgresql://u@h/db"
    assert public_metadata_url("postgresql://u:p@w@h/db") == "postgresql://u@h/db"
    assert (public_metadata_url("postgresql://u@h/db?pass%77ord=pw&application_name=a@b")
            == "postgresql://u@h/db?application_name=a@b")


def _plan_with_parameter(name: str, tmp_path, orchestrator: str = "argo-workflows"):
    from headwater import Parameter
    from headwater.deployers.plan import build_plan
    from headwater.settings import Settings

    class ParamNameFlow(FlowSpec):
        value = Parameter(name, default="x")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    settings = Settings.resolve(datastore_root=str(tmp_path / ".headwater"))
    return build_plan(ParamNameFlow, settings, orchestrator=orchestrator, store_code=False)


@pytest.mark.parametrize(("name", "phrase"), [
    ("x}}-{{workflow.name", "Argo names hold only letters, digits, '-' and '_'"),
    ("learning rate", "Argo names hold only letters, digits, '-' and '_'"),
    ("headwater-trigger", "the deployment's own Argo parameter"),
])
def test_a_parameter_name_argo_cannot_hold_is_refused_at_create(name, phrase, tmp_path):
    """A ``}}`` would close the start step's ``{{workflow.parameters.NAME}}`` early and have
    Argo read the rest as an expression of its own; other names fail only at submit time, and
    ``headwater-trigger`` would be a second parameter of that name."""
    from headwater.deployers.argo.compile import ArgoOptions, compile_all

    plan = _plan_with_parameter(name, tmp_path)
    with pytest.raises(DeployError, match="ParamNameFlow") as err:
        compile_all(plan, ArgoOptions())
    assert phrase in err.value.msg and err.value.fix


def test_argo_parameter_names_with_dashes_and_underscores_deploy(tmp_path):
    from headwater.deployers.argo.compile import ArgoOptions, compile_all

    docs = compile_all(_plan_with_parameter("alpha-value_2", tmp_path), ArgoOptions())
    names = [p["name"] for p in docs[0]["spec"]["arguments"]["parameters"]]
    assert names == ["alpha-value_2", "headwater-trigger"]


def test_hostile_text_in_an_airflow_dag_file_stays_data(tmp_path):
    """Parameter names and defaults, tags and the interpreter's path are written into the DAG
    file as Python literals: quotes, line breaks and ``{{ }}`` in them never become code."""
    import ast
    import dataclasses
    import json

    from headwater.deployers.airflow.compile import AirflowOptions, dag_file

    hostile = "a\'\'\'\"\n\\\"\"\"); import os; os.system('x') #{{ dag_run.conf }}"
    plan = _plan_with_parameter(hostile, tmp_path, "airflow")
    plan.tags = ("t'\"); x = (\"",)
    plan.parameters = [dataclasses.replace(plan.parameters[0], default=hostile)]
    text = dag_file(plan, AirflowOptions(operator="local", python="/opt/py'\"thon"))
    tree = ast.parse(text)
    assigned = {node.targets[0].id: node.value for node in tree.body
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    assert ast.literal_eval(assigned["PARAMS"]) == [hostile]
    assert ast.literal_eval(assigned["PYTHON"]) == "/opt/py'\"thon"
    args = json.loads(ast.literal_eval(assigned["ARGS"].args[0]))
    assert args["start"][args["start"].index("--tag") + 1] == plan.tags[0]
    dag = next(node for node in ast.walk(tree) if isinstance(node, ast.With))
    params = next(k.value for k in dag.items[0].context_expr.keywords if k.arg == "params")
    assert ast.literal_eval(params) == {hostile: hostile}
    imports = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names]
    assert imports == ["json", "os", "subprocess", "tempfile"]  # the file's own, none added


@pytest.mark.parametrize("tag", ["../x", "a\x1b[2Jb", "/etc", "x" * 513])
def test_a_bad_tag_is_refused_at_create_not_in_every_deployed_run(tag, tmp_path):
    from headwater import Parameter
    from headwater.deployers.plan import build_plan
    from headwater.settings import Settings

    class TaggedFlow(FlowSpec):
        value = Parameter("value", default="x")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    settings = Settings.resolve(datastore_root=str(tmp_path / ".headwater"))
    with pytest.raises(DeployError, match="--tag of the deployment of TaggedFlow") as err:
        build_plan(TaggedFlow, settings, orchestrator="airflow", store_code=False, tags=(tag,))
    assert err.value.fix


def _hostile_argo_plan(tmp_path, default: str = "x", env_value: str = "v"):
    from headwater import Parameter, environment
    from headwater.deployers.plan import build_plan
    from headwater.settings import Settings

    class BraceFlow(FlowSpec):
        value = Parameter("value", default=default, help="a value")

        @environment(vars={"GREETING": env_value})
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    settings = Settings.resolve(datastore_root=str(tmp_path / ".headwater"))
    return build_plan(BraceFlow, settings, orchestrator="argo-workflows", store_code=False)


@pytest.mark.parametrize(("where", "text", "named"), [
    ("tag", "t-{{workflow.name}}", "--tag"),
    ("default", "{{=sprig.repeat(3, 'x')}}", "the default of parameter 'value'"),
    ("env", "hi {{workflow.parameters.value}}", "@environment variable GREETING of step 'start'"),
    ("with", "environment:vars={'A': '{{workflow.uid}}'}", "--with"),
    ("name", "prod{{item}}", "the deployed name"),
])
def test_text_argo_would_read_as_its_own_expression_is_refused_at_create(where, text, named,
                                                                         tmp_path):
    """Argo expands ``{{...}}`` in templates and parameter values and has no escape: a tag such
    as ``t-{{workflow.name}}`` reached the task as ``t-<the run's name>`` (before, the manifest
    carried it as it was), and ``{{=...}}`` is an expression Argo evaluates."""
    from headwater.deployers.argo.compile import ArgoOptions, compile_all

    plan = _hostile_argo_plan(tmp_path, default=text if where == "default" else "x",
                              env_value=text if where == "env" else "v")
    if where == "tag":
        plan.tags = (text,)
    elif where == "with":
        plan.with_specs = (text,)
    elif where == "name":
        plan.name = text
    with pytest.raises(DeployError, match="BraceFlow") as err:
        compile_all(plan, ArgoOptions())
    assert named in err.value.msg and "'{{'" in err.value.msg and err.value.fix


def test_an_argo_option_holding_braces_is_refused_by_the_manifest_net(tmp_path):
    from headwater.deployers.argo.compile import ArgoOptions, compile_all

    with pytest.raises(DeployError, match="--image"):
        compile_all(_hostile_argo_plan(tmp_path), ArgoOptions(image="img:{{workflow.uid}}"))
    plan = _hostile_argo_plan(tmp_path)  # a text no source list names: the net catches it
    plan.triggers = [{"event": "ready", "parameters": {"value": "field{{workflow.uid}}"}}]
    with pytest.raises(DeployError, match="manifest's .*dataKey"):
        compile_all(plan, ArgoOptions())


def test_hostile_text_in_an_argo_manifest_round_trips_as_data(tmp_path):
    """Quotes, line breaks, YAML's specials (``: ``, ``#``, anchors, ``{`` ``}``), backslashes
    and other scripts reach the manifest exactly, read back as JSON and as YAML (kubectl's
    reading of a manifest saved as .yaml)."""
    import yaml

    from headwater.deployers.argo.compile import ArgoOptions, compile_all, to_json

    hostile = ("a: b # c\n- &x *x !!python/object:os.system '\"\"\"\\ {\"k\": [1]} "
               "}} ünï ✓ \u2028 %s ${HOME} $(id)")
    plan = _hostile_argo_plan(tmp_path, default=hostile, env_value=hostile)
    plan.tags = (hostile.replace("\n", " "),)
    text = to_json(compile_all(plan, ArgoOptions()))
    for doc in (json_loads(text), yaml.safe_load(text)):
        spec = doc["spec"]
        assert spec["arguments"]["parameters"][0]["value"] == hostile
        start = next(t for t in spec["templates"] if t["name"] == "step-start")["container"]
        assert {"name": "GREETING", "value": hostile} in start["env"]
        args = start["args"]
        assert args[args.index("--tag") + 1] == plan.tags[0]
        assert args[args.index("--param") + 2] == "{{workflow.parameters.value}}"


def json_loads(text: str):
    import json

    return json.loads(text)


@pytest.mark.parametrize(("field", "text"), [
    ("image", "reg/img:{{ conn.db.password }}"), ("namespace", "ns{% raw %}"),
    ("username", "ana{{ var.value.token }}")])
def test_jinja_in_a_field_the_pod_operator_renders_is_refused(field, text, tmp_path):
    """KubernetesPodOperator renders image, namespace and env_vars (HEADWATER_USER) as Jinja,
    where ``{{ conn.db.password }}`` would put a connection's password into the pod; before,
    the DAG file carried such text as it was."""
    import dataclasses

    from headwater.deployers.airflow.compile import AirflowOptions, dag_file

    plan = _plan_with_parameter("value", tmp_path, "airflow")
    options = AirflowOptions()
    if field == "username":
        plan.username = text
    else:
        options = dataclasses.replace(options, **{field: text})
    with pytest.raises(DeployError, match="ParamNameFlow") as err:
        dag_file(plan, options)
    assert "Jinja" in err.value.msg and err.value.fix
    dag_file(plan, dataclasses.replace(options, operator="local"))  # nothing of ours rendered


@pytest.mark.parametrize("orchestrator", ["argo-workflows", "airflow"])
def test_an_inline_secret_given_with_with_is_refused_at_create_without_showing_it(
        orchestrator, tmp_path):
    """Before, its value was written in clear into every task's arguments in the manifest."""
    from headwater.deployers.plan import build_plan
    from headwater.settings import Settings

    settings = Settings.resolve(datastore_root=str(tmp_path / ".headwater"))
    spec = 'secrets:sources=[{"type": "inline", "options": {"env_vars": {"KEY": "s3cr3t-v4l"}}}]'
    with pytest.raises(DeployError, match="inline source") as err:
        build_plan(Nested, settings, orchestrator=orchestrator, store_code=False,
                   with_specs=("retry", spec))
    assert "--with number 2" in err.value.msg and "s3cr3t-v4l" not in str(err.value)
    plan = build_plan(Nested, settings, orchestrator=orchestrator, store_code=False,
                      with_specs=('secrets:sources=["env.KEYS"]',))  # a store's name: fine
    assert plan.with_specs == ('secrets:sources=["env.KEYS"]',)


@pytest.mark.parametrize("name", ["prod\nx", "a/../b", "x" * 600])
def test_a_deployed_name_no_run_could_be_tagged_with_is_refused_at_create(name, tmp_path):
    """Every deployed run is tagged ``deployment:<name>``: before, such a name compiled, and
    every run of the deployment then failed at its start task."""
    from headwater.deployers.plan import build_plan
    from headwater.settings import Settings

    settings = Settings.resolve(datastore_root=str(tmp_path / ".headwater"))
    with pytest.raises(DeployError, match="--name") as err:
        build_plan(Nested, settings, orchestrator="airflow", store_code=False, name=name)
    assert err.value.fix


def test_deployed_values_keep_small_and_large_configs_pinned_under_a_key_that_hides_them(
        tmp_path):
    """The configs `create` resolved go to the datastore: a small value inside the document, a
    large one in a blob of its own, both pinned (no run refers to them until the deployment
    first runs); the document's key is not a function of the values (a nonce), so a manifest
    holding it tells nothing about a small secret."""
    from headwater.exceptions import HeadwaterException
    from headwater.flow.config import ConfigValue
    from headwater.runtime.deployed_values import load_deployed_values, save_deployed_values
    from headwater.store import open_datastore

    small = ConfigValue({"token": "hunter2"})
    large = ConfigValue({"rows": [f"row {i:04d} " * 4 for i in range(200)]})
    with open_datastore(str(tmp_path / "ds")) as store:
        key = save_deployed_values(store, "F", {"small": small, "large": large},
                                   {"data": "included text"})
        again = save_deployed_values(store, "F", {"small": small, "large": large},
                                     {"data": "included text"})
        assert key != again
        kept = load_deployed_values(store, key, "F")
        assert kept.configs["small"].inline is not None
        assert kept.configs["large"].inline is None
        pins = {p.name for p in (tmp_path / "ds" / "pins").iterdir()}
        assert {key, kept.configs["large"].key} <= pins
        assert store.load_artifact(kept.configs["large"], name="large", where="F") == large
        assert store.load_artifact(kept.configs["small"], name="small", where="F") == small
        assert store.load_artifact(kept.defaults["data"], name="data", where="F") == \
            "included text"
        junk = store.save_bytes(b'{"format": "other"}').key
        with pytest.raises(HeadwaterException, match="configs of the deployed flow F") as err:
            load_deployed_values(store, junk, "F")
        assert "re-create the deployment" in (err.value.fix or "")
    assert "hunter2" not in key


def test_the_plan_is_built_with_the_configs_given_to_create(tmp_path):
    """`--config-value` at create decides @project's name, @schedule's cron and the step
    policies the deployment compiles; a parameter default read from a config is left for the
    start task (no config value copied into the document)."""
    from headwater import Config, Parameter, config_expr, project, resources, schedule
    from headwater.deployers.plan import build_plan
    from headwater.runtime.configs import ConfigSources
    from headwater.settings import Settings

    @project(name=config_expr("cfg.project"))
    @schedule(cron=config_expr("cfg.cron"), timezone=config_expr("cfg.zone"))
    class ConfiguredPlanFlow(FlowSpec):
        cfg = Config("cfg", default_value={"project": "p", "cron": "0 1 * * *", "zone": "UTC",
                                           "cpu": 1, "alpha": 1})
        alpha = Parameter("alpha", default=config_expr("cfg.alpha"))

        @resources(cpu=config_expr("cfg.cpu"))
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    given = ('{"project": "given", "cron": "7 3 * * 1", "zone": "Europe/Paris", "cpu": 5, '
             '"alpha": 9}')
    settings = Settings.resolve(datastore_root=str(tmp_path / ".headwater"))
    plan = build_plan(ConfiguredPlanFlow, settings, orchestrator="argo-workflows",
                      store_code=False, configs=ConfigSources(values=(("cfg", given),)))
    assert plan.name == f"given.user.{plan.username}.ConfiguredPlanFlow"
    assert plan.schedule == {"cron": "7 3 * * 1", "timezone": "Europe/Paris"}
    assert plan.policies["start"].resources["cpu"] == 5
    assert [(p.name, p.default) for p in plan.parameters] == [("alpha", "")]
    assert plan.configs_key == ""  # nothing stored without store_code



class CasesMeet(FlowSpec):
    """A static split: in 'left', conditional 'pick' chooses 'deep' or 'shallow', and 'deep'
    leads to 'shallow' too; in 'right', conditional 'route' chooses 'inner' (itself a
    conditional choosing 'meet' or 'skip') or 'other', and 'other' leads to 'meet' too."""

    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.k = "deep"
        self.next({"deep": self.deep, "shallow": self.shallow}, condition="k")

    @step
    def deep(self):
        self.next(self.shallow)

    @step
    def shallow(self):
        self.next(self.join)

    @step
    def right(self):
        self.c = "inner"
        self.next({"inner": self.inner, "other": self.other}, condition="c")

    @step
    def inner(self):
        self.d = "meet"
        self.next({"meet": self.meet, "skip": self.skip}, condition="d")

    @step
    def skip(self):
        self.next(self.merge)

    @step
    def other(self):
        self.next(self.meet)

    @step
    def meet(self):
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_shared_case_is_safe_only_when_its_conditional_always_ran_before_it():
    graph = check_flow(CasesMeet)
    # 'left' is on a static branch: it has run whenever 'shallow' runs
    assert choices_read_safely(graph, "shallow", "left")
    # 'inner' runs only when 'route' chose it, but 'meet' also runs after 'other'
    assert not choices_read_safely(graph, "meet", "inner")
