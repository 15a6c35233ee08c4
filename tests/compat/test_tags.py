"""Tags as with Metaflow: ``tag add|remove|replace|list`` on the command line, and the client."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from headwater import Flow, Run
from headwater.client._errors import TaggingError

from .helpers import flow_path, headwater_argv

FLOW = "branch_flow.py"


@pytest.fixture(scope="module")
def two_runs_made(tmp_path_factory, tripwire):
    """A datastore holding two runs (tagged 'first' and 'second'), made once for the module."""
    folder = tmp_path_factory.mktemp("two-runs")
    # The same clean environment the autouse clean_environ fixture gives each test.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "METAFLOW_"))}
    env["HEADWATER_USER"] = "tester"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tripwire, os.environ.get("PYTHONPATH")) if p)
    for tag in ("first", "second"):
        done = subprocess.run(headwater_argv("--quiet", "run", flow_path(FLOW), "--tag", tag),
                              cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return folder / ".headwater"


@pytest.fixture
def two_runs(two_runs_made, run_headwater, tmp_path):
    """A private copy of the two runs' datastore in the test's folder: tests change tags."""
    shutil.copytree(two_runs_made, tmp_path / ".headwater")
    return run_headwater


def tag(run_headwater, *args: str):
    return run_headwater("tag", flow_path(FLOW), *args)


def test_add_remove_replace_by_run_id(two_runs, client):
    done = tag(two_runs, "add", "--run-id", "1", "good", "checked")
    assert done.returncode == 0, done.stderr
    # Metaflow's layout (tests/compat/test_fidelity_leftovers.py has the rest of it).
    assert done.stdout.splitlines()[0] == "Operation successful. New tags:"
    assert {"checked", "first", "good", "user:tester"} <= set(done.stdout.split())
    assert tag(two_runs, "remove", "--run-id", "1", "first").returncode == 0
    assert tag(two_runs, "replace", "--run-id", "1", "good", "best").returncode == 0
    client()
    assert Run("CompatBranchFlow/1").user_tags == {"checked", "best"}
    assert Run("CompatBranchFlow/2").user_tags == {"second"}


def test_without_run_id_acts_on_your_latest_run(two_runs, client):
    done = tag(two_runs, "add", "latest-one")
    assert done.returncode == 0 and "Tagged CompatBranchFlow/2, your latest run." in done.stderr
    client()
    assert [run.id for run in Flow("CompatBranchFlow").runs("latest-one")] == ["2"]


def test_list_shows_user_and_system_tags(two_runs):
    # As Metaflow's: every run's tags together by default, each run's with --group-by-run.
    done = tag(two_runs, "list")
    assert done.returncode == 0, done.stderr
    assert {"first", "second", "user:tester"} <= set(done.stdout.split())
    grouped = tag(two_runs, "list", "--group-by-run")
    assert grouped.stdout.index("For run CompatBranchFlow/1") < grouped.stdout.index(
        "For run CompatBranchFlow/2")
    single = tag(two_runs, "list", "--run-id", "1", "--hide-system-tags")
    assert "first" in single.stdout and "user:tester" not in single.stdout
    assert "second" not in single.stdout


def test_system_tags_and_bad_tags_are_refused(two_runs, client):
    done = tag(two_runs, "remove", "--run-id", "1", "user:tester")
    assert done.returncode == 1 and "cannot remove system tag" in done.stderr
    assert "Traceback" not in done.stderr
    for bad in ("../../etc", "/abs", "line\nbreak", "bell\x07"):
        done = tag(two_runs, "add", "--run-id", "1", bad)
        assert done.returncode == 1, bad
        assert "Invalid tag operation" in done.stderr and "Traceback" not in done.stderr
    refused = two_runs("run", flow_path(FLOW), "--tag", "a/../../b")
    assert refused.returncode == 1 and "--tag" in refused.stderr  # 1, as Metaflow's refusals
    client()
    assert Run("CompatBranchFlow/1").user_tags == {"first"}
    assert len(list(Flow("CompatBranchFlow"))) == 2  # the refused run was never started


def test_unknown_run_is_a_clear_error(two_runs):
    done = tag(two_runs, "add", "--run-id", "99", "x")
    assert done.returncode == 1 and "CompatBranchFlow/99" in done.stderr


def test_client_filters_runs_and_tasks_by_tag(two_runs, client):
    client()
    run = Run("CompatBranchFlow/1")
    run.add_tags(["alpha", "beta"])
    run.remove_tag("beta")
    run.replace_tag("alpha", "gamma")
    assert run.user_tags == {"first", "gamma"}
    assert [r.id for r in Flow("CompatBranchFlow").runs("gamma")] == ["1"]
    assert [r.id for r in Flow("CompatBranchFlow").runs("first", "gamma")] == ["1"]
    assert list(Flow("CompatBranchFlow").runs("gamma", "second")) == []
    assert [t.id for t in run["left"].tasks("gamma")] == [run["left"].task.id]
    assert list(Run("CompatBranchFlow/2")["left"].tasks("gamma")) == []
    with pytest.raises(TaggingError, match="system tag"):
        run.remove_tags(["runtime:dev"])
    with pytest.raises(TaggingError, match="path"):
        run.add_tag("../up")
    with pytest.raises(TaggingError, match="control character"):
        run.add_tag("tab\there")
