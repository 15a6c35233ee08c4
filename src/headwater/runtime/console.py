"""What a run prints: a header, the tasks' progress, errors in full, a closing line.

Three ways to show the tasks, chosen by ``--progress`` (``auto`` by default):

* ``lines``: Metaflow's prefixed lines, one per task event and per line of task output::

    2026-11-23 10:00:00.123 [3/start/1 (pid 4242)] Task is starting.
    2026-11-23 10:00:00.150 [3/start/1 (pid 4242)] hello from the step
    2026-11-23 10:00:00.170 [3/start/1 (pid 4242)] Task finished successfully.

  plus a summary line (:meth:`Progress.summary`) every ``HEADWATER_PROGRESS_INTERVAL`` seconds
  (30 by default) on long runs. The default when stdout is not a terminal (CI, a file).
* ``live``: on a terminal, a few lines redrawn in place (done / running / failed per step, rate,
  time left) instead of the task lines; the default on a terminal (not ``TERM=dumb``). The
  per-task output stays one command away (``logs``). A narrow terminal loses the bars and the
  wordy parts before the counts; tasks a failure or Ctrl-C left unstarted stay as "not run".
* ``summary``: only the summary line, every interval; the default for ``--quiet`` off a terminal.
  A log that got summary lines gets a last one when the run ends.

In every mode a task's failure (its error output and why it failed) is printed in full as it
happens, above the live lines. Task output is split into whole lines as it arrives (a partial line
waits for its newline, or for the task's end), so lines from parallel tasks never interleave.

The live display is a handful of ANSI escapes written here (see docs/decisions.md): no terminal
library is imported, and nothing of it runs when stdout is not a terminal.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from headwater.runtime.console_out import GuardedOut
from headwater.runtime.progress import Progress

LINES, LIVE, SUMMARY = "lines", "live", "summary"
PROGRESS_CHOICES = ("auto", LINES, LIVE, SUMMARY)
INTERVAL_ENV = "HEADWATER_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 30.0
REDRAW_EVERY_S = 0.1


def _stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"


def _is_terminal(out: TextIO) -> bool:
    """A terminal that can redraw: a tty, unless ``TERM=dumb`` says it cannot move the cursor
    (Emacs' shell, some CI consoles), where redrawn lines would pile up as garbage."""
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and os.environ.get("TERM") != "dumb"


def choose_mode(progress: str, quiet: bool, out: TextIO) -> str:
    """The display ``--progress`` asks for, given where stdout goes."""
    terminal = _is_terminal(out)
    if progress == LIVE or (progress == "auto" and terminal):
        return LIVE if terminal else SUMMARY
    if progress == "auto":
        return SUMMARY if quiet else LINES
    return progress


def summary_interval() -> float:
    """Seconds between summary lines: ``$HEADWATER_PROGRESS_INTERVAL``, else 30; a value that
    is no positive number of seconds is a :class:`~headwater.exceptions.SettingError`."""
    from headwater.env_numbers import env_seconds

    return env_seconds(INTERVAL_ENV, DEFAULT_INTERVAL_S)


class Console:
    """Writes a run's progress; ``quiet`` keeps only errors, the progress summary and the
    closing line."""

    def __init__(self, out: TextIO | None = None, quiet: bool = False, mode: str = LINES,
                 summary_every: float | None = None) -> None:
        self.out = GuardedOut(out or sys.stdout)  # its failure never stops the run
        self.quiet = quiet
        self.mode = mode
        self.progress = Progress()
        self._partial: dict[tuple[str, str], list[bytes]] = {}
        self._summary_every = summary_every
        self._last_summary = time.monotonic()
        self._summaries = 0  # summary lines printed so far (off a terminal)
        self._drawn = 0  # lines of the live display now on screen
        self._last_draw = 0.0
        self._bar = ("#", "-")
        if mode == LIVE and (getattr(self.out, "encoding", "") or "").lower().startswith("utf"):
            self._bar = ("\u2588", "\u2591")

    @classmethod
    def for_run(cls, *, quiet: bool = False, progress: str = "auto",
                out: TextIO | None = None) -> Console:
        out = out or sys.stdout
        mode = choose_mode(progress, quiet, out)
        every = None if mode == LIVE or (mode == LINES and quiet) else summary_interval()
        return cls(out, quiet=quiet, mode=mode, summary_every=every)

    @property
    def shows_task_output(self) -> bool:
        """Whether task lines and task output are printed (Metaflow's lines, not quiet)."""
        return self.mode == LINES and not self.quiet

    # -- writing -------------------------------------------------------------------------------
    def _emit(self, text: str) -> None:
        if self.mode == LIVE:
            self._erase()
            self.out.write(text)
            self._draw()
        else:
            self.out.write(text)
        self.out.flush()

    def say(self, text: str = "", *, always: bool = False) -> None:
        if always or not self.quiet:
            self._emit(text + "\n")

    def task_line(self, prefix: str, text: str, *, always: bool = False) -> None:
        if always or self.shows_task_output:
            self._emit(f"{_stamp()} [{prefix}] {text}\n")

    def task_output(self, prefix: str, key: str, stream: str, data: bytes, *,
                    always: bool = False) -> None:
        """Print the complete lines in ``data``; keep a trailing partial line for later.

        A partial line is kept as its pieces, joined once its line ends: joining at every read
        made a step printing hundreds of megabytes without a line break cost time quadratic in
        its length (400 MB held the scheduler, and every other task, for many minutes)."""
        if b"\n" not in data:
            if data:
                self._partial.setdefault((key, stream), []).append(data)
            return
        pieces = self._partial.pop((key, stream), [])
        buffered = b"".join([*pieces, data]) if pieces else data
        *lines, rest = buffered.split(b"\n")
        if rest:
            self._partial[(key, stream)] = [rest]
        if not (always or self.shows_task_output):
            return
        stamp = _stamp()
        chunk = "".join(
            f"{stamp} [{prefix}] {line.decode('utf-8', 'replace').rstrip(chr(13))}\n"
            for line in lines
        )
        if chunk:
            self._emit(chunk)

    def flush_task(self, prefix: str, key: str) -> None:
        """Print what is left of a task's partial lines once it has exited."""
        for stream in ("stdout", "stderr"):
            rest = self._partial.pop((key, stream), [])
            if rest:
                self.task_output(prefix, key, stream, b"".join(rest) + b"\n")

    # -- progress ------------------------------------------------------------------------------
    def tick(self) -> None:
        """Called at every turn of the scheduler's loop: redraw, or print the summary when due."""
        now = time.monotonic()
        if self.mode == LIVE:
            if now - self._last_draw >= REDRAW_EVERY_S:
                self._erase()
                self._draw()
                self.out.flush()
        elif self._summary_every is not None and now - self._last_summary >= self._summary_every:
            self._last_summary = now
            self._summaries += 1
            self._emit(self.progress.summary() + "\n")

    def finish(self, run_id: str | None = None) -> None:
        """The run is over: replace the live display by the steps' final counts. Off a
        terminal, a log that had summary lines gets a last one, so it ends with where the run
        stopped (how many tasks failed or never ran), not with the state 30 seconds before."""
        if self.mode != LIVE:
            if self._summaries and self._summary_every is not None:
                self._emit(self.progress.summary() + "\n")
            self._summary_every = None
            return
        self._erase()
        if not self.quiet and self.progress.steps:
            lines = [self.progress.summary(), *self.progress.step_lines(self._bar)]
            if run_id:
                lines.append(f"Each task's output: {flow_command('logs')} {run_id}/STEP")
            self.out.write("".join(f"{line}\n" for line in lines))
        self.out.flush()
        self.mode = SUMMARY  # anything printed after this is plain text
        self._summary_every = None

    def _erase(self) -> None:
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        if not self.progress.steps:  # nothing queued yet: no "0/0 tasks" under the header
            return
        import shutil  # only the progress display needs it (and its compression modules)

        size = shutil.get_terminal_size((100, 24))
        lines = _fitted(self.progress, self._bar, size.columns - 1)[: max(1, size.lines - 2)]
        self.out.write("".join(f"{line[: size.columns - 1]}\n" for line in lines))
        self._drawn = len(lines)
        self._last_draw = time.monotonic()


def _fitted(progress: Progress, bar: tuple[str, str], width: int) -> list[str]:
    """The display's lines for a terminal ``width`` columns wide: on a narrow one the bars and
    the wordy parts go first, so the counts still show (each line is cut to the width after
    that: a line that wrapped would break the redraw)."""
    summary = progress.summary()
    steps = progress.step_lines(bar)
    if len(summary) > width:
        summary = progress.short_summary()
    if any(len(line) > width for line in steps):
        steps = progress.step_lines(None)
    return [summary, *steps]


def flow_command(command: str) -> str:
    """How the user who started this process types ``command`` of the same flow:
    ``python flow.py logs`` when the flow file ran as a script, ``headwater logs flow.py``
    when it ran through ``headwater``, as each was typed."""
    argv = sys.argv or [""]
    own_main = _is_headwater_main(argv[0])  # `python -m headwater run flow.py`
    module = _main_module_name()
    if module and not own_main:  # `python -m package.flow run` (leoluyi/metaflow-demo's way)
        return f"python -m {module} {command}"
    if argv[0].endswith(".py") and not own_main:
        return f"python {_as_typed(argv[0])} {command}"
    flow_file = next((arg for arg in argv[1:] if arg.endswith(".py")), None)
    program = "python -m headwater" if own_main else "headwater"
    return f"{program} {command} {_as_typed(flow_file) if flow_file else 'FLOW_FILE'}"


def _main_module_name() -> str | None:
    """The module ``python -m NAME`` ran as this process's main, or None for a script (or an
    interactive session); ``pkg`` for ``python -m pkg``, whose main is ``pkg.__main__``."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name, origin = getattr(spec, "name", None), getattr(spec, "origin", None)
    if not isinstance(name, str) or not name or name == "__main__" or not sys.argv \
            or not origin or os.path.abspath(sys.argv[0]) != os.path.abspath(origin):
        return None  # a script, a console script, or argv rewritten since (a test harness)
    return name.removesuffix(".__main__")


def _is_headwater_main(path: str) -> bool:
    """True when ``path`` is headwater's own ``__main__.py`` (``python -m headwater``)."""
    if os.path.basename(path) != "__main__.py":
        return False
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.dirname(os.path.abspath(path)) == package


def _as_typed(path: str) -> str:
    """A relative path as the user typed it; an absolute one by its name (short, and right
    from the flow's own folder)."""
    return os.path.basename(path) if os.path.isabs(path) else path
