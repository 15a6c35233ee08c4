"""Counting a run's tasks for the progress display, and the words it shows."""

from __future__ import annotations

import io
import sys

from headwater.runtime.console import LINES, LIVE, SUMMARY, Console, choose_mode, flow_command
from headwater.runtime.progress import Progress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counts_follow_each_task_from_waiting_to_its_end():
    clock = Clock()
    progress = Progress(clock)
    progress.queued("start")
    progress.started("start")
    progress.finished("start", "done")
    for _ in range(4):
        progress.queued("each")
    for _ in range(3):
        progress.started("each")
    progress.finished("each", "done")
    progress.finished("each", "retry")  # a retry waits again
    progress.finished("each", "failed")
    each = progress.steps["each"]
    assert (each.waiting, each.running, each.done, each.failed) == (2, 0, 1, 1)
    assert list(progress.steps) == ["start", "each"]
    clock.now += 3.0
    assert progress.summary() == ("Progress: 2/5 tasks done, 0 running, 1 failed, 2 waiting; 3s, "
                                  "1.0 tasks/s, about 2s left")
    progress.dropped_waiting()
    assert progress.totals().waiting == 0
    # the two that never started stay in the step's total, as "not run"
    assert progress.step_line("each", 4) == "  each  [#####-----]  1/4 done  1 failed  2 not run"


def test_a_cloned_task_is_done_without_running():
    progress = Progress()
    progress.queued("start")
    progress.cloned("start")
    assert progress.totals().done == 1 and progress.totals().running == 0


def test_a_resumed_step_says_how_many_of_its_tasks_were_cloned():
    progress = Progress()
    for _ in range(3):
        progress.queued("each")
    progress.cloned("each")
    progress.cloned("each")
    progress.started("each")
    assert progress.step_line("each", 4) == "  each  [#######---]  2/3 done (2 cloned)  1 running"
    progress.finished("each", "done")
    assert progress.step_line("each", 4) == "  each  [##########]  3/3 done (2 cloned)"


def test_durations_read_short():
    assert [duration(s) for s in (0.4, 9, 65, 7380)] == ["0s", "9s", "1m05s", "2h03m"]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_display_is_chosen_by_where_stdout_goes():
    pipe, tty = io.StringIO(), FakeTerminal()
    assert choose_mode("auto", False, pipe) == LINES
    assert choose_mode("auto", True, pipe) == SUMMARY
    assert choose_mode("auto", False, tty) == LIVE
    assert choose_mode("live", False, pipe) == SUMMARY  # no redrawing into a file
    assert choose_mode("lines", False, tty) == LINES


def test_live_mode_prints_errors_above_the_display_and_hides_task_lines():
    out = FakeTerminal()
    console = Console.for_run(out=out)
    console.progress.queued("start")
    console.progress.started("start")
    console.tick()
    console.task_line("1/start/1", "Task is starting.")
    console.task_line("1/start/1", "Task failed.", always=True)
    text = out.getvalue()
    assert "Task is starting." not in text
    assert "\x1b[2F\x1b[J" in text  # erased its two lines before printing the error
    assert "[1/start/1] Task failed.\n" in text
    # the display is drawn again below the error: the run's line, then one line per step
    *_, summary, step_line = text.splitlines()
    assert summary.startswith("Progress: 0/1 tasks done, 1 running, 0 failed, 0 waiting")
    assert step_line.startswith("  start  [") and step_line.endswith("]  0/1 done  1 running")


def test_a_stopped_run_keeps_the_tasks_it_never_ran_in_its_totals():
    """A failure stops a 1,000-item foreach after a few hundred: the counts still say 1000."""
    clock = Clock()
    progress = Progress(clock)
    for _ in range(1000):
        progress.queued("work")
    for _ in range(4):
        progress.started("work")
    for _ in range(3):
        progress.finished("work", "done")
    progress.finished("work", "failed")
    progress.dropped_waiting()
    clock.now += 2.0
    assert progress.summary() == ("Progress: 3/1000 tasks done, 0 running, 1 failed, 0 waiting, "
                                  "996 not run; 2s, 2.0 tasks/s")
    assert progress.step_line("work", 4) == "  work  [----------]  3/1000 done  1 failed  996 not run"


def test_the_live_display_waits_for_the_first_task():
    """The header lines of a run are printed before any task exists: no "0/0 tasks" under them."""
    out = FakeTerminal()
    console = Console.for_run(out=out)
    console.say("Workflow starting (run-id 1):")
    console.tick()
    assert "Progress:" not in out.getvalue() and "\x1b[" not in out.getvalue()
    console.progress.queued("start")
    console.tick()
    assert "Progress: 0/1 tasks done, 0 running, 0 failed, 1 waiting" in out.getvalue()


def test_a_dumb_terminal_gets_lines_not_a_redrawn_display(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    assert choose_mode("auto", False, FakeTerminal()) == LINES
    assert choose_mode("live", False, FakeTerminal()) == SUMMARY
    monkeypatch.setenv("TERM", "xterm")
    assert choose_mode("auto", False, FakeTerminal()) == LIVE


def test_a_log_with_summary_lines_ends_with_where_the_run_stopped():
    out = io.StringIO()
    console = Console(out, quiet=True, mode=SUMMARY, summary_every=1e-9)
    for _ in range(10):
        console.progress.queued("work")
    console.progress.started("work")
    console.tick()  # the interval has passed: a summary line
    console.progress.finished("work", "failed")
    console.progress.dropped_waiting()
    console.finish("1")
    *_, last = out.getvalue().splitlines()
    assert last.startswith("Progress: 0/10 tasks done, 0 running, 1 failed, 0 waiting, 9 not run")


def test_a_short_quiet_run_prints_no_summary_at_its_end():
    out = io.StringIO()
    console = Console(out, quiet=True, mode=SUMMARY, summary_every=3600)
    console.progress.queued("start")
    console.tick()
    console.finish("1")
    assert out.getvalue() == ""


def test_the_logs_hint_is_the_command_the_user_typed(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["examples/pets_flow.py", "run"])
    assert flow_command("logs") == "python examples/pets_flow.py logs"
    monkeypatch.setattr(sys, "argv", ["/abs/where/pets_flow.py", "run"])
    assert flow_command("logs") == "python pets_flow.py logs"
    monkeypatch.setattr(sys, "argv", ["/venv/bin/headwater", "--quiet", "run", "flows/f.py"])
    assert flow_command("logs") == "headwater logs flows/f.py"


def test_a_narrow_terminal_keeps_the_counts_and_drops_the_bars(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("LINES", "24")
    out = FakeTerminal()
    console = Console.for_run(out=out)
    for _ in range(1000):
        console.progress.queued("work")
    for _ in range(3):
        console.progress.started("work")
    console.tick()
    frame = out.getvalue().splitlines()
    assert frame == ["0/1000 done, 3 running, 0 failed; 0s", "  work  0/1000 done  3 running"]
    assert all(len(line) < 40 for line in frame)
    monkeypatch.setenv("COLUMNS", "200")
    wide = FakeTerminal()
    console = Console.for_run(out=wide)
    console.progress.queued("work")
    console.tick()
    assert wide.getvalue().splitlines()[0].startswith("Progress: 0/1 tasks done")
    assert "[" in wide.getvalue().splitlines()[1]  # the bar, when there is room
