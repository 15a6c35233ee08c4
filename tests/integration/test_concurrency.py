"""Several runs of one flow at once in one folder, with a client reading all along.

The eight ``run`` processes start together in a folder with no ``.headwater/`` yet, so they also
race to create the datastore and the metadata database.
"""

from __future__ import annotations

import time

from headwater import Flow, Metaflow, namespace
from headwater.exceptions import NotFoundError

from .flowrun import example, point_client_at, start_cli

RUNS = 8
FLOW = "ForeachFlow"
TITLES = ["0: the bird", "1: the fish", "2: the fox"]


def read_everything(seen_ids: set[str]) -> None:
    """One pass of what a notebook polling the runs would do; any exception fails the test."""
    names = [f.id for f in Metaflow()]
    if FLOW not in names:
        return
    try:
        flow = Flow(FLOW)
    except NotFoundError:
        return  # listed by one read, not yet visible to the next: acceptable only before any run
    for run in flow:
        seen_ids.add(run.id)
        status = run.status
        assert status in ("running", "succeeded", "failed"), status
        for step in run:
            for task in step:
                task.finished  # noqa: B018 - reading is the test
                if task.successful:
                    assert "title" in task.data or step.id != "make_title"
        if run.successful:
            assert run.data.titles == TITLES


def test_eight_runs_at_once_in_one_folder(tmp_path):
    point_client_at(tmp_path / ".headwater")
    namespace(None)
    procs = [
        start_cli(example("foreach_flow.py"), "--quiet", "run", "--run-id-file", f"id{i}.txt",
                  cwd=tmp_path)
        for i in range(RUNS)
    ]
    seen: set[str] = set()
    passes = 0
    try:
        while any(p.poll() is None for p in procs):
            read_everything(seen)
            passes += 1
            time.sleep(0.005)  # leave the two CI cores to the runs, mostly
        read_everything(seen)
    finally:
        outputs = [p.communicate(timeout=120) for p in procs]

    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        assert "Traceback" not in err, err
    ids = [(tmp_path / f"id{i}.txt").read_text().strip() for i in range(RUNS)]
    assert len(set(ids)) == RUNS, ids
    for (out, _), run_id in zip(outputs, ids, strict=True):
        assert out.strip() == f"Done! Run {FLOW}/{run_id} succeeded.", out

    runs = list(Flow(FLOW))
    assert sorted(r.id for r in runs) == sorted(ids)
    for run in runs:
        assert run.successful, run
        assert {s.id for s in run} == {"start", "make_title", "join", "end"}
        assert len(list(run["make_title"])) == 3
        assert run.data.titles == TITLES
    assert passes >= 1
    assert seen <= set(ids)


def test_runs_in_one_folder_do_not_share_task_output(tmp_path):
    """Two concurrent runs each log only their own tasks' output."""
    procs = [start_cli(example("linear_flow.py"), "run", cwd=tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    run_ids = set()
    for out, _ in outs:
        closing = out.splitlines()[-1]
        run_id = closing.removeprefix("Done! Run LinearFlow/").removesuffix(" succeeded.")
        run_ids.add(run_id)
        prefixes = {line.split("[", 1)[1].split("/", 1)[0] for line in out.splitlines()
                    if line[:4].isdigit() and "[" in line}
        assert prefixes == {run_id}
    assert len(run_ids) == 2
