"""How far a run has got: tasks waiting, running, done and failed, per step and in total.

Pure counting and wording, no output: the console decides where the words go (a live display
on a terminal, a summary line now and then in a log). The scheduler reports every change of a
task's state; nothing here scales with the number of tasks but the per-step counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from headwater.records import Record


class Counts(Record):
    waiting: int = 0  # enqueued, or a retry waiting for its turn
    running: int = 0
    done: int = 0
    failed: int = 0
    not_run: int = 0  # was waiting when a failure or an interruption stopped the run
    cloned: int = 0  # of the done ones, how many resume copied from the origin run

    @property
    def total(self) -> int:
        return self.waiting + self.running + self.done + self.failed + self.not_run

    @property
    def ended(self) -> int:
        return self.done + self.failed


def duration(seconds: float) -> str:
    """``9s``, ``1m05s``, ``2h03m``: short enough for a status line."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Task counts per step (in the order steps first appear) and the run's pace."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started_at = clock()
        self.steps: dict[str, Counts] = {}

    def _step(self, step: str) -> Counts:
        counts = self.steps.get(step)
        if counts is None:
            counts = self.steps[step] = Counts()
        return counts

    # -- what the scheduler reports ------------------------------------------------------------
    def queued(self, step: str) -> None:
        self._step(step).waiting += 1

    def started(self, step: str) -> None:
        counts = self._step(step)
        counts.waiting -= 1
        counts.running += 1

    def cloned(self, step: str) -> None:
        """Resume copied the task's result: it is done without running."""
        counts = self._step(step)
        counts.waiting -= 1
        counts.done += 1
        counts.cloned += 1

    def skipped(self, step: str) -> None:
        """resume --clone-only: the task was not cloned and will not run."""
        self._step(step).waiting -= 1

    def finished(self, step: str, outcome: str) -> None:
        """``outcome``: ``done``, ``failed``, or ``retry`` (it waits again for another attempt)."""
        counts = self._step(step)
        counts.running -= 1
        if outcome == "done":
            counts.done += 1
        elif outcome == "failed":
            counts.failed += 1
        else:
            counts.waiting += 1

    def dropped_waiting(self) -> None:
        """A failure or an interruption cancelled every task that had not started: they stay in
        the totals as "not run", so a stopped foreach of 1,000 reads 503/1000, not 503/504."""
        for counts in self.steps.values():
            counts.not_run += counts.waiting
            counts.waiting = 0

    # -- what a reader sees --------------------------------------------------------------------
    def totals(self) -> Counts:
        total = Counts()
        for counts in self.steps.values():
            total.waiting += counts.waiting
            total.running += counts.running
            total.done += counts.done
            total.failed += counts.failed
            total.not_run += counts.not_run
        return total

    def elapsed(self) -> float:
        return self._clock() - self.started_at

    def rate(self) -> float | None:
        """Tasks ended per second so far, once there is something to go by."""
        ended, elapsed = self.totals().ended, self.elapsed()
        return ended / elapsed if ended and elapsed > 0 else None

    def time_left(self) -> float | None:
        """At the pace so far, how long the tasks known today still need (more may appear: a
        foreach adds its items when the step before it ends)."""
        rate, counts = self.rate(), self.totals()
        if rate is None or not (counts.waiting or counts.running):
            return None
        return (counts.waiting + counts.running) / rate

    def summary(self) -> str:
        """One line: ``Progress: 340/1003 tasks done, 8 running, 0 failed, 655 waiting; ...``."""
        counts = self.totals()
        text = (f"Progress: {counts.done}/{counts.total} tasks done, {counts.running} running, "
                f"{counts.failed} failed, {counts.waiting} waiting")
        if counts.not_run:
            text += f", {counts.not_run} not run"
        text += f"; {duration(self.elapsed())}"
        rate, left = self.rate(), self.time_left()
        if rate is not None:
            text += f", {rate:.1f} tasks/s"
        if left is not None:
            text += f", about {duration(max(left, 1.0))} left"
        return text

    def short_summary(self) -> str:
        """The summary for a narrow terminal: ``340/1003 done, 8 running, 0 failed; 1m05s,
        2m left``."""
        counts = self.totals()
        text = f"{counts.done}/{counts.total} done, {counts.running} running, {counts.failed} failed"
        if counts.not_run:
            text += f", {counts.not_run} not run"
        text += f"; {duration(self.elapsed())}"
        left = self.time_left()
        if left is not None:
            text += f", {duration(max(left, 1.0))} left"
        return text

    def step_line(self, step: str, width: int,
                  bar: tuple[str, str] | None = ("#", "-")) -> str:
        """``  each      [#####-----]  340/1000 done  8 running  1 failed`` (``  652 not run``
        once a failure stopped the run); without the bar when ``bar`` is None."""
        counts = self.steps[step]
        filled = round(10 * counts.ended / counts.total) if counts.total else 0
        drawn = f"[{bar[0] * filled}{bar[1] * (10 - filled)}]  " if bar else ""
        parts = [f"  {step:<{width}}  {drawn}{counts.done}/{counts.total} done"]
        if counts.cloned:
            parts[-1] += f" ({counts.cloned} cloned)"
        if counts.running:
            parts.append(f"{counts.running} running")
        if counts.failed:
            parts.append(f"{counts.failed} failed")
        if counts.not_run:
            parts.append(f"{counts.not_run} not run")
        return "  ".join(parts)

    def step_lines(self, bar: tuple[str, str] | None = ("#", "-")) -> list[str]:
        width = max((len(step) for step in self.steps), default=0)
        return [self.step_line(step, width, bar) for step in self.steps]
