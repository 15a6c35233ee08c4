"""Retention rules and the CLI's duration and date parsing, over a real SQLite metadata file."""

from __future__ import annotations

import os
import time

import click
import pytest

from headwater.cli.gc_cmd import parse_date, parse_duration
from headwater.exceptions import NotFoundError, RunInUseError
from headwater.maintenance import Retention, check_deletable, delete_runs, expired_runs
from headwater.meta.liveness import this_host
from headwater.meta.sqlite import SQLiteMetadata


@pytest.fixture
def meta(tmp_path):
    store = SQLiteMetadata(str(tmp_path / "meta.sqlite"))
    yield store
    store.close()


def _run(meta, flow="AFlow", *, tags=(), finished=True, origin=None) -> str:
    run_id = meta.new_run(flow, user="u", tags=list(tags), system_tags=[], params={},
                          origin_run_id=origin, pid=os.getpid(), host=this_host())
    if finished:
        meta.run_finished(flow, run_id, "succeeded", time.time())
    return run_id


def test_a_run_is_kept_by_any_rule_and_live_runs_always(meta):
    ids = [_run(meta, tags=["star"] if i == 1 else ()) for i in range(5)]  # "1" .. "5"
    live = _run(meta, finished=False)  # "6", its scheduler is this very process
    _run(meta, "BFlow")
    gone = [r.pathspec for r in expired_runs(meta, ["AFlow"], Retention(keep_last=2))]
    assert gone == [f"AFlow/{i}" for i in ids[:4]]  # the live one is among the newest anyway
    gone = [r.pathspec for r in expired_runs(meta, [], Retention(keep_last=0, keep_tagged=True))]
    assert gone == [f"AFlow/{i}" for i in ids if i != "2"] + ["BFlow/1"]
    assert f"AFlow/{live}" not in gone
    with pytest.raises(NotFoundError, match="(?s)flow NoFlow has no runs.*AFlow, BFlow"):
        expired_runs(meta, ["NoFlow"], Retention(keep_last=1))
    cut = meta.get_run("AFlow", "4").created_at
    gone = [r.run_id for r in expired_runs(meta, ["AFlow"], Retention(keep_since=cut))]
    assert gone == ["1", "2", "3"]


def test_live_runs_and_origins_of_live_resumes_are_refused_by_name(meta):
    origin = _run(meta)
    resuming = _run(meta, finished=False, origin=origin)
    with pytest.raises(RunInUseError, match=f"run AFlow/{resuming} is still running"):
        check_deletable(meta, "AFlow", resuming)
    with pytest.raises(RunInUseError, match=f"AFlow/{origin} is the origin of run AFlow/"):
        delete_runs(meta, [f"AFlow/{origin}"])
    with pytest.raises(NotFoundError, match="'AFlow' does not name a run"):
        delete_runs(meta, ["AFlow"])
    other = _run(meta)
    with pytest.raises(RunInUseError):  # one refusal deletes none of the named runs
        delete_runs(meta, [f"AFlow/{other}", f"AFlow/{resuming}"])
    assert meta.get_run("AFlow", other) is not None
    meta.run_finished("AFlow", resuming, "succeeded", time.time())
    assert [r.run_id for r in delete_runs(meta, [f"AFlow/{origin}"])] == [origin]


def test_durations_and_dates():
    assert [parse_duration(t) for t in ("0", "90", "30s", "10m", "1.5h", "2d")] == [
        0, 90, 30, 600, 5400, 172800]
    with pytest.raises(click.BadParameter, match="'soon' is not a duration"):
        parse_duration("soon")
    assert parse_date("2026-11-01") == time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, -1))
    with pytest.raises(click.BadParameter, match="not a date"):
        parse_date("November")


def test_a_resume_whose_origin_was_deleted_as_it_registered_fails_naming_both(meta):
    from headwater.runtime.launcher import _origin_still_there

    origin = _run(meta)
    resume = _run(meta, finished=False, origin=origin)
    _origin_still_there(meta, "AFlow", resume, origin)  # still there: nothing happens
    assert meta.get_run("AFlow", resume).status == "running"
    meta.delete_run("AFlow", origin)
    with pytest.raises(NotFoundError, match=f"run AFlow/{origin} was deleted while run "
                                            f"AFlow/{resume} was starting"):
        _origin_still_there(meta, "AFlow", resume, origin)
    assert meta.get_run("AFlow", resume).status == "failed"


def test_deleting_a_run_of_a_misspelt_flow_names_the_close_flow(meta):
    """`headwater delete PetFlow/2` for PetsFlow/2 said the run was "already deleted, or never
    recorded", and its fix listed the runs of a flow that does not exist."""
    _run(meta, "PetsFlow")
    _run(meta, "PetsFlow")
    with pytest.raises(NotFoundError, match=r"no flow named PetFlow in the metadata, so no run "
                                            r"PetFlow/2; did you mean PetsFlow/2\?") as caught:
        delete_runs(meta, ["PetFlow/2"])
    assert "fix: list the flows and their runs with `headwater runs`" in str(caught.value)
    assert meta.get_run("PetsFlow", "2") is not None  # nothing deleted
    with pytest.raises(NotFoundError) as caught:
        delete_runs(meta, ["Unrelated/1"])
    assert "did you mean" not in str(caught.value)
    # a flow that exists, a run that does not: as before
    with pytest.raises(NotFoundError, match=r"run PetsFlow/9 is not in the metadata"):
        delete_runs(meta, ["PetsFlow/9"])
