"""@retry, @catch and @timeout through real runs, and ``--with`` applying a decorator to every step.

Flows under ``flows/faults/``; how often a step fails comes from the environment, so one flow
serves the passing and the failing case.
"""

from __future__ import annotations

import pytest

from headwater import Flow, Task, retry, step, timeout
from headwater.decorators.registry import step_policy

from .faultkit import LiveRun, client, fault_flow, group_gone, hw, kill_group_quietly
from .flowrun import task_lines

RETRY = fault_flow("retry_flow.py")
CATCH = fault_flow("catch_flow.py")
CATCH_FOREACH = fault_flow("catch_foreach_flow.py")
TIMEOUT = fault_flow("timeout_flow.py")
FIRST_TRY = fault_flow("first_try_fails_flow.py")


def lines(output: str, step_name: str) -> list[str]:
    return [t.text for t in task_lines(output) if t.step == step_name]


# ------------------------------------------------------------------------------- @retry


def test_retry_runs_a_failing_step_again_and_records_every_attempt(tmp_path):
    proc = hw(RETRY, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = lines(proc.stdout, "flaky")
    assert "Task failed; retrying (attempt 2 of 3)." in said
    assert "Task failed; retrying (attempt 3 of 3)." in said
    assert "Task is starting (retry 2)." in said

    client(tmp_path)
    run = Flow("RetryFlow").latest_run
    task = run["flaky"].task
    assert task.successful and task.current_attempt == 2
    assert task.data.succeeded_on == 2  # current.retry_count as the step saw it
    assert [(a.attempt, a.status) for a in task.attempts] == [
        (0, "failed"), (1, "failed"), (2, "succeeded")]
    for n in range(3):
        attempt = Task(task.pathspec, attempt=n)
        assert attempt.stdout == f"attempt {n} says hello\n"
        if n < 2:
            assert attempt.exception.type_name == "ValueError"
            assert attempt.exception.message == f"flaky failure number {n}"
            assert f"ValueError: flaky failure number {n}" in attempt.stderr
        else:
            assert attempt.exception is None and attempt.stderr == ""
    assert task.exception is None  # the latest attempt's
    assert run["end"].task.stdout == "flaky succeeded on attempt 2\n"


def test_a_step_that_fails_every_retry_fails_the_run(tmp_path):
    proc = hw(RETRY, "run", cwd=tmp_path, FLAKY_FAILURES="9")
    assert proc.returncode == 1
    assert lines(proc.stdout, "flaky")[-1] == "Task failed."
    client(tmp_path)
    run = Flow("RetryFlow").latest_run
    task = run["flaky"].task
    assert [a.status for a in task.attempts] == ["failed"] * 3
    assert task.exception.message == "flaky failure number 2"
    assert "end" not in run
    # a retried step that failed for good resumes like any other
    proc = hw(RETRY, "resume", cwd=tmp_path, FLAKY_FAILURES="0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Flow("RetryFlow").latest_run["flaky"].task.data.succeeded_on == 0


# ------------------------------------------------------------------------------- @catch


def test_catch_in_a_foreach_names_the_tasks_indices_and_item(tmp_path):
    """As Metaflow's: ``str(self)`` in a task, and so @catch's first line, is
    ``<flow F step S[i,j] (input: item)>`` inside a foreach, the item cut at 20 characters."""
    proc = hw(CATCH_FOREACH, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "<flow CatchForeachFlow step start>" in lines(proc.stdout, "start")
    said = lines(proc.stdout, "leaf")
    for where in ("[0,0] (input: 7)", "[1,0] (input: 7)",
                  "[0,1] (input: a rather long item t...)", "[1,1] (input: a rather long item t...)"):
        assert f"<flow CatchForeachFlow step leaf{where}>" in said, said
        assert f"@catch caught an exception from <flow CatchForeachFlow step leaf{where}>" in \
            said, said


def test_catch_lets_the_flow_go_on_with_the_exception_stored(tmp_path):
    proc = hw(CATCH, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    boom = lines(proc.stdout, "boom")
    assert "Task failed; retrying (attempt 2 of 2)." in boom
    assert "Task failed; @catch lets the flow go on." in boom
    # What @catch says of what it caught goes to stdout, as Metaflow's: a line naming the flow
    # and step, then the traceback marked ">  " (the earlier attempt's traceback is on stderr).
    caught_at = boom.index("@catch caught an exception from <flow CatchFlow step boom>")
    assert boom[caught_at + 1] == ">  Traceback (most recent call last):"
    assert boom[caught_at + 2:caught_at + 4] == [
        f'>    File "{CATCH}", line 26, in boom',
        '>      raise KeyError(f"no such key on attempt {current.retry_count}")']
    assert boom[caught_at + 4] == ">  KeyError: 'no such key on attempt 1'"
    assert not any(t.startswith(("@catch caught", ">  ")) or "nobody hears" in t
                   for t in lines(proc.stdout, "quiet"))
    assert "nobody hears this" not in proc.stderr

    client(tmp_path)
    run = Flow("CatchFlow").latest_run
    assert run.successful
    task = run["boom"].task
    assert not task.successful and task.finished  # as Metaflow's: the step raised
    assert [a.status for a in task.attempts] == ["failed", "failed", "succeeded"]
    assert [a.failure.type_name for a in task.attempts[:2]] == ["KeyError", "KeyError"]
    error = task.data.error
    assert error.type == "KeyError" and "attempt 1" in error.message
    assert "raise KeyError" in error.traceback
    # what the caught attempt set before raising is kept, as Metaflow keeps it
    assert task.data.partial == "set before raising on attempt 1"
    assert task.data.before == "kept"  # what it inherited is
    # a crash (no Python exception at all) is caught too, and its task reads unsuccessful as
    # Metaflow's does (its fallback attempt handles FailureHandledByCatch: _success is False)
    assert "exited with code 7" in run["crash"].task.data.crash_error.message
    assert not run["crash"].task.successful and run["crash"].task.finished
    assert "catch-fallback" not in run["crash"].task.metadata_dict  # headwater's own, hidden
    # without var= nothing is stored, and the flow went on all the same
    assert not run["quiet"].task.successful and run["quiet"].task.finished
    # The task's logs hold it where Metaflow's do: the caught attempt's stdout, nothing on stderr.
    assert task.stdout.splitlines() == ["boom attempt 1", *boom[caught_at:caught_at + 5]]
    assert task.stderr == ""
    assert Task(task.pathspec, attempt=0).stderr.endswith(
        "KeyError: 'no such key on attempt 0'\n")  # a retried attempt's traceback: stderr
    shown = hw(CATCH, "logs", f"{run.id}/boom", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout == task.stdout, shown.stdout + shown.stderr
    shown = hw(CATCH, "logs", f"{run.id}/boom", "--stderr", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout == "", shown.stdout
    assert run["crash"].task.stdout.splitlines() == [
        "@catch caught an exception from <flow CatchFlow step crash>",
        ">  TaskCrashed: the task's process exited with code 7 before the step finished "
        "(os._exit() or a crash in native code?)"]
    assert run["crash"].task.stderr == ""
    quiet = run["quiet"].task
    assert quiet.stdout == "" and quiet.stderr == ""  # print_exception=False: nothing at all
    assert run["end"].task.stdout.splitlines() == [
        "error type: KeyError",
        "error text: KeyError: 'no such key on attempt 1'",
        "crash text: TaskCrashed: the task's process exited with code 7 before the step "
        "finished (os._exit() or a crash in native code?)",
        "before: kept",
    ]


def test_a_run_whose_end_step_crashed_under_catch_reads_failed(tmp_path):
    """As Metaflow's: @catch handles the end step's death (its fallback attempt), the run exits
    0 and goes on to nothing, yet neither the end task nor the run is successful."""
    flow = tmp_path / "end_crash_flow.py"
    flow.write_text(
        "import os\n\nfrom headwater import FlowSpec, catch, step\n\n\n"
        "class EndCrashFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @catch(var='gone')\n    @step\n    def end(self):\n        os._exit(5)\n\n\n"
        "if __name__ == '__main__':\n    EndCrashFlow()\n")
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "its end step failed and @catch caught it" in proc.stdout
    client(tmp_path)
    run = Flow("EndCrashFlow").latest_run
    assert run.finished and not run.successful and run.status == "failed"
    assert not run["end"].task.successful
    assert Flow("EndCrashFlow").latest_successful_run is None


# ------------------------------------------------------------------------------ @timeout


def test_timeout_stops_the_whole_task_and_retry_runs_it_again(tmp_path):
    live = LiveRun(TIMEOUT, "run", cwd=tmp_path)
    pgid = -1
    try:
        pgid = int(live.wait_for(r"READY pgid=(\d+)")[1])
        assert live.finish() == 0, live.output + live.stderr
        group_gone(pgid)  # the step's `sleep 1000` was stopped with it
    finally:
        live.kill()
        kill_group_quietly(pgid)
    said = lines(live.output, "slow")
    assert ("TimeoutException: step 'slow' ran longer than its @timeout of 1 s and was stopped"
            in said)
    assert "Task failed; retrying (attempt 2 of 2)." in said
    client(tmp_path)
    task = Flow("TimeoutFlow").latest_run["slow"].task
    assert task.successful and task.data.finished_on == 1
    first = task.attempts[0]
    assert first.status == "failed" and first.failure.type_name == "TimeoutException"
    assert "@timeout of 1 s" in first.failure.message
    assert "READY" in Task(task.pathspec, attempt=0).stdout  # its logs are kept


def test_a_step_over_time_on_every_attempt_fails_the_run(tmp_path):
    proc = hw(TIMEOUT, "run", cwd=tmp_path, SLOW_ATTEMPTS="9")
    assert proc.returncode == 1
    assert lines(proc.stdout, "slow")[-1] == "Task failed."
    client(tmp_path)
    task = Flow("TimeoutFlow").latest_run["slow"].task
    assert [a.failure.type_name for a in task.attempts] == ["TimeoutException"] * 2


def test_timeout_adds_up_seconds_minutes_and_hours():
    @timeout(hours=1, minutes=2, seconds=3)
    @step
    def slow(self):
        pass

    @retry(times=4, minutes_between_retries=0.5)
    @step
    def flaky(self):
        pass

    assert step_policy(slow).timeout_s == 3723
    assert step_policy(timeout(minutes=0.5)(step(lambda self: None))).timeout_s == 30
    policy = step_policy(flaky)
    assert policy.attempts == 5 and policy.retry_delay_s == 30


# -------------------------------------------------------------------------------- --with


def test_with_retry_applies_to_every_step(tmp_path):
    without = hw(FIRST_TRY, "run", cwd=tmp_path)
    assert without.returncode == 1
    proc = hw(FIRST_TRY, "--with", "retry:times=1,minutes_between_retries=0", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(tmp_path)
    run = Flow("FirstTryFailsFlow").latest_run
    for name in ("start", "middle", "end"):
        task = run[name].task
        assert [a.status for a in task.attempts] == ["failed", "succeeded"], name
        assert Task(task.pathspec, attempt=1).stdout == f"{name} attempt 1\n"


def test_with_given_after_run_and_resume_applies_as_the_top_level_one(tmp_path):
    # Metaflow's documented spelling: python flow.py run --with retry (and resume --with ...)
    proc = hw(FIRST_TRY, "run", "--with", "retry:times=1,minutes_between_retries=0",
              cwd=tmp_path, FIRST_TRY_FAILS="middle")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    failed = hw(FIRST_TRY, "run", cwd=tmp_path, FIRST_TRY_FAILS="end")
    assert failed.returncode == 1
    resumed = hw(FIRST_TRY, "resume", "--with", "catch:var=oops", cwd=tmp_path,
                 FIRST_TRY_FAILS="end", ALWAYS_FAIL="1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    client(tmp_path)
    runs = list(Flow("FirstTryFailsFlow").runs())
    first = runs[-1]
    assert [a.status for a in first["middle"].task.attempts] == ["failed", "succeeded"]
    assert runs[0]["end"].task.data.oops.type == "RuntimeError"


def test_with_retry_waits_between_attempts_when_asked(tmp_path):
    proc = hw(FIRST_TRY, "--with", "retry:times=1,minutes_between_retries=0.005", "run",
              cwd=tmp_path, FIRST_TRY_FAILS="start")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Task failed; retrying (attempt 2 of 2) in 0.3 s." in lines(proc.stdout, "start")


def test_a_steps_own_decorator_wins_over_with(tmp_path):
    # flaky has @retry(times=2): --with retry:times=0 must not take its retries away
    proc = hw(RETRY, "--with", "retry:times=0,minutes_between_retries=0", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_with_retry_and_its_defaults_are_accepted(tmp_path):
    proc = hw(RETRY, "--with", "retry", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_with_catch_applies_to_every_step(tmp_path):
    proc = hw(FIRST_TRY, "--with", "catch:var=oops", "run", cwd=tmp_path, ALWAYS_FAIL="1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(tmp_path)
    run = Flow("FirstTryFailsFlow").latest_run
    # As Metaflow's: each caught task reads unsuccessful, and so does the run, its end step
    # having been caught; the run still went on to its end (run.status agrees: 'failed').
    assert not run.successful and run.finished and run.status == "failed"
    for name in ("start", "middle", "end"):
        task = run[name].task
        assert not task.successful and task.data.oops.type == "RuntimeError", name
        assert task.data.oops.message == f"{name} fails on attempt 0"


@pytest.mark.parametrize(("spec", "limit"), [
    ("timeout:seconds=1", "1 s"),
    ("timeout:minutes=0.02", "1.2 s"),
])
def test_with_timeout_stops_a_step_over_time(tmp_path, spec, limit):
    # fault_flow's work step has no @timeout of its own; with FAULT=wait it never ends by itself
    live = LiveRun(fault_flow("fault_flow.py"), "--with", spec, "run", cwd=tmp_path, FAULT="wait")
    pgid = -1
    try:
        pgid = int(live.wait_for(r"READY pid=\d+ pgid=(\d+)")[1])
        assert live.finish() == 1, live.output + live.stderr
        group_gone(pgid)
    finally:
        live.kill()
        kill_group_quietly(pgid)
    said = lines(live.output, "work")
    assert f"TimeoutException: step 'work' ran longer than its @timeout of {limit} and was stopped" \
        in said
    assert said[-1] == "Task failed."
