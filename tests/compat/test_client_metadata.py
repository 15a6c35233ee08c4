"""What the client reads about a task, side by side with Metaflow 2.19.38's local runs: the facts
of ``task.metadata`` / ``metadata_dict`` (names, types, value shapes), the ``name`` artifact,
the run's system tags, and attributes Metaflow's client objects all have.

Each expectation was read from a real Metaflow run of the same flow (local metadata provider);
see docs/decisions.md for the few values that are headwater's own (``ds-root``, the
``metaflow_version`` value).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from .helpers import headwater_argv

FLOW = textwrap.dedent("""
    import os

    from metaflow import FlowSpec, catch, current, retry, step


    class FactsFlow(FlowSpec):
        @step
        def start(self):
            print("hello from start")
            self.letters = ["a", "b"]
            self.next(self.outer, foreach="letters")

        @step
        def outer(self):
            self.objs = [{"k": i, "pad": "x" * 50} for i in range(2)]
            self.next(self.inner, foreach="objs")

        @step
        def inner(self):
            self.v = self.input["k"]
            self.next(self.join_inner)

        @step
        def join_inner(self, inputs):
            self.s = sum(i.v for i in inputs)
            self.next(self.join_outer)

        @step
        def join_outer(self, inputs):
            self.next(self.flaky)

        @retry(times=1)
        @step
        def flaky(self):
            if current.retry_count == 0:
                raise ValueError("first attempt fails")
            self.next(self.caught)

        @catch(var="failure")
        @step
        def caught(self):
            raise KeyError("lost")
            self.next(self.end)

        @step
        def end(self):
            if os.environ.get("FAIL_END"):
                raise RuntimeError("end fails")


    if __name__ == "__main__":
        FactsFlow()
""")

RUN_FACTS = {"attempt", "attempt-done", "attempt_ok", "ds-root", "ds-type", "metaflow_version",
             "origin-run-id", "python_version", "runtime", "script-name", "user"}


@pytest.fixture(scope="module")
def facts_run(tmp_path_factory, tripwire):
    """One run of the flow, then a resume of it (which clones every step but ``end``)."""
    folder = tmp_path_factory.mktemp("facts")
    (folder / "facts_flow.py").write_text(FLOW)
    env = {**os.environ, "PYTHONPATH": tripwire, "METAFLOW_USER": "tester"}
    for args in (("run",), ("resume", "end")):
        done = subprocess.run(headwater_argv("--quiet", "facts_flow.py", *args), cwd=folder,
                              env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture
def run(facts_run):
    from headwater import Run, metadata, namespace

    metadata(str(facts_run / ".headwater"))
    namespace(None)
    return Run("FactsFlow/1")


def test_every_task_has_metaflows_facts_with_their_shapes(run, facts_run):
    from headwater import Task

    start = run["start"].task
    facts = start.metadata_dict
    assert set(facts) == RUN_FACTS
    assert facts["attempt"] == "0" and facts["attempt-done"] == "0"
    assert facts["attempt_ok"] == "True"
    assert facts["origin-run-id"] == "None"  # a fresh run: the string, as Metaflow writes it
    assert facts["ds-type"] == "local" and facts["ds-root"] == str(facts_run / ".headwater")
    assert facts["script-name"] == "facts_flow.py"
    assert facts["user"] == "tester" and facts["runtime"] == "dev"
    assert facts["metaflow_version"] == "2.19.0+headwater"
    assert facts["python_version"].count(".") == 2
    records = start.metadata
    assert {m.name for m in records} == RUN_FACTS
    for record in records:
        assert isinstance(record.created_at, int) and record.created_at > 10**12  # milliseconds
        assert isinstance(record.task, Task) and record.task.pathspec == start.pathspec
        assert record.type == ("internal_attempt_status" if record.name == "attempt_ok"
                               else record.name)
    assert [m.created_at for m in records] == sorted(m.created_at for m in records)


def test_foreach_tasks_carry_their_stack_and_execution_path(run):
    inner = {(t.metadata_dict["foreach-execution-path"]): t.metadata_dict for t in run["inner"]}
    assert sorted(inner) == ["outer:0,inner:0", "outer:0,inner:1", "outer:1,inner:0",
                             "outer:1,inner:1"]
    # Each level: var=value, a non-primitive item through reprlib, cut at 30 characters (what
    # Metaflow 2.19.38 recorded for the same flow).
    assert inner["outer:1,inner:0"]["foreach-stack"] == ["letters=b",
                                                         "objs={'k': 0, 'pad': 'xxxxxxxxxxxx."]
    join = run["join_inner"].task.metadata_dict
    assert join["foreach-stack"] == [f"letters={'ab'[run['join_inner'].task.index]}"]
    assert "foreach-stack" not in run["join_outer"].task.metadata_dict
    assert "foreach-execution-path" not in run["start"].task.metadata_dict


def test_each_attempt_records_whether_it_was_ok(run):
    flaky = run["flaky"].task
    by_attempt = sorted(m.value for m in flaky.metadata if m.name == "attempt")
    assert by_attempt == ["0", "1"]
    assert [m.value for m in flaky.metadata if m.name == "attempt_ok"] == ["False", "True"]
    assert flaky.metadata_dict["attempt_ok"] == "True" and flaky.metadata_dict["attempt"] == "1"
    first = [m for m in flaky.metadata if m.name == "attempt"][0]
    assert first.created_at <= [m for m in flaky.metadata if m.name == "attempt-done"][0].created_at
    # Task(..., attempt=0) shows that attempt's facts only.
    from headwater import Task

    assert Task(flaky.pathspec, attempt=0).metadata_dict["attempt_ok"] == "False"


def test_a_raise_catch_caught_is_one_attempt_that_was_ok(run):
    caught = run["caught"].task
    assert [m.value for m in caught.metadata if m.type == "attempt"] == ["0"]
    assert caught.metadata_dict["attempt_ok"] == "True"  # handled, as Metaflow records it
    assert "catch-attempt" not in caught.metadata_dict  # headwater's bookkeeping stays hidden
    assert caught.successful is False


def test_a_resumed_run_names_its_origin_in_every_task(facts_run):
    from headwater import Run, metadata, namespace

    metadata(str(facts_run / ".headwater"))
    namespace(None)
    resumed = Run("FactsFlow/2")
    start = resumed["start"].task
    facts = start.metadata_dict
    assert facts["origin-run-id"] == "1" and facts["origin-task-id"] == "1"
    assert facts["attempt_ok"] == "True" and facts["attempt"] == "0"
    end = resumed["end"].task.metadata_dict
    assert end["origin-run-id"] == "1" and "origin-task-id" not in end  # it ran again
    origin = Run("FactsFlow/1")["start"].task.metadata_dict
    skip = {"origin-run-id", "origin-task-id"}
    assert {k: v for k, v in facts.items() if k not in skip} == \
        {k: v for k, v in origin.items() if k not in skip}


def test_a_clone_of_a_caught_task_reads_unsuccessful_like_its_origin(facts_run):
    from headwater import Run, metadata, namespace

    metadata(str(facts_run / ".headwater"))
    namespace(None)
    clone = Run("FactsFlow/2")["caught"].task
    assert clone.metadata_dict["origin-run-id"] == "1"  # cloned, not run again
    assert clone.successful is False  # Metaflow's clone copies the origin's _success (False)
    assert "catch-attempt" not in clone.metadata_dict


def test_every_task_has_the_flows_name_artifact(run):
    start = run["start"].task
    assert start.data.name == "FactsFlow" and start["name"].data == "FactsFlow"
    assert "name" in start.data and "name" in start.artifacts
    assert sorted(a.id for a in start) == ["letters", "name"]
    assert run.data.name == "FactsFlow"
    assert sorted(a.id for a in run["join_outer"].task) == ["name"]


def test_runs_carry_metaflows_system_tags(run):
    kinds = {tag.partition(":")[0] for tag in run.system_tags}
    assert kinds == {"metaflow_version", "python_version", "runtime", "user"}
    assert "metaflow_version:2.19.0+headwater" in run.system_tags
    from headwater.compat.version_names import get_version  # metaflow.__version__ here

    assert f"metaflow_version:{get_version()}" in run.system_tags


def test_attributes_every_metaflow_client_object_has(run):
    flow = run.parent
    assert flow.system_tags == frozenset() and flow.user_tags == frozenset()
    assert flow.origin_pathspec is None
    start = run["start"].task
    assert start.stdout_size == len(start.stdout.encode()) > 0
    assert start.stderr_size == 0
    artifact = start["letters"]
    assert artifact.system_tags == run.system_tags and artifact.user_tags == frozenset()
    assert artifact.origin_pathspec is None and artifact.is_in_namespace()
    from headwater import Run

    cloned = Run("FactsFlow/2")["start"].task["letters"]
    assert cloned.origin_pathspec == f"{start.pathspec}/letters"


def test_tag_mutations_take_a_string_as_one_tag_and_raise_metaflows_tagging_error(facts_run):
    from headwater import Run, metadata, namespace
    from headwater.compat.exception_names import MetaflowTaggingError

    metadata(str(facts_run / ".headwater"))
    namespace(None)
    resumed = Run("FactsFlow/2")
    resumed.add_tags("abc")  # Metaflow: one tag 'abc', not 'a', 'b', 'c'
    assert resumed.user_tags == frozenset({"abc"})
    resumed.replace_tags("abc", "xyz")
    assert Run("FactsFlow/2").user_tags == frozenset({"xyz"})
    resumed.remove_tags("xyz")
    assert Run("FactsFlow/2").user_tags == frozenset()
    runtime = next(t for t in resumed.system_tags if t.startswith("runtime:"))
    with pytest.raises(MetaflowTaggingError, match="cannot remove system tag"):
        resumed.remove_tag(runtime)
    with pytest.raises(MetaflowTaggingError, match="non-empty string"):
        resumed.add_tag("")


LOG_TIMES = textwrap.dedent("""
    import sys
    from datetime import timezone

    from headwater import Run, metadata, namespace

    metadata(sys.argv[1])
    namespace(None)
    task = Run("FactsFlow/1")["start"].task
    (when, line), = task.loglines("stdout")
    (_, raw), = task.loglines("stdout", as_unicode=False)
    as_utc = when.replace(tzinfo=timezone.utc).timestamp()
    print(line, raw, task.created_at.timestamp() - 1 <= as_utc <= task.finished_at.timestamp() + 1)
""")


def test_log_lines_carry_naive_utc_times_and_bytes_on_request(facts_run):
    # In a time zone far from UTC: Metaflow's log times are naive UTC, its other times local.
    env = {**os.environ, "TZ": "America/New_York"}
    done = subprocess.run([sys.executable, "-c", LOG_TIMES, str(facts_run / ".headwater")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["hello", "from", "start", "b'hello", "from", "start'", "True"]
