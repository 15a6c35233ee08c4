"""The client API over a metadata database and datastore populated through the writer API."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from headwater.client import (
    DataArtifact,
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    _context,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
)
from headwater.client._errors import MissingArtifact, MissingChild, TaggingError
from headwater.client.namespace import reset_namespace
from headwater.exceptions import NamespaceMismatchError, NotFoundError
from headwater.meta import open_metadata
from headwater.meta.liveness import this_host
from headwater.records import Frame, Manifest, TaskFailure, TaskResult
from headwater.store import open_datastore


@pytest.fixture(autouse=True)
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own datastore root, user and freshly resolved client state."""
    root = tmp_path / ".headwater"
    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", str(root))
    monkeypatch.delenv("HEADWATER_METADATA", raising=False)
    monkeypatch.setenv("HEADWATER_USER", "alice")
    monkeypatch.chdir(tmp_path)
    _context.reset()
    reset_namespace()
    yield root
    _context.reset()
    reset_namespace()


class World:
    """Writes runs the way the scheduler does: blobs to the store, rows through the writer API."""

    def __init__(self, root: Path) -> None:
        self.meta = open_metadata(str(root / "meta.sqlite"))
        self.store = open_datastore(str(root))

    def close(self) -> None:
        """Its connections, closed, not left to the collector."""
        self.meta.close()
        self.store.close()

    def save(self, where: str, **values: object) -> Manifest:
        return {k: self.store.save_artifact(v, name=k, where=where) for k, v in values.items()}

    def log(self, text: str | None) -> str | None:
        return None if text is None else self.store.save_bytes(text.encode()).key

    def run(
        self, flow: str, *, user: str = "alice", tags=(), pid: int | None = None, **params: object
    ) -> str:
        return self.meta.new_run(
            flow,
            user=user,
            tags=list(tags),
            system_tags=["runtime:local", "python_version:3.11"],
            params=self.save(f"{flow}/params", **params),
            origin_run_id=None,
            pid=pid or os.getpid(),
            host=this_host(),
        )

    def task(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        *,
        frames=(),
        parents=(),
        failures: tuple[str, ...] = (),
        stdout: str | None = None,
        final: bool = True,
        **values: object,
    ) -> None:
        """A task whose attempts fail with ``failures`` (their stderr) before the last one."""
        self.meta.new_task(flow, run_id, step, task_id, frames=list(frames), parents=list(parents))
        where = f"{flow}/{run_id}/{step}/{task_id}"
        for attempt, err in enumerate(failures):
            self.meta.attempt_started(flow, run_id, step, task_id, attempt, time.time())
            failure = TaskFailure("ValueError", f"bad {attempt}", f"Traceback: bad {attempt}")
            last = attempt == len(failures) - 1 and not values
            result = TaskResult(failure=failure, finished_at=time.time())
            self.meta.attempt_finished(
                flow,
                run_id,
                step,
                task_id,
                attempt,
                result,
                stdout_key=None,
                stderr_key=self.log(err),
                final=last,
            )
        if failures and not values:
            return
        attempt = len(failures)
        self.meta.attempt_started(flow, run_id, step, task_id, attempt, time.time())
        if final:
            result = TaskResult(manifest=self.save(where, **values), finished_at=time.time())
            self.meta.attempt_finished(
                flow,
                run_id,
                step,
                task_id,
                attempt,
                result,
                stdout_key=self.log(stdout),
                stderr_key=None,
                final=True,
            )

    def finish(self, flow: str, run_id: str, status: str = "succeeded") -> None:
        self.meta.run_finished(flow, run_id, status, time.time())


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def world(root: Path) -> Iterator[World]:
    """PetsFlow/1 succeeded with a foreach; /2 failed after a retry; /3 is bob's; /4 crashed."""
    w = World(root)
    pets = ["cat", "dog"]
    run = w.run("PetsFlow", alpha=0.5)
    w.task("PetsFlow", run, "start", "1", stdout="hello\n", pets=pets)
    for i, name in enumerate(pets):
        w.task(
            "PetsFlow",
            run,
            "pet",
            str(i + 2),
            parents=["start/1"],
            frames=[Frame("start", "1", i, 2, is_foreach=True)],
            name=name,
            pets=pets,
        )
    w.task("PetsFlow", run, "join", "4", parents=["pet/2", "pet/3"], names=pets)
    w.task("PetsFlow", run, "end", "5", parents=["join/4"], names=pets, result=42)
    w.finish("PetsFlow", run)

    run = w.run("PetsFlow", tags=["exp"], alpha=0.1)
    w.task("PetsFlow", run, "start", "1", failures=("boom 0", "boom 1"))
    w.finish("PetsFlow", run, "failed")

    run = w.run("PetsFlow", user="bob", alpha=0.9)
    w.task("PetsFlow", run, "start", "1", pets=[])
    w.task("PetsFlow", run, "end", "2", result=7)
    w.finish("PetsFlow", run)

    run = w.run("PetsFlow", pid=_dead_pid(), alpha=0.3)
    w.task("PetsFlow", run, "start", "1", final=False)

    w.run("OtherFlow", user="bob")
    yield w
    w.close()


# -- Metaflow and Flow -------------------------------------------------------------------------


def test_metaflow_lists_flows_of_the_namespace(world):
    assert repr(Metaflow()) == "Metaflow()"
    assert Metaflow().flows == [Flow("PetsFlow")]
    namespace(None)
    assert [f.id for f in Metaflow()] == ["OtherFlow", "PetsFlow"]
    assert Metaflow()["OtherFlow"].pathspec == "OtherFlow"


def test_flow_runs_latest_and_indexing(world):
    flow = Flow("PetsFlow")
    assert repr(flow) == "Flow('PetsFlow')" and flow.id == flow.pathspec == "PetsFlow"
    assert isinstance(flow.created_at, datetime) and flow.parent is None
    assert [r.id for r in flow.runs()] == ["4", "2", "1"]  # newest first, alice's only
    assert [r.id for r in flow] == ["4", "2", "1"]
    assert [r.id for r in flow.runs("exp")] == ["2"]
    assert list(flow.runs("nope")) == []
    assert flow.latest_run == Run("PetsFlow/4")
    assert flow.latest_successful_run == Run("PetsFlow/1")
    assert flow["1"] == Run("PetsFlow/1")
    assert "1" in flow and "99" not in flow and "3" not in flow  # 3 is bob's
    with pytest.raises(KeyError) as info:
        flow["99"]
    assert isinstance(info.value, MissingChild)
    assert str(info.value) == (
        "run 'PetsFlow/99' not found; the latest runs of PetsFlow in "
        "namespace 'user:alice' are 4, 2, 1"
    )


def test_missing_flow_lists_known_flows(world):
    with pytest.raises(
        NotFoundError, match=r"flow 'Nope' not found; known flows: OtherFlow, PetsFlow"
    ):
        Flow("Nope")
    with pytest.raises(NotFoundError, match="not a flow pathspec"):
        Flow("PetsFlow/1")


def test_flow_without_runs_in_namespace_is_a_mismatch(world):
    with pytest.raises(NamespaceMismatchError, match=r"namespace\(None\)"):
        Flow("OtherFlow")
    namespace(None)
    assert Flow("OtherFlow").latest_run == Run("OtherFlow/1")


def test_empty_datastore_reads_as_no_flows(root):
    assert Metaflow().flows == []
    with pytest.raises(NotFoundError, match="known flows: none"):
        Flow("PetsFlow")
    assert not (root / "meta.sqlite").exists()  # reading created nothing


# -- Run ---------------------------------------------------------------------------------------


def test_successful_run(world):
    run = Run("PetsFlow/1")
    assert repr(run) == "Run('PetsFlow/1')"
    assert (run.id, run.pathspec, run.path_components) == ("1", "PetsFlow/1", ["PetsFlow", "1"])
    assert run.parent == Flow("PetsFlow")
    assert (run.status, run.successful, run.finished) == ("succeeded", True, True)
    assert isinstance(run.created_at, datetime) and run.finished_at >= run.created_at
    assert run.data.result == 42 and run.data.names == ["cat", "dog"]
    assert run.end_task == Task("PetsFlow/1/end/5")
    assert run.parameters == {"alpha": 0.5}
    assert (run.code, run.origin_run_id) == (None, None)
    assert [s.id for s in run] == ["end", "join", "pet", "start"]  # newest first, as Metaflow
    assert run["start"] == Step("PetsFlow/1/start")
    assert "pet" in run and "nope" not in run


def test_run_tags(world):
    run = Run("PetsFlow/1")
    assert run.system_tags == {"user:alice", "runtime:local", "python_version:3.11"}
    assert run.user_tags == frozenset()
    assert run.tags == run.system_tags
    assert Run("PetsFlow/2").user_tags == {"exp"}


def test_failed_run_and_task_failure(world):
    run = Run("PetsFlow/2")
    assert (run.status, run.successful, run.finished) == ("failed", False, True)
    assert run.data is None and run.end_task is None
    task = run["start"].task
    assert (task.finished, task.successful) == (True, False)
    assert task.exception == TaskFailure("ValueError", "bad 1", "Traceback: bad 1")
    assert task.stderr == "boom 1" and task.stdout == ""
    assert task.current_attempt == 1
    assert [(a.attempt, a.status) for a in task.attempts] == [(0, "failed"), (1, "failed")]
    first = Task("PetsFlow/2/start/1", attempt=0)
    assert first.stderr == "boom 0" and first.exception.message == "bad 0"
    assert first.current_attempt == 0
    with pytest.raises(NotFoundError, match="no attempt 5"):
        Task("PetsFlow/2/start/1", attempt=5)


def test_crashed_run_reads_failed(world):
    run = Run("PetsFlow/4")
    assert (run.status, run.finished, run.successful) == ("failed", True, False)
    assert run.finished_at is not None  # its last heartbeat
    task = run["start"].task
    # the task it left unfinished will never finish: it reads failed, so polling loops end too
    assert (task.finished, task.successful) == (True, False)
    assert task.data.alpha == 0.3  # parameters are task data too


def test_missing_runs_name_what_exists(world):
    with pytest.raises(NotFoundError) as info:
        Run("PetsFlow/99")
    assert str(info.value) == (
        "run 'PetsFlow/99' not found; the latest runs of PetsFlow in "
        "namespace 'user:alice' are 4, 2, 1"
    )
    namespace(None)
    with pytest.raises(NotFoundError, match="latest runs of PetsFlow are 4, 3, 2, 1"):
        Run("PetsFlow/99")
    with pytest.raises(NotFoundError, match="flow 'Nope' not found"):
        Run("Nope/1")
    with pytest.raises(NotFoundError, match="looks like 'FlowName/RunId'"):
        Run("PetsFlow")


def test_namespaces(world):
    assert get_namespace() == "user:alice"
    with pytest.raises(NamespaceMismatchError) as info:
        Run("PetsFlow/3")
    message = str(info.value)
    assert "'PetsFlow/3'" in message and "namespace(None)" in message and "user:bob" in message
    with pytest.raises(NamespaceMismatchError):
        Task("PetsFlow/3/end/2")
    assert namespace("user:bob") == "user:bob"
    assert [r.id for r in Flow("PetsFlow")] == ["3"]
    assert Run("PetsFlow/3").data.result == 7
    assert namespace(None) is None and get_namespace() is None
    assert [r.id for r in Flow("PetsFlow")] == ["4", "3", "2", "1"]
    assert namespace("exp") == "exp"  # any tag works as a namespace
    assert [r.id for r in Flow("PetsFlow")] == ["2"]
    assert default_namespace() == "user:alice" and get_namespace() == "user:alice"
    with pytest.raises(ValueError):
        namespace(42)  # type: ignore[arg-type]


def test_tag_changes_go_through_the_writer(world):
    run = Run("PetsFlow/1")
    run.add_tag("good")
    run.add_tags(["a", "b"])
    run.remove_tag("a")
    run.replace_tag("b", "c")
    assert run.user_tags == {"good", "c"}
    assert Run("PetsFlow/1").user_tags == {"good", "c"}  # persisted
    assert [r.id for r in Flow("PetsFlow").runs("good")] == ["1"]
    run.replace_tags(["good", "c"], ["final"])
    assert run.user_tags == {"final"}
    with pytest.raises(TaggingError, match="system tag"):
        run.remove_tag("user:alice")
    with pytest.raises(TaggingError):
        run.add_tag("")
    assert "user:alice" in Run("PetsFlow/1").system_tags


# -- Step --------------------------------------------------------------------------------------


def test_step(world):
    step = Step("PetsFlow/1/pet")
    assert repr(step) == "Step('PetsFlow/1/pet')" and step.id == "pet"
    assert step.parent == Run("PetsFlow/1")
    assert [t.id for t in step] == ["3", "2"]  # newest first
    assert step.task == Task("PetsFlow/1/pet/3")  # the first in iteration, as in Metaflow
    assert [t.id for t in step.tasks("user:alice")] == ["3", "2"]
    assert list(step.tasks("exp")) == []
    assert step["2"] == Task("PetsFlow/1/pet/2")
    assert isinstance(step.finished_at, datetime) and step.finished_at >= step.created_at
    assert step.tags == Run("PetsFlow/1").tags
    with pytest.raises(KeyError, match=r"step PetsFlow/1/pet has tasks 2, 3"):
        step["9"]
    with pytest.raises(NotFoundError, match="run PetsFlow/1 has steps start, pet, join, end"):
        Step("PetsFlow/1/nope")
    assert Step("PetsFlow/4/start").finished_at is None


# -- Task and DataArtifact ---------------------------------------------------------------------


def test_task_data_and_artifacts(world):
    task = Task("PetsFlow/1/pet/3")
    assert repr(task) == "Task('PetsFlow/1/pet/3')"
    assert task.pathspec == "PetsFlow/1/pet/3" and task.parent == Step("PetsFlow/1/pet")
    assert task.data.name == "dog" and task.data.pets == ["cat", "dog"]
    assert task.data.alpha == 0.5  # parameters are artifacts of every task
    assert "name" in task.data and "nope" not in task.data
    assert not hasattr(task.data, "nope")
    with pytest.raises(
        MissingArtifact,
        match="artifact 'nope' not found in task PetsFlow/1/pet/3; it has alpha, name, pets",
    ):
        _ = task.data.nope
    assert repr(task.data) == "<MetaflowData: alpha, name, pets>"
    assert [a.id for a in task] == ["alpha", "name", "pets"]
    assert "name" in task and "nope" not in task
    art = task["name"]
    assert isinstance(art, DataArtifact) and repr(art) == "DataArtifact('PetsFlow/1/pet/3/name')"
    assert art.data == "dog" and art.type_name == "builtins.str" and art.size > 0
    assert len(art.sha) == 32 and art.pathspec == "PetsFlow/1/pet/3/name"
    assert isinstance(art.created_at, datetime) and art.parent == task
    assert task.artifacts.name == art and task.artifacts.name.data == "dog"
    assert "pets" in task.artifacts and len(task.artifacts) == 3
    assert Task("PetsFlow/1/pet/2")["pets"].sha == art.parent["pets"].sha  # same value, one blob
    with pytest.raises(KeyError, match="artifact 'nope'"):
        task["nope"]


def test_task_outcome_and_metadata(world):
    task = Task("PetsFlow/1/pet/3")
    assert (task.successful, task.finished, task.exception) == (True, True, None)
    assert task.index == 1 and Task("PetsFlow/1/start/1").index is None
    assert Task("PetsFlow/1/join/4").index is None
    assert task.origin_pathspec is None and task.current_attempt == 0
    assert [(a.attempt, a.status) for a in task.attempts] == [(0, "succeeded")]
    assert isinstance(task.finished_at, datetime) and task.finished_at >= task.created_at
    assert Task("PetsFlow/1/start/1").stdout == "hello\n"
    assert task.stdout == "" and task.stderr == ""
    assert task.tags == Run("PetsFlow/1").tags


def test_missing_tasks_and_artifacts(world):
    with pytest.raises(
        NotFoundError,
        match=r"task 'PetsFlow/1/pet/9' not found; step "
        r"PetsFlow/1/pet has tasks 2, 3",
    ):
        Task("PetsFlow/1/pet/9")
    with pytest.raises(NotFoundError, match="step 'PetsFlow/1/nope' not found"):
        Task("PetsFlow/1/nope/1")
    with pytest.raises(NotFoundError, match="artifact 'nope' not found"):
        DataArtifact("PetsFlow/1/end/5/nope")
    assert DataArtifact("PetsFlow/1/end/5/result").data == 42


def test_cloned_task_shows_its_origin(world, root):
    w = world
    run_id = w.meta.new_run(
        "PetsFlow",
        user="alice",
        tags=[],
        system_tags=[],
        params={},
        origin_run_id="2",
        pid=os.getpid(),
        host=this_host(),
    )
    origin = Task("PetsFlow/1/start/1")
    manifest = {a.id: a._ref for a in origin}
    w.meta.clone_task(
        "PetsFlow",
        run_id,
        "start",
        "1",
        origin_pathspec=origin.pathspec,
        frames=[],
        parents=[],
        manifest=manifest,
        stdout_key=origin.attempts[0].stdout_key,
        stderr_key=None,
    )
    clone = Task(f"PetsFlow/{run_id}/start/1")
    assert clone.origin_pathspec == "PetsFlow/1/start/1" and clone.successful
    assert clone.data.pets == ["cat", "dog"] and clone.stdout == "hello\n"
    assert Run(f"PetsFlow/{run_id}").origin_run_id == "2"


# -- cost: lazy values, no N+1 -----------------------------------------------------------------


class _Counting:
    """Wraps an object and counts calls to its methods."""

    def __init__(self, inner: object) -> None:
        self.inner, self.calls = inner, {}

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args, **kwargs)

        return counted


def test_values_load_lazily_once_and_a_step_costs_one_query_per_detail(world):
    ctx = _context.current()
    ctx.meta = meta = _Counting(ctx.meta)
    ctx._store = store = _Counting(ctx.store())
    task = Task("PetsFlow/1/end/5")
    assert store.calls == {}  # opening a task loads no value
    assert task.data.result == 42 and task.data.result == 42 and task["result"].data == 42
    assert store.calls == {"load_artifact": 1}
    meta.calls.clear()
    names = [(t.data.name, t.stdout, t.exception) for t in Step("PetsFlow/1/pet")]
    assert names == [("dog", "", None), ("cat", "", None)]
    assert meta.calls.get("get_step_artifacts") == 1 and meta.calls.get("list_step_attempts") == 1
    assert "get_artifacts" not in meta.calls and "list_attempts" not in meta.calls
    meta.calls.clear()
    namespace(None)
    assert len(list(Flow("PetsFlow").runs())) == 4
    assert meta.calls == {"get_flow": 1, "list_runs": 1}


def test_a_large_listed_step_answers_its_first_tasks_one_by_one(world):
    """One task's value out of a step of 100,000 must not fetch all 100,000 manifests; a
    caller that goes on asking is iterating, and the step is then fetched once, whole."""
    from headwater.client._batch import ONE_BY_ONE, WHOLE_STEP_AT_ONCE, TaskDetails

    ctx = _context.current()
    ctx.meta = meta = _Counting(ctx.meta)
    details = TaskDetails("PetsFlow", "1", "pet", tasks=WHOLE_STEP_AT_ONCE + 1)
    assert details.manifest("2")["name"] is not None
    assert meta.calls == {"get_artifacts": 1}
    asked = ["2", "3"] + [str(100 + i) for i in range(ONE_BY_ONE - 2)]  # real and absent ids
    for task_id in asked * 2:
        details.manifest(task_id)
    assert meta.calls == {"get_artifacts": ONE_BY_ONE}
    assert details.manifest("99") == {} and details.manifest("3")["name"] is not None
    assert meta.calls == {"get_artifacts": ONE_BY_ONE, "get_step_artifacts": 1}
    assert [a.task_id for a in details.attempts("2")] == ["2"]
    assert meta.calls.get("list_attempts") == 1 and "list_step_attempts" not in meta.calls


def test_client_objects_pickle(world):
    task = Task("PetsFlow/1/pet/2")
    assert task.data.name == "cat"
    clone = pickle.loads(pickle.dumps(task))
    assert clone == task and clone.data.name == "cat"
    assert pickle.loads(pickle.dumps(Run("PetsFlow/1"))).data.result == 42


# -- a run in progress, written by another process ---------------------------------------------


def _scheduler(root: str, go, done) -> None:
    w = World(Path(root))
    run_id = w.run("LiveFlow")
    w.task("LiveFlow", run_id, "start", "1", final=False)
    go.set()
    done.wait(60)
    with w.meta.transaction():
        w.meta.attempt_finished(
            "LiveFlow",
            run_id,
            "start",
            "1",
            0,
            TaskResult(manifest=w.save("x", x=1)),
            stdout_key=None,
            stderr_key=None,
            final=True,
        )
        for i in range(50):
            w.meta.new_task("LiveFlow", run_id, "work", str(i + 2), frames=[], parents=[])
    w.task("LiveFlow", run_id, "end", "99", result="done")
    w.finish("LiveFlow", run_id)


def test_reading_a_run_another_process_is_writing(world, root):
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    go, done = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_scheduler, args=(str(root), go, done))
    proc.start()
    assert go.wait(60)
    run = Flow("LiveFlow").latest_run
    task = run["start"].task
    assert (run.status, run.finished, run.data.alpha if run.data else None) == (
        "running",
        False,
        None,
    )
    assert task.finished is False and "x" not in task.data
    done.set()
    deadline = time.time() + 60
    while not run.finished and time.time() < deadline:
        time.sleep(0.02)
    proc.join(60)
    assert proc.exitcode == 0
    assert run.status == "succeeded" and run.data.result == "done"
    assert task.finished and task.data.x == 1  # the same object sees the task end
    assert len(list(run["work"])) == 50


# -- choosing the metadata store ---------------------------------------------------------------


def test_metadata_switches_the_store(world, root, tmp_path):
    assert get_metadata() == f"local@{root}"
    other = World(tmp_path / "elsewhere" / ".headwater")
    other.run("ElsewhereFlow")
    other.close()
    assert (
        metadata(f"local@{tmp_path / 'elsewhere'}")
        == f"local@{tmp_path / 'elsewhere' / '.headwater'}"
    )
    assert [f.id for f in Metaflow()] == ["ElsewhereFlow"]
    db = tmp_path / "elsewhere" / ".headwater" / "meta.sqlite"
    assert metadata(str(db)) == f"sqlite@{db}"  # a bare database file; blobs resolve as usual
    assert [f.id for f in Metaflow()] == ["ElsewhereFlow"]
    assert metadata(str(root)) == f"local@{root}"
    assert [f.id for f in Metaflow()] == ["PetsFlow"]
    with pytest.raises(ValueError, match="no Metaflow metadata service client"):
        metadata("service@https://example.com")
    with pytest.raises(ValueError, match="unknown metadata provider"):
        metadata("other@/some/where")


def test_task_reports_runtime_metadata_and_log_lines(tmp_path) -> None:
    """Metaflow's Task exposes runtime_name, metadata_dict, code and loglines: so do we."""
    import subprocess
    import sys

    flow = tmp_path / "lines_flow.py"
    flow.write_text(
        "from headwater import FlowSpec, step\n"
        "class LinesFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        print('one')\n"
        "        print('two')\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    LinesFlow()\n"
    )
    done = subprocess.run([sys.executable, str(flow), "--quiet", "run"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from headwater import Flow, metadata

    metadata(str(tmp_path / ".headwater"))
    task = Flow("LinesFlow").latest_run["start"].task
    # Metaflow's name for its local runtime (its runs carry runtime:dev too)
    assert task.runtime_name == "dev" and task.code is None
    assert task.metadata_dict["attempt"] == "0"
    assert [line for _, line in task.loglines("stdout")] == ["one", "two"]
    assert all(when is not None for when, _ in task.loglines())


def test_metadata_accepts_a_postgresql_url_and_hides_its_password() -> None:
    from headwater.client._context import describe, settings_for

    settings = settings_for("postgresql://bob:secret@127.0.0.1:5432/hw")
    assert settings.metadata_url == "postgresql://bob:secret@127.0.0.1:5432/hw"
    shown = describe(settings)
    assert shown.startswith("postgresql@") and "secret" not in shown and "bob" in shown


def test_dropping_the_client_context_closes_the_datastore_it_opened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A datastore backend holding connections (S3, a package's own) is released when the client
    is pointed elsewhere; one handed to the context by its caller stays its caller's."""
    from headwater import backends
    from headwater.settings import Settings

    (tmp_path / "hw_recording_store.py").write_text(
        "from headwater.store.local_storage import LocalStorage\n"
        "CLOSED = []\n"
        "class RecordingStorage(LocalStorage):\n"
        "    def __init__(self, url):\n"
        "        super().__init__(url.partition('://')[2])\n"
        "    def close(self):\n"
        "        CLOSED.append(self.root)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    external: dict[str, dict[str, backends.Backend]] = {kind: {} for kind in backends.KINDS}
    external["datastore"]["recording"] = backends.Backend(
        "datastore", "recording", "hw_recording_store:RecordingStorage", schemes=("recording",))
    monkeypatch.setattr(backends, "_external", external)
    settings = Settings.resolve(datastore_root=f"recording://{tmp_path}/blobs",
                                metadata=str(tmp_path / "meta.sqlite"))
    import hw_recording_store

    _context.use(settings).store()
    _context.reset()
    assert hw_recording_store.CLOSED == [f"{tmp_path}/blobs"]
    handed = open_datastore(f"recording://{tmp_path}/given")
    _context.use(settings, store=handed).store()
    _context.reset()
    assert hw_recording_store.CLOSED == [f"{tmp_path}/blobs"]
