"""``resume``: a new run that clones what succeeded in an earlier run and re-runs the rest.

``flows/faults/resume_flow.py`` has every shape (branch, join, foreach, conditional, loop); the
``FAIL_AT`` variable makes chosen tasks fail, and every task prints ``RAN <label>``, so each test
sees exactly which tasks ran again and which were cloned.
"""

from __future__ import annotations

import pytest

from headwater import Flow, Run

from .faultkit import client, cloned, fault_flow, hw, ran

FLOW = fault_flow("resume_flow.py")

EVERY_TASK = [
    "start", "left", "right", "branches", "fan", "item:0", "item:1", "item:2", "gather",
    "choose", "approve", "again:1", "again:2", "again:3", "end",
]


def runs(tmp_path) -> list[Run]:
    """Every run of ResumeFlow, oldest first."""
    client(tmp_path)
    return list(reversed(list(Flow("ResumeFlow"))))


def labels_by_task(run: Run) -> dict[str, object]:
    """The RAN label of every task of ``run``: ``item:1`` (foreach index), ``again:2`` (pass)."""
    found = {}
    for step in run:
        tasks = sorted(step, key=lambda t: int(t.id))
        for n, task in enumerate(tasks, 1):
            if step.id == "item":
                found[f"item:{task.index}"] = task
            elif step.id == "again":
                found[f"again:{n}"] = task
            else:
                found[step.id] = task
    return found


def fail_then_resume(tmp_path, fail_at: str, *resume_args: str):
    first = hw(FLOW, "run", "--max-workers", "4", cwd=tmp_path, FAIL_AT=fail_at)
    assert first.returncode == 1, first.stdout + first.stderr
    assert f"injected failure at {fail_at}" in first.stdout
    second = hw(FLOW, "resume", *resume_args, cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    return first, second


@pytest.mark.parametrize(("fail_at", "runs_again"), [
    # a foreach child: only that child and what follows the foreach's join
    ("item:1", ["item:1", "gather", "choose", "approve", "again:1", "again:2", "again:3", "end"]),
    # one branch of a static split: its sibling is cloned
    ("right", EVERY_TASK[2:]),
    # the join of the split
    ("branches", EVERY_TASK[3:]),
    # the step that fans out
    ("fan", EVERY_TASK[4:]),
    # the join of the foreach
    ("gather", EVERY_TASK[8:]),
    # the case a conditional chose
    ("approve", EVERY_TASK[10:]),
    # the second pass of a loop: the first pass is cloned
    ("again:2", ["again:2", "again:3", "end"]),
    ("end", ["end"]),
])
def test_resume_reruns_what_failed_and_everything_after_it(tmp_path, fail_at, runs_again):
    _, second = fail_then_resume(tmp_path, fail_at)
    assert sorted(ran(second.stdout)) == sorted(runs_again)

    origin, resumed = runs(tmp_path)
    assert origin.status == "failed" and resumed.successful
    assert resumed.origin_run_id == origin.id
    assert resumed.data.squares == [0, 1, 4] and resumed.data.total == 23
    assert resumed.data.outcome == "approved" and resumed.data.passes == 3

    # every task is either cloned, pointing at the origin task at the same place, or ran again
    old, new = labels_by_task(origin), labels_by_task(resumed)
    assert sorted(new) == sorted(EVERY_TASK)
    said = cloned(second.stdout)
    for name, task in new.items():
        if name in runs_again:
            assert task.origin_pathspec is None, name
            continue
        source = old[name]
        assert task.origin_pathspec == source.pathspec, name
        assert source.successful
        # the console said so, naming both tasks
        assert said[task.pathspec.split("/", 1)[1]] == source.pathspec
        # same blobs, nothing copied: every artifact has the origin's content hash
        assert {a.id: a.sha for a in task} == {a.id: a.sha for a in source}, name
        assert task.stdout == source.stdout
    assert len(said) == len(EVERY_TASK) - len(runs_again)


def test_resume_from_a_step_reruns_that_step_and_what_follows(tmp_path):
    assert hw(FLOW, "run", cwd=tmp_path).returncode == 0
    proc = hw(FLOW, "resume", "gather", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ran(proc.stdout) == EVERY_TASK[8:]
    origin, resumed = runs(tmp_path)
    assert origin.successful and resumed.successful
    assert resumed["fan"].task.origin_pathspec == origin["fan"].task.pathspec

    # from a foreach child's step: every child runs again
    proc = hw(FLOW, "resume", "item", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(ran(proc.stdout)) == sorted(EVERY_TASK[5:])


def test_resume_keeps_the_origins_parameters_and_tells_the_task(tmp_path):
    first = hw(FLOW, "run", "--width", "2", "--verdict", "reject", cwd=tmp_path, FAIL_AT="end")
    assert first.returncode == 1
    second = hw(FLOW, "resume", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    origin, resumed = runs(tmp_path)
    assert resumed.parameters == origin.parameters == {"verdict": "reject", "width": 2}
    assert resumed.data.squares == [0, 1] and resumed.data.outcome == "rejected"
    assert resumed.data.origin_seen == origin.id  # current.origin_run_id
    assert resumed.data.retry_seen == 0
    assert "--width" not in hw(FLOW, "resume", "--help", cwd=tmp_path).stdout


def test_resume_of_a_chosen_origin_with_tags_and_one_worker(tmp_path):
    assert hw(FLOW, "run", cwd=tmp_path, FAIL_AT="item:1").returncode == 1
    assert hw(FLOW, "run", cwd=tmp_path, FAIL_AT="end").returncode == 1
    proc = hw(FLOW, "resume", "--origin-run-id", "1", "--tag", "second-try", "--tag", "p2",
              "--max-workers", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resuming ResumeFlow/1" in proc.stdout
    first, second, resumed = runs(tmp_path)
    assert resumed.origin_run_id == "1"
    assert {"second-try", "p2"} <= resumed.tags
    assert "item:1" in ran(proc.stdout)  # run 1's failure, not run 2's
    # the client shows both runs side by side
    assert [r.status for r in (first, second, resumed)] == ["failed", "failed", "succeeded"]


def test_a_resumed_run_can_itself_be_resumed(tmp_path):
    assert hw(FLOW, "run", cwd=tmp_path, FAIL_AT="item:1").returncode == 1
    assert hw(FLOW, "resume", cwd=tmp_path, FAIL_AT="again:1").returncode == 1
    proc = hw(FLOW, "resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(ran(proc.stdout)) == sorted(EVERY_TASK[11:])
    first, second, third = runs(tmp_path)
    assert third.origin_run_id == second.id and second.origin_run_id == first.id
    # a clone of a clone points at the run it was resumed from; the blob is still the first's
    start = third["start"].task
    assert start.origin_pathspec == second["start"].task.pathspec
    assert start["base"].sha == first["start"].task["base"].sha
    item1 = next(t for t in third["item"] if t.index == 1)
    assert item1.origin_pathspec == next(t for t in second["item"] if t.index == 1).pathspec

