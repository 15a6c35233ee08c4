"""Where a run's console goes, kept from taking the run down with it.

``python flow.py run | head -1`` closes the pipe once ``head`` has its line; a terminal that
closes under ``nohup``-less output gives EIO; ``run > log`` on a full disk gives ENOSPC. Any of
those raised from a ``print`` in the scheduler's loop would stop the run half way (tasks killed,
the run failed) over nothing but its progress lines. The run's real record is elsewhere (every
task's output is stored, ``logs`` shows it), so the run goes on: what it prints is dropped from
then on, and one line on stderr says so (when stderr itself can still be written).
"""

from __future__ import annotations

import os
import sys
from typing import TextIO


class GuardedOut:
    """A text stream whose write or flush failing (EPIPE, EIO, ENOSPC, a closed file) turns it
    into a sink, once, with a note on stderr."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.lost: str | None = None  # why the output is gone, once it is

    @property
    def encoding(self) -> str:
        return getattr(self._out, "encoding", "") or ""

    def isatty(self) -> bool:
        return not self.lost and self._out.isatty()

    def fileno(self) -> int:
        return self._out.fileno()

    def write(self, text: str) -> int:
        if self.lost is None:
            try:
                return self._out.write(text)
            except (OSError, ValueError) as exc:
                self._give_up(exc)
        return len(text)

    def flush(self) -> None:
        if self.lost is None:
            try:
                self._out.flush()
            except (OSError, ValueError) as exc:
                self._give_up(exc)

    def _give_up(self, exc: BaseException) -> None:
        self.lost = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        if self._out is sys.stdout:
            _silence_stdout()
        try:
            sys.stderr.write(
                f"headwater: the run's output can no longer be written ({self.lost}); the run "
                "goes on without printing it, and `logs` shows each task's output\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _silence_stdout() -> None:
    """Point fd 1 and ``sys.stdout`` at /dev/null, so that nothing written later (the closing
    flush at exit, a hook's print) raises again or prints Python's 'Exception ignored'."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the process
    except OSError:
        pass
