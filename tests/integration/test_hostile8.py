"""The eighth hostile-input audit: a flow file changed under a resume, deployments whose names
the cluster cannot tell apart, and Runner arguments no command line can carry. Each test runs
the real thing (``python flow.py`` runs, the Runner's child process) or the real compiler."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from .faultkit import client, env_for, hw
from .flowrun import write_flow

# -- resume after the flow file changed ------------------------------------------------------

BEFORE = '''
from headwater import FlowSpec, step


class ChangedFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.items = [1, 2]
        self.next(self.old)

    @step
    def old(self):
        self.y = 2
        self.next(self.end)

    @step
    def end(self):
        print("end of the old flow")


if __name__ == "__main__":
    ChangedFlow()
'''

# The step after start was renamed: the origin's start task went to a step there is no more.
RENAMED = BEFORE.replace("self.old", "self.new").replace("def old", "def new")

# start now fans out: the origin's start task went on linearly and stored no items.
FANS_OUT = '''
from headwater import FlowSpec, step


class ChangedFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.items = [1, 2]
        self.next(self.old, foreach="items")

    @step
    def old(self):
        self.y = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ys = sorted(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("end of the new flow", self.ys)


if __name__ == "__main__":
    ChangedFlow()
'''


def test_a_resume_after_the_flow_changed_where_a_step_goes_runs_that_step_again(tmp_path):
    """Before: the clone of ``start`` sent the run on to ``old``, which the flow no longer has:
    a ``KeyError: 'old'`` traceback, and a run recorded failed with no task at all."""
    flow = write_flow(tmp_path, "changed_flow.py", BEFORE)
    first = hw(flow, "run", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    for source, expected in ((RENAMED, "end of the old flow"),
                             (FANS_OUT, "end of the new flow [1, 2]")):
        flow.write_text(source.lstrip("\n"))
        proc = hw(flow, "resume", "--origin-run-id", "1", cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "Traceback" not in out and "KeyError" not in out, out
        assert expected in out
        assert "Not cloned: in ChangedFlow/1 step 'start' went on to old" in out, out
    client(tmp_path)
    from headwater import Flow

    runs = {run.id: run for run in Flow("ChangedFlow")}
    assert sorted(runs) == ["1", "2", "3"]
    assert all(run.successful for run in runs.values())
    assert sorted(step.id for step in runs["2"]) == ["end", "new", "start"]
    assert runs["3"]["join"].task.data.ys == [1, 2]


def test_a_resume_of_an_unchanged_flow_still_clones_what_succeeded(tmp_path):
    flow = write_flow(tmp_path, "changed_flow.py", FANS_OUT.replace(
        'print("end of the new flow", self.ys)', 'raise RuntimeError("not yet")'))
    first = hw(flow, "run", cwd=tmp_path)
    assert first.returncode != 0
    flow.write_text(FANS_OUT.lstrip("\n"))
    proc = hw(flow, "resume", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert out.count("Cloning results of a previously successful task") == 4, out
    assert "Not cloned" not in out


# -- Argo: deployments whose Kubernetes names would be the same --------------------------------

PROJECT_FLOW = '''
from headwater import FlowSpec, project, step


@project(name="recommendations")
class {name}(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    {name}()
'''
LONG_BRANCH = "feature-improve-the-ranking-of-search-results"


def _argo_documents(tmp_path, flow_name: str, *create_options: str) -> list[dict]:
    flow = write_flow(tmp_path, f"{flow_name.lower()}.py",
                      PROJECT_FLOW.replace("{name}", flow_name))
    proc = subprocess.run([sys.executable, str(flow), "--branch", LONG_BRANCH,
                           "argo-workflows", "create", "--only-json", *create_options], cwd=tmp_path,
                          env=env_for(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = json.loads(proc.stdout)
    return docs if isinstance(docs, list) else [docs]


def test_two_flows_of_a_long_branch_deploy_under_two_names(tmp_path):
    """Before: both names were cut at 63 characters to
    ``recommendations.test.feature-improve-the-ranking-of-search-resu``, and the second
    `create` replaced the first flow's template."""
    names = set()
    for flow_name in ("RankingTrainingFlow", "RankingScoringFlow"):
        template = _argo_documents(tmp_path, flow_name)[0]
        name = template["metadata"]["name"]
        assert len(name) <= 63 and re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", name), name
        assert name.startswith("recommendations.test.feature-improve")
        annotations = template["metadata"]["annotations"]
        assert annotations["headwater.dev/deployment"] == (
            f"recommendations.test.{LONG_BRANCH}.{flow_name}")
        names.add(name)
    assert len(names) == 2


class _FakeArgo:
    """The few calls `apply` makes of the Kubernetes client's CustomObjectsApi, on a dict."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict] = {}

    def _missing(self, name: str) -> Exception:
        error = Exception(f"{name} not found")
        error.status = 404  # type: ignore[attr-defined]
        return error

    def get_namespaced_custom_object(self, group, version, ns, plural, name):
        if (plural, name) not in self.objects:
            raise self._missing(name)
        return self.objects[plural, name]

    def create_namespaced_custom_object(self, group, version, ns, plural, doc):
        doc = json.loads(json.dumps(doc))  # what the server keeps is its own copy
        doc["metadata"]["resourceVersion"] = "1"
        self.objects[plural, doc["metadata"]["name"]] = doc

    def replace_namespaced_custom_object(self, group, version, ns, plural, name, doc):
        self.objects[plural, name] = json.loads(json.dumps(doc))

    def delete_namespaced_custom_object(self, group, version, ns, plural, name):
        if self.objects.pop((plural, name), None) is None:
            raise self._missing(name)


@pytest.mark.parametrize("who", ["another deployment", "an older headwater", "not headwater"])
def test_create_never_replaces_a_document_of_another_deployment_with_the_same_name(
        tmp_path, monkeypatch, who):
    """``TrainFlow`` and ``Trainflow`` (or branches ``feat_x`` and ``feat-x``) have one
    Kubernetes name; a workflow template of that name may not be headwater's at all. Before,
    `create` replaced whatever document had the name."""
    from headwater.deployers.argo import cluster
    from headwater.exceptions import HeadwaterException

    fake = _FakeArgo()
    monkeypatch.setattr(cluster, "_api", lambda: fake)
    first = _argo_documents(tmp_path, "TrainFlow", "--name", "Train_Flow")
    # A deployment applied earlier, as `create` leaves it.
    assert cluster.apply(first, "team") == [f"WorkflowTemplate/{first[0]['metadata']['name']}"]
    stored = fake.objects["workflowtemplates", "train-flow"]
    if who == "an older headwater":
        stored["metadata"]["annotations"].pop("headwater.dev/deployment")
        stored["metadata"]["annotations"]["headwater.dev/flow-name"] = "OtherFlow"
    elif who == "not headwater":
        stored["metadata"]["labels"] = {}
    before = json.dumps(stored, sort_keys=True)
    second = _argo_documents(tmp_path, "TrainFlow", "--name", "train-flow")
    assert second[0]["metadata"]["name"] == "train-flow"
    with pytest.raises(HeadwaterException) as caught:
        cluster.apply(second if who == "another deployment" else first, "team")
    text = str(caught.value)
    assert "WorkflowTemplate train-flow in namespace team" in text
    assert ("not made by headwater" in text) == (who == "not headwater")
    assert "--name" in text
    assert json.dumps(fake.objects["workflowtemplates", "train-flow"], sort_keys=True) == before
    # The same deployment again is replaced, as before.
    if who == "another deployment":
        assert cluster.apply(first, "team") == ["WorkflowTemplate/train-flow"]


def test_delete_never_removes_a_document_headwater_did_not_make(tmp_path, monkeypatch):
    """A flow whose Kubernetes name another tool's template has: `argo-workflows delete` of the
    flow deleted that template. Before: deleted by name, whoever made it."""
    from headwater.deployers.argo import cluster
    from headwater.exceptions import HeadwaterException

    fake = _FakeArgo()
    monkeypatch.setattr(cluster, "_api", lambda: fake)
    fake.objects["workflowtemplates", "etl"] = {
        "kind": "WorkflowTemplate", "metadata": {"name": "etl", "resourceVersion": "7"}}
    fake.objects["cronworkflows", "etl"] = {
        "kind": "CronWorkflow", "metadata": {"name": "etl", "labels": {
            "app.kubernetes.io/managed-by": "headwater"}, "resourceVersion": "8"}}
    with pytest.raises(HeadwaterException, match="WorkflowTemplate etl in namespace team was "
                       "not made by headwater"):
        cluster.delete("etl", "team")
    assert set(fake.objects) == {("workflowtemplates", "etl"), ("cronworkflows", "etl")}
    del fake.objects["workflowtemplates", "etl"]
    assert cluster.delete("etl", "team") == ["CronWorkflow/etl"]
    assert fake.objects == {}


# -- the Runner and Deployer: a NUL in what they pass on -----------------------------------------

RUNNER_FLOW = '''
from headwater import FlowSpec, Parameter, step


class NulFlow(FlowSpec):
    alpha = Parameter("alpha", default="x")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NulFlow()
'''


@pytest.mark.parametrize(("call", "named"), [
    (lambda runner: runner.run(alpha="a\x00b"), "--alpha"),
    (lambda runner: runner.run(tags=["ok", "a\x00b"]), "--tag"),
    (lambda runner: runner.resume(step="end\x00"), "'end\\x00'"),
], ids=["parameter", "tag", "resume-step"])
def test_a_nul_the_runner_cannot_pass_on_is_named(tmp_path, monkeypatch, call, named):
    """Before: ``ValueError: embedded null byte`` from subprocess, naming nothing."""
    from headwater import Runner
    from headwater.exceptions import HeadwaterException

    flow = write_flow(tmp_path, "nul_flow.py", RUNNER_FLOW)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HeadwaterException) as caught:
        call(Runner(str(flow), env=env_for(tmp_path)))
    text = str(caught.value)
    assert named in text and "NUL" in text and "nul_flow.py" in text, text


def test_a_nul_in_the_runners_or_deployers_environment_is_named(tmp_path, monkeypatch):
    from headwater import Deployer, Runner
    from headwater.exceptions import HeadwaterException

    flow = write_flow(tmp_path, "nul_flow.py", RUNNER_FLOW)
    monkeypatch.chdir(tmp_path)
    env = {**env_for(tmp_path), "MY_SETTING": "a\x00b"}
    with pytest.raises(HeadwaterException, match="environment variable 'MY_SETTING'"):
        Runner(str(flow), env=env).run()
    with pytest.raises(HeadwaterException, match="--image"):
        Deployer(str(flow), env=env_for(tmp_path)).argo_workflows(image="img\x00").create()


# -- a deployed start task: the event body anyone who can post to the webhook chooses ----------

@pytest.mark.parametrize("body", ["[" * 100_000, "[1]", '"text"', "{not json"],
                         ids=["nested-past-the-stack", "no-object", "a-string", "not-json"])
def test_an_event_body_that_is_no_event_is_refused_naming_the_run(tmp_path, body):
    """Before: a ``RecursionError`` or ``JSONDecodeError`` traceback, or (``[1]``) a trigger
    recorded with the run that every reader of ``Run.trigger`` took for a damaged database."""
    proc = subprocess.run(
        [sys.executable, "-m", "headwater.cli.deployed_task_cmd", "start", "--task-id", "1",
         "--run-key", "wf-abc", "--code", '{"class": "EventFlow"}', "--trigger", body],
        cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in out, out[-3000:]
    assert "EventFlow step 'start' (orchestrator's run 'wf-abc')" in out, out[-3000:]
    assert "not a JSON object or a list of them" in out
    assert not (tmp_path / ".headwater").exists()  # nothing was recorded


# -- @environment: variables no environment can hold --------------------------------------------

ENV_FLOW = '''
from headwater import FlowSpec, environment, step


class EnvVarFlow(FlowSpec):
    @environment(vars=VARS)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvVarFlow()
'''


@pytest.mark.parametrize(("given", "named"), [
    ('{"A=B": "1"}', "'A=B' cannot name an environment variable"),
    ('{"": "1"}', "'' cannot name an environment variable"),
    ('{"A": "x\\x00y"}', "the value of A holds a NUL character"),
], ids=["equals-sign", "empty-name", "nul-value"])
def test_an_environment_variable_no_environment_can_hold_is_refused_before_the_run(
        tmp_path, given, named):
    """Before: the run was recorded, its task failed with a bare ``ValueError: illegal
    environment variable name`` (or ``embedded null byte``), naming neither step nor variable."""
    flow = write_flow(tmp_path, "env_var_flow.py", ENV_FLOW.replace("VARS", given))
    proc = hw(flow, "run", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert named in out and "@environment(vars=" in out, out
    assert "Workflow starting" not in out and "ValueError" not in out, out


def test_an_environment_variable_given_with_with_is_checked_the_same_way(tmp_path):
    flow = write_flow(tmp_path, "env_var_flow.py", ENV_FLOW.replace("VARS", "{}"))
    proc = hw(flow, "run", "--with", 'environment:vars={"X=Y": "1"}', cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "--with environment:vars=" in out and "'X=Y' cannot name" in out, out
    assert "Workflow starting" not in out


# -- gc with a metadata database that holds another store's runs ---------------------------------

STORE_FLOW = '''
from headwater import FlowSpec, step


class StoreFlow(FlowSpec):
    @step
    def start(self):
        self.data = "WHICH" * 10_000  # a blob, not an inline value
        print("WHICH run")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StoreFlow()
'''


HEADWATER = [sys.executable, "-c", "from headwater.cli.main import main; main()"]


def _blobs(root) -> set[str]:
    return {path.name for path in (root / "blobs").rglob("*") if path.is_file()}


def test_gc_against_another_stores_metadata_deletes_nothing(tmp_path):
    """`headwater gc --datastore-root <team store>` started in a project whose own .headwater/
    has runs: every blob of the team store looked unused and went (the empty-database check
    did not fire: that database has flows)."""
    team, mine = tmp_path / "team", tmp_path / "mine"
    for folder, word in ((team, "TEAM"), (mine, "MINE")):
        folder.mkdir()
        flow = write_flow(folder, "store_flow.py", STORE_FLOW.replace("WHICH", word))
        proc = hw(flow, "run", cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    team_root, my_root = team / ".headwater", mine / ".headwater"
    before = _blobs(team_root)
    assert before
    wrong = ["--datastore-root", str(team_root), "--metadata", str(my_root / "meta.sqlite")]
    for dry in ([], ["--dry-run"]):
        proc = subprocess.run([*HEADWATER, "gc", "--grace", "0",
                               *dry, *wrong], cwd=mine, env=env_for(mine), capture_output=True,
                              text=True, timeout=120)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, out
        assert "not one of which is in this store" in out and "--metadata" in out, out
        assert "Traceback" not in out
    assert _blobs(team_root) == before
    # The right pairing still collects (nothing is unused here, so nothing goes).
    right = ["--datastore-root", str(team_root), "--metadata", str(team_root / "meta.sqlite")]
    proc = subprocess.run([*HEADWATER, "gc", "--grace", "0",
                           *right], cwd=team, env=env_for(team), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Freed 0 blob(s)" in proc.stdout
    assert _blobs(team_root) == before


# -- @cache with one metadata database serving two stores ---------------------------------------

CACHE_FLOW = '''
from headwater import FlowSpec, cache, step


class SharedCacheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.heavy)

    @cache
    @step
    def heavy(self):
        self.big = "B" * 100_000
        print("heavy computed")
        self.next(self.end)

    @step
    def end(self):
        print("end read", len(self.big))


if __name__ == "__main__":
    SharedCacheFlow()
'''


def test_a_cache_hit_whose_data_is_in_another_store_runs_the_step_instead(tmp_path):
    """Before: the task found under the same key had been run against another store (a
    laptop's folder and a team's bucket sharing one database); it was reused, and the next
    step failed: "its blob ... is missing"."""
    flow = write_flow(tmp_path, "shared_cache_flow.py", CACHE_FLOW)
    database = tmp_path / "shared" / "meta.sqlite"
    database.parent.mkdir()

    def run(store: str) -> str:
        proc = hw(flow, "--datastore-root", str(tmp_path / store), "--metadata", str(database),
                  "run", cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "end read 100000" in out
        return out

    assert "heavy computed" in run("laptop")
    assert "heavy computed" in run("bucket")  # its data is in the laptop's store only
    again = run("bucket")
    assert "reused from cache: SharedCacheFlow/2/heavy" in again and "heavy computed" not in again


# -- integers longer than Python converts (4,300 digits) -----------------------------------------

BIG_FLOW = '''
from headwater import FlowSpec, JSONType, Parameter, step


class BigNumberFlow(FlowSpec):
    j = Parameter("j", type=JSONType, default="{}")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigNumberFlow()
'''
HUGE = "1" * 5000


def test_an_integer_longer_than_python_reads_is_named_not_a_traceback(tmp_path, monkeypatch):
    """Before: ``ValueError: Exceeds the limit (4300 digits) for integer string conversion``
    tracebacks from a JSONType parameter, METAFLOW_FLOW_CONFIG_VALUE, and the Runner."""
    flow = write_flow(tmp_path, "big_number_flow.py", BIG_FLOW)
    proc = hw(flow, "run", "--j", f"[{HUGE}]", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out[-2000:]
    assert "parameter 'j' expects JSON" in out and "more than 4300 digits" in out
    proc = hw(flow, "run", cwd=tmp_path, METAFLOW_FLOW_CONFIG_VALUE=f'{{"c": {HUGE}}}')
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out[-2000:]
    assert "METAFLOW_FLOW_CONFIG_VALUE holds an integer of more than 4300 digits" in out

    from headwater import Runner
    from headwater.exceptions import HeadwaterException

    monkeypatch.chdir(tmp_path)
    with pytest.raises(HeadwaterException, match="parameter 'j': its value holds an integer"):
        Runner(str(flow), env=env_for(tmp_path)).run(j=[10 ** 5000])


# -- dump of values built to expand, or refusing, when printed -------------------------------------

EXPANDING_FLOW = '''
from headwater import FlowSpec, step


class Refuses:
    def __repr__(self):
        raise RuntimeError("no repr for you")


class ExpandingFlow(FlowSpec):
    @step
    def start(self):
        a = []
        for _ in range(40):
            a = [a, a]
        self.boom = a  # a few hundred bytes of pickle; 2**40 items in a full repr
        self.huge = 10 ** 5000  # more digits than Python prints
        self.refuses = Refuses()
        self.small = [1, 2, 3]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExpandingFlow()
'''


def test_dump_and_spin_show_values_built_to_expand_or_refuse_when_printed_in_bounded_work(
        tmp_path):
    """Before: `dump` never finished on ``boom`` (its full repr), and ``huge`` or a raising
    ``__repr__`` ended the listing with a ``ValueError``/``RuntimeError`` traceback."""
    flow = write_flow(tmp_path, "expanding_flow.py", EXPANDING_FLOW)
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = hw(flow, "dump", "1/start/1", "--max-value-size", "100000", cwd=tmp_path, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in out, out[-3000:]
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    # (bounded by a budget of text since the fifth differential round, not at depth 3)
    assert "[[[[" in rows["boom"] and "[...]" in rows["boom"] and len(rows["boom"]) < 2200
    assert "<int: repr failed: Exceeds the limit (4300 digits)" in rows["huge"]
    assert "<Refuses instance at " in rows["refuses"]
    assert rows["small"].endswith("[1, 2, 3]")
    # spin prints the artifacts the spun task made, the same way (it hung on boom too).
    proc = hw(flow, "spin", "1/start/1", cwd=tmp_path, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in out, out[-3000:]
    assert "boom = [[[[" in out and "[...]" in out and "huge = <int: repr failed" in out


# -- counts larger than the database holds ---------------------------------------------------------

def test_a_count_larger_than_the_database_holds_lists_every_run(tmp_path):
    """Before: ``OverflowError: Python int too large to convert to SQLite INTEGER``."""
    flow = write_flow(tmp_path, "store_flow.py", STORE_FLOW.replace("WHICH", "ANY"))
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    huge = "9" * 30
    for argv in ([sys.executable, str(flow), "runs", "-n", huge], [*HEADWATER, "runs", "-n", huge]):
        proc = subprocess.run(argv, cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                              text=True, timeout=120)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "Traceback" not in out, out
        assert "StoreFlow/1" in out
    from headwater.meta import open_metadata

    with open_metadata(str(tmp_path / ".headwater" / "meta.sqlite")) as meta:
        assert [row.run_id for row in meta.list_runs("StoreFlow", limit=10 ** 30)] == ["1"]
        assert len(meta.list_tasks("StoreFlow", "1", limit=10 ** 30)) == 2
        assert meta.page_tasks("StoreFlow", "1", limit=10 ** 30, offset=10 ** 30) == []
        rows, more = meta.page_runs(limit=10 ** 30, offset=10 ** 30)
        assert (rows, more) == ([], False)


def test_a_resume_of_a_run_older_than_a_new_parameter_or_config_is_refused_naming_it(tmp_path):
    """Before: the run was recorded and the first step reading the new parameter failed with
    "no artifact or attribute 'threshold'" (Metaflow: an internal KeyError)."""
    flow = write_flow(tmp_path, "changed_flow.py", BEFORE)
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    flow.write_text(BEFORE.lstrip("\n").replace(
        "from headwater import FlowSpec, step",
        "from headwater import FlowSpec, Parameter, step").replace(
        "class ChangedFlow(FlowSpec):",
        "class ChangedFlow(FlowSpec):\n    threshold = Parameter('threshold', default=0.5)\n"
        "    label = Parameter('label', default='x')"))
    proc = hw(flow, "resume", "end", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out
    assert ("parameter 'threshold', parameter 'label' of flow ChangedFlow came after run "
            "ChangedFlow/1") in out, out
    assert "Workflow starting" not in out
    client(tmp_path)
    from headwater import Flow

    assert [run.id for run in Flow("ChangedFlow")] == ["1"]
    # A config added since is refused the same way.
    flow.write_text(BEFORE.lstrip("\n").replace(
        "from headwater import FlowSpec, step",
        "from headwater import Config, FlowSpec, step").replace(
        "class ChangedFlow(FlowSpec):",
        "class ChangedFlow(FlowSpec):\n    settings = Config('settings', default_value={'a': 1})"))
    proc = hw(flow, "resume", "end", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out
    assert "config 'settings' of flow ChangedFlow came after run ChangedFlow/1" in out, out


# -- a deployed run's end task announcing itself to the events webhook -----------------------------

class _Recorder:
    """A real HTTP server on loopback answering every request with ``status`` (a redirect to
    ``location`` when given, else ``body``), keeping each request's method and Authorization."""

    def __init__(self, status: int = 200, location: str | None = None, body: bytes = b"") -> None:
        import http.server
        import threading

        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append((self.command, self.headers.get("Authorization")))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_end_tasks_announcement_never_follows_a_redirect_with_its_token(monkeypatch,
                                                                             capsys):
    """Round 5 stopped `ArgoEvent.publish` from following a redirect; the end task of a deployed
    run (`publish_finished`, @trigger_on_finish's event) still did: urllib resent the request,
    bearer token included, as a GET to whatever host the 302 named, and read any answer whole."""
    from headwater.runtime.deployed import publish_finished

    token = "tok-8c1d-SECRET"
    monkeypatch.setenv("HEADWATER_EVENTS_TOKEN", token)
    elsewhere = _Recorder()
    hook = _Recorder(302, f"http://localhost:{elsewhere.port}/collect")
    try:
        sent = publish_finished(f"http://127.0.0.1:{hook.port}/hook", "EndFlow", "argo-7")
    finally:
        hook.close()
        elsewhere.close()
    assert sent is False
    assert hook.seen == [("POST", f"Bearer {token}")]
    assert elsewhere.seen == []
    err = capsys.readouterr().err
    assert "answered with a redirect (HTTP 302)" in err and token not in err
    # A webhook that accepts the event is still told, once.
    hook = _Recorder(200, body=b"x" * 1_000_000)
    try:
        assert publish_finished(f"http://127.0.0.1:{hook.port}/hook", "EndFlow", "argo-7")
    finally:
        hook.close()
    assert hook.seen == [("POST", f"Bearer {token}")]


# -- Airflow: the DAG file's placeholders and text that happens to hold their letters -------------

AIRFLOW_FLOW = '''
from headwater import FlowSpec, Parameter, step


class PlaceholderFlow(FlowSpec):
    note = Parameter("note", default="x")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PlaceholderFlow()
'''


def test_an_airflow_task_gets_text_holding_the_placeholders_letters_as_written(tmp_path):
    """The DAG file replaced ``__RUN_KEY__``, ``__TASK_ID__`` and (local operator) ``__OUT__``
    wherever they appeared: a parameter value typed at trigger time, a tag or a `--with` holding
    those letters reached the task changed (``__OUT__`` became the task's temporary folder)."""
    import ast

    flow = write_flow(tmp_path, "placeholder_flow.py", AIRFLOW_FLOW)
    dag = tmp_path / "dag.py"
    proc = subprocess.run([sys.executable, str(flow), "airflow", "create", str(dag),
                           "--operator", "local", "--tag", "build-__RUN_KEY__-__TASK_ID__"],
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tree = ast.parse(dag.read_text())
    # The module's data and its _argv, without Airflow: the function under test is the DAG's.
    kept = [node for node in tree.body if (isinstance(node, ast.Assign) and node.targets[0].id
                                           in ("ARGS", "PARAMS"))
            or (isinstance(node, ast.FunctionDef) and node.name == "_argv")]
    space: dict = {"json": json}
    exec(compile(ast.Module(body=kept, type_ignores=[]), str(dag), "exec"), space)  # noqa: S102
    context = {"run_id": "manual__2026", "params": {"note": "keep __OUT__ and __TASK_ID__"}}
    argv = space["_argv"]("start", "1", context, "/tmp/out-folder")
    assert argv[argv.index("--param") + 2] == "keep __OUT__ and __TASK_ID__"
    assert argv[argv.index("--tag") + 1] == "build-__RUN_KEY__-__TASK_ID__"
    assert argv[argv.index("--run-key") + 1] == "manual__2026"
    assert argv[argv.index("--task-id") + 1] == "1"
    assert argv[argv.index("--output-dir") + 1] == "/tmp/out-folder"


SCHEDULED_FLOW = '''
from headwater import FlowSpec, schedule, step


@schedule(daily=True)
class NightlyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NightlyFlow()
'''


def test_a_scheduled_deployment_named_longer_than_argo_schedules_is_refused_at_create(tmp_path):
    """Argo refuses to run a CronWorkflow whose name is over 52 characters; Kubernetes stored
    the one `create` applied, and no scheduled run ever started."""
    flow = write_flow(tmp_path, "nightly_flow.py", SCHEDULED_FLOW)

    def create(name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(flow), "argo-workflows", "create",
                               "--only-json", "--name", name], cwd=tmp_path,
                              env=env_for(tmp_path), capture_output=True, text=True, timeout=120)

    proc = create("n" * 53)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out
    assert "(53 characters)" in out and "--name" in out, out
    proc = create("n" * 52)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cron = next(doc for doc in json.loads(proc.stdout) if doc["kind"] == "CronWorkflow")
    assert cron["metadata"]["name"] == "n" * 52
