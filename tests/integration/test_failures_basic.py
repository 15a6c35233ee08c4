"""A step that fails: the run stops cleanly, says why under the task's prefix, and reads as failed.

``flows/fail_flow.py``: start splits into ``a`` (raises ValueError) and ``b``, which waits until the
run's metadata records ``a`` as failed before it finishes. So ``b`` is provably still running when
the scheduler handles the failure, and the test can check that it was let finish.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from headwater import Flow, Run

from .flowrun import TaskLine, flow_file, line_of, point_client_at, run_cli, task_lines

FAIL = flow_file("fail_flow.py")


@pytest.fixture(scope="module")
def failed(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    where = tmp_path_factory.mktemp("failed")
    return where, run_cli(FAIL, "run", cwd=where, hermetic=True)


@pytest.fixture
def run(failed) -> Run:
    point_client_at(failed[0] / ".headwater")
    runs = list(Flow("FailFlow"))
    assert len(runs) == 1
    return runs[0]


def lines_of(proc: subprocess.CompletedProcess, step: str) -> list[TaskLine]:
    return [t for t in task_lines(proc.stdout) if t.step == step]


def test_the_run_exits_non_zero_and_names_the_failed_task(failed):
    _, proc = failed
    assert proc.returncode == 1, proc.stdout + proc.stderr
    a = lines_of(proc, "a")[0]
    closing = f"Run FailFlow/{a.run} failed: FailFlow/{a.run}/a/{a.task}."
    assert proc.stdout.splitlines()[-1] == closing


def test_the_traceback_appears_under_the_task_prefix(failed):
    _, proc = failed
    texts = [t.text for t in lines_of(proc, "a")]
    assert texts[0] == "Task is starting."
    assert "a is about to fail" in texts
    assert "Traceback (most recent call last):" in texts
    raise_line = line_of(FAIL, 'raise ValueError("boom in a")')
    assert f'  File "{FAIL}", line {raise_line}, in a' in texts
    assert "ValueError: boom in a" in texts
    assert texts[-1] == "Task failed."
    # only the user's frames: headwater's own are noise to the reader
    assert not any("/headwater/runtime/" in t for t in texts), texts
    assert "Traceback" not in proc.stderr  # the scheduler itself did not crash


def test_later_steps_never_ran(failed, run):
    _, proc = failed
    assert {t.step for t in task_lines(proc.stdout)} == {"start", "a", "b"}
    assert {s.id for s in run} == {"start", "a", "b"}
    assert "join" not in run and "end" not in run
    assert run.end_task is None
    assert run.data is None


def test_a_running_sibling_is_allowed_to_finish(failed, run):
    _, proc = failed
    b = [t.text for t in lines_of(proc, "b")]
    assert b[-2:] == ["b saw a fail and finishes", "Task finished successfully."]
    # b saw a's failure recorded, so it was running while the scheduler handled it
    tls = task_lines(proc.stdout)
    a_failed = next(i for i, t in enumerate(tls) if t.step == "a" and t.text == "Task failed.")
    b_done = next(i for i, t in enumerate(tls) if t.step == "b" and t.text.startswith("Task fin"))
    assert a_failed < b_done
    task = run["b"].task
    assert task.successful and task.finished
    assert task.data.b_done is True


def test_the_client_reads_the_run_as_failed(run):
    assert run.finished is True
    assert run.successful is False
    assert run.status == "failed"
    assert run.finished_at is not None
    assert Flow("FailFlow").latest_successful_run is None
    assert Flow("FailFlow").latest_run == run


def test_the_failed_task_keeps_its_exception_and_logs(run):
    task = run["a"].task
    assert task.finished is True
    assert task.successful is False
    exc = task.exception
    assert exc is not None
    assert exc.type_name == "ValueError"
    assert exc.message == "boom in a"
    assert 'raise ValueError("boom in a")' in exc.traceback
    assert task.stdout == "a is about to fail\n"
    assert "Traceback (most recent call last):" in task.stderr
    assert "ValueError: boom in a" in task.stderr
    assert run["b"].task.exception is None
    assert run["start"].task.exception is None


def test_quiet_still_says_why_a_task_failed(tmp_path):
    proc = run_cli(FAIL, "--quiet", "run", cwd=tmp_path)
    assert proc.returncode == 1
    a = [t.text for t in task_lines(proc.stdout) if t.step == "a"]
    # --quiet hides task output, but not the reason a task failed
    assert "ValueError: boom in a" in a, proc.stdout
    assert a[-1] == "Task failed."
    assert "a is about to fail" not in a  # ordinary output stays hidden


def test_quiet_failure_still_prints_task_failed_and_closing_line(tmp_path):
    proc = run_cli(FAIL, "--quiet", "run", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any(line.endswith("Task failed.") for line in lines)
    assert lines[-1].startswith("Run FailFlow/") and " failed: " in lines[-1]
    assert "Task is starting." not in proc.stdout


# ---------------------------------------------------------------- other ways to fail


def test_a_crashed_task_process_is_reported(tmp_path):
    proc = run_cli(flow_file("crash_flow.py"), "run", cwd=tmp_path)
    assert proc.returncode == 1
    texts = [t.text for t in task_lines(proc.stdout) if t.step == "start"]
    assert "about to vanish" in texts
    assert any("exited with code 3" in t for t in texts), texts
    assert texts[-1] == "Task failed."
    point_client_at(tmp_path / ".headwater")
    run = Flow("CrashFlow").latest_run
    assert run.finished and not run.successful
    exc = run["start"].task.exception
    assert exc is not None and "code 3" in exc.message
    assert "end" not in run


@pytest.mark.parametrize(("what", "phrase"), [
    ("next", "'self.next'"),
    ("input", "'self.input'"),
    ("parameter", "parameter 'what'"),
])
def test_assigning_a_reserved_attribute_fails_the_task(tmp_path, what, phrase):
    flow = flow_file("reserved_flow.py")
    proc = run_cli(flow, "run", "--what", what, cwd=tmp_path)
    assert proc.returncode == 1
    texts = [t.text for t in task_lines(proc.stdout) if t.step == "start"]
    error = [t for t in texts if "ReservedAttributeError" in t]
    assert error and phrase in error[0], texts
    assert texts[-1] == "Task failed."
    assert "end should not run" not in proc.stdout
    point_client_at(tmp_path / ".headwater")
    task = Flow("ReservedFlow").latest_run["start"].task
    assert task.exception.type_name == "ReservedAttributeError"
    assert phrase in task.exception.message
