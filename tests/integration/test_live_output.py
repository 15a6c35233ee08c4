"""Task output reaches the console while the task runs, not when it ends.

Asserted on events, never on time: the step in ``flows/live_flow.py`` blocks until the test,
having read the step's line from the run's stdout, creates a release file. If the line were held
back until the step ended, the test would never see it while the task is still running.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from headwater import Run

from .flowrun import TaskLine, flow_file, point_client_at, run_cli, start_cli, task_lines

SAFETY_S = 120  # only so that a broken build fails instead of hanging; never reached when working


def lines_as_they_come(proc) -> Iterator[str]:
    """The process's stdout lines, each as soon as it is written (a reader thread feeds a queue)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=SAFETY_S)
        except queue.Empty:
            proc.kill()
            raise AssertionError("the run printed nothing for a long time") from None
        if line is None:
            return
        yield line


def parse(line: str) -> TaskLine | None:
    found = task_lines(line)
    return found[0] if found else None


def test_task_output_is_streamed_while_the_task_runs(tmp_path):
    proc = start_cli(flow_file("live_flow.py"), "run", cwd=tmp_path)
    seen: list[TaskLine] = []
    released: list[str] = []
    try:
        for line in lines_as_they_come(proc):
            tl = parse(line)
            if tl is None:
                continue
            seen.append(tl)
            if tl.step != "start":
                continue
            if tl.text in ("first line", "a line on stderr"):
                # the task has not finished: it cannot, until we release it
                assert not any(t.step == "start" and t.text.startswith("Task fin") for t in seen)
                assert _task_is_running(tmp_path, tl)
                name = "release1" if tl.text == "first line" else "release2"
                (tmp_path / name).touch()
                released.append(name)
    finally:
        for name in ("release1", "release2"):  # on a failed assert, let the flow end promptly
            (tmp_path / name).touch()
        proc.wait(timeout=SAFETY_S)
        err = proc.stderr.read()
        proc.stderr.close()
        proc.stdout.close()
    assert proc.returncode == 0, err
    assert released == ["release1", "release2"]

    start = [t.text for t in seen if t.step == "start"]
    assert start == [
        "Task is starting.",
        "first line",
        "second line, no explicit flush",
        "a line on stderr",
        "a last line without newline",  # a partial line is printed when the task ends
        "Task finished successfully.",
    ]
    point_client_at(tmp_path / ".headwater")
    run = Run(f"LiveFlow/{seen[0].run}")
    task = run["start"].task
    assert task.data.released1 is True and task.data.released2 is True
    assert task.stdout == "first line\nsecond line, no explicit flush\na last line without newline"
    assert task.stderr == "a line on stderr\n"


def _task_is_running(folder: Path, tl: TaskLine) -> bool:
    """The metadata agrees: the task whose line we just read is recorded as running."""
    point_client_at(folder / ".headwater")
    from headwater import namespace

    namespace(None)
    task = Run(f"LiveFlow/{tl.run}")[tl.step][tl.task]
    return task.finished is False


def test_no_task_prints_before_it_started(tmp_path):
    """Regression: a task's first output could reach the console before its 'Task is starting.'
    line, under a prefix without '(pid N)' (LocalExecutor reported pipe data read before the
    fork server's 'started' message). Many foreach tasks that print at once make the race likely.
    """
    proc = run_cli(flow_file("chatty_foreach_flow.py"), "run", "--width", "64", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tls = task_lines(proc.stdout)
    assert len([t for t in tls if t.step == "talk" and t.text.startswith("item ")]) == 64
    started: set[str] = set()
    for tl in tls:
        if tl.text == "Task is starting.":
            started.add(tl.pathspec)
        else:
            assert tl.pathspec in started, f"{tl} came before its task's 'Task is starting.'"
        assert tl.pid is not None, f"{tl} has no pid"
