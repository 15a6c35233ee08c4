"""What a long run shows: live progress on a terminal, summary lines in a log, errors in full.

The terminal tests run the flow under a real pseudo-terminal (``pty``) and read what it draws;
the items of the foreach wait for a gate file, so the display is read while tasks are running.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from .flowrun import flow_file, hermetic_env, task_lines

FLOW = flow_file("gated_foreach_flow.py")
SUMMARY = re.compile(r"^Progress: (\d+)/(\d+) tasks done, (\d+) running, (\d+) failed, "
                     r"(\d+) waiting; \w+")


class Terminal:
    """``python FLOW ARGS`` with stdout and stderr on a pseudo-terminal; collects what it draws."""

    def __init__(self, folder: Path, *args: str, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(  # noqa: S603 - our interpreter and flow
            [sys.executable, str(FLOW), *args], cwd=folder, env={**env, "TERM": "xterm"},
            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.text = ""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the other side closed: the run is over
            return False
        if not data:
            return False
        self.text += data.decode("utf-8", "replace")
        return True

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text)
            if found:
                return found
            assert time.monotonic() < deadline, f"{pattern!r} never drawn:\n{self.text}"
            assert self._read(0.2) or re.search(pattern, self.text), (
                f"the run ended without drawing {pattern!r}:\n{self.text}")

    def finish(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while self._read(0.2):
            assert time.monotonic() < deadline, self.text
        os.close(self.master)
        return self.proc.wait(timeout=timeout)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return hermetic_env({"GATE": str(tmp_path / "gate"), **extra})


def test_a_terminal_shows_live_counts_per_step_instead_of_task_lines(tmp_path):
    term = Terminal(tmp_path, "run", "--max-workers", "4", env=_env(tmp_path))
    try:
        # While the items wait at the gate the display is redrawn in place with their counts.
        term.wait_for(r"Progress: \d+/13 tasks done, 4 running")
        term.wait_for(r"each\s+\[[^\]]*\]\s+0/12 done\s+4 running")
        assert "\x1b[" in term.text  # drawn over itself with ANSI escapes, not appended
    finally:
        (tmp_path / "gate").write_text("open")
    assert term.finish() == 0, term.text
    screen = term.text.replace("\r", "")
    assert "Task is starting." not in screen  # the per-task lines are collapsed...
    assert "item 3 ran" not in screen
    assert re.search(r"each\s+\[[^\]]*\]\s+12/12 done", screen)  # ...into the final counts
    assert "Progress: 15/15 tasks done, 0 running, 0 failed, 0 waiting" in screen
    assert "Each task's output: python gated_foreach_flow.py logs 1/STEP" in screen
    assert screen.rstrip().endswith("Done! Run GatedFlow/1 succeeded.")
    # ... and one command away: the task's log
    logs = subprocess.run([sys.executable, str(FLOW), "logs", "1/each"], cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert "item 3 ran" in logs.stdout, logs.stdout + logs.stderr


def test_a_terminal_still_prints_a_failing_tasks_error_in_full(tmp_path):
    (tmp_path / "gate").write_text("open")
    term = Terminal(tmp_path, "run", env=_env(tmp_path, FAIL_ITEM="5", ITEMS="8"))
    assert term.finish() == 1, term.text
    screen = term.text.replace("\r", "")
    assert "ValueError: item 5 refused to work" in screen
    assert 'raise ValueError(f"item {self.input} refused to work")' in screen  # the user's line
    assert re.search(r"\[1/each/\d+ \(pid \d+\)\] Task failed\.", screen)
    assert re.search(r"each\s+\[[^\]]*\]\s+\d+/8 done(\s+\d+ running)?\s+1 failed", screen)
    assert "Run GatedFlow/1 failed: GatedFlow/1/each/" in screen


def test_a_stopped_foreach_still_counts_every_item_on_the_terminal(tmp_path):
    """A failure stops the run with most items never started: the final counts keep them
    (30 items, "28/30 done ... not run"), they do not shrink to the tasks that happened to run."""
    (tmp_path / "gate").write_text("open")
    term = Terminal(tmp_path, "run", "--max-workers", "1",
                    env=_env(tmp_path, FAIL_ITEM="0", ITEMS="30"))
    assert term.finish() == 1, term.text
    screen = term.text.replace("\r", "")
    final = screen.rsplit("\x1b[J", 1)[-1]  # what stays on screen after the last redraw
    step = re.search(r"each\s+\[[^\]]*\]\s+(\d+)/30 done\s+1 failed\s+(\d+) not run", final)
    assert step, final
    assert int(step[1]) + 1 + int(step[2]) == 30 and int(step[2]) > 0
    assert re.search(r"Progress: \d+/31 tasks done, 0 running, 1 failed, 0 waiting, \d+ not run",
                     final), final


def test_ctrl_c_during_the_live_display_leaves_the_final_counts_and_a_clean_terminal(tmp_path):
    """Ctrl-C reaches the whole foreground process group, as a terminal sends it: the run stops,
    the display gives way to its final counts (what never ran included) and the closing line,
    and nothing is drawn after them."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(  # noqa: S603 - our interpreter and flow
        [sys.executable, str(FLOW), "run", "--max-workers", "2"], cwd=tmp_path,
        env={**_env(tmp_path, ITEMS="10"), "TERM": "xterm"}, stdin=slave, stdout=slave,
        stderr=slave, close_fds=True, start_new_session=True)
    os.close(slave)
    term = Terminal.__new__(Terminal)
    term.master, term.proc, term.text = master, proc, ""
    try:
        term.wait_for(r"each\s+\[[^\]]*\]\s+0/10 done\s+2 running")
        os.killpg(proc.pid, signal.SIGINT)
        assert term.finish() == 130, term.text
    finally:
        (tmp_path / "gate").write_text("open")
        if proc.poll() is None:
            proc.kill()
    screen = term.text.replace("\r", "")
    final = screen.rsplit("\x1b[J", 1)[-1]
    assert "\x1b[" not in final  # no redraw after the final counts
    assert re.search(r"each\s+\[[^\]]*\]\s+0/10 done\s+2 failed\s+8 not run", final), final
    assert final.rstrip().endswith("Run GatedFlow/1 was interrupted and is recorded as failed.")


def test_progress_lines_keeps_metaflows_task_lines_on_a_terminal(tmp_path):
    (tmp_path / "gate").write_text("open")
    term = Terminal(tmp_path, "--progress", "lines", "run", env=_env(tmp_path, ITEMS="3"))
    assert term.finish() == 0, term.text
    lines = task_lines(term.text.replace("\r", ""))
    assert [t.text for t in lines].count("Task is starting.") == 6
    assert "\x1b[" not in term.text


def _summary_lines_while_running(tmp_path: Path, *args: str) -> tuple[list[str], str]:
    """Run with stdout on a pipe, a summary due every 0.2 s; read until a summary line shows the
    items running at the gate, then open the gate. Returns (summary lines seen early, all)."""
    env = _env(tmp_path, HEADWATER_PROGRESS_INTERVAL="0.2")
    proc = subprocess.Popen([sys.executable, "-u", str(FLOW), *args], cwd=tmp_path,  # noqa: S603
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.rstrip("\n"))
            match = SUMMARY.match(line)
            if match and match[3] == "4":  # four items running, waiting at the gate
                break
        else:
            raise AssertionError("no summary line with 4 running:\n" + "\n".join(seen))
    finally:
        (tmp_path / "gate").write_text("open")
    # Read on through the same text wrapper: communicate() would read the pipe beneath it and
    # miss what the wrapper has already buffered.
    assert proc.stdout is not None and proc.stderr is not None
    with proc.stdout, proc.stderr:
        rest, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 0, "\n".join(seen) + rest + err
    return seen, "\n".join(seen) + "\n" + rest


def test_quiet_off_a_terminal_prints_summary_lines_at_an_interval(tmp_path):
    early, out = _summary_lines_while_running(tmp_path, "--quiet", "run", "--max-workers", "4")
    assert all(SUMMARY.match(line) for line in early), early
    assert task_lines(out) == []  # --quiet: no task lines
    assert "\x1b[" not in out  # never redrawn: a log gets whole lines
    lines = out.strip().splitlines()
    assert lines[-1] == "Done! Run GatedFlow/1 succeeded."
    assert all(SUMMARY.match(line) for line in lines[:-1]), lines


def test_off_a_terminal_task_lines_stay_and_summary_lines_join_them(tmp_path):
    _, out = _summary_lines_while_running(tmp_path, "run", "--max-workers", "4")
    assert [t.text for t in task_lines(out)].count("Task is starting.") == 15
    assert any(SUMMARY.match(line) for line in out.splitlines())
    assert out.strip().splitlines()[-1] == "Done! Run GatedFlow/1 succeeded."
