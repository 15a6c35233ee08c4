"""Standard streams a command was started without (``run >&-``, ``2>&-``, a daemon's
``</dev/null`` forgotten): each closed one of fds 0, 1 and 2 is opened on /dev/null first thing.

Otherwise the next file the process opens takes that number: the metadata database could become
fd 1, and whatever writes to "stdout" at the OS level (a library, a program the run starts) would
write into it. And Python sets ``sys.stdout`` to None for a closed fd 1, which ``print`` ignores
but the console's writes do not. With /dev/null in place the command runs as if its output were
thrown away, which is what closing it asked for.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def ensure_std_streams() -> None:
    """Open /dev/null on every closed standard fd, and give Python a stream for each."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            null = os.open(os.devnull, os.O_RDWR)
        except OSError:
            return  # nothing more to be done; Python's None streams stay
        if null != fd:  # the lowest free number: fd itself, unless a lower one is closed too
            os.dup2(null, fd)
            os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115 - for the process


class _Silenced:
    """A standard stream whose reader left: writes and flushes that meet ``EPIPE`` say nothing
    (else Python prints a second error as it flushes the stream at exit)."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def write(self, text: str) -> int:
        try:
            return self.wrapped.write(text)
        except BrokenPipeError:
            return len(text)

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except BrokenPipeError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def _epipe_met() -> bool:
    """Whether stdout was silenced after an ``EPIPE``: by :func:`stop_writing`, or by click's
    standalone mode, which wraps the streams in its own ``_PacifyFlushWrapper`` (public as
    ``PacifyFlushWrapper`` in older releases) and exits 1."""
    return isinstance(sys.stdout, _Silenced) or \
        type(sys.stdout).__name__.lstrip("_") == "PacifyFlushWrapper"


def reader_left() -> bool:
    """Whether this command stopped writing because the reader of its output went away
    (``dump RUN | head -1``). click meets an ``EPIPE`` from anything (a socket to a task, a
    database) as if stdout were closed, so fd 1 itself must say its reader is gone too: a pipe
    whose read end is closed polls as an error."""
    if not _epipe_met():
        return False
    import select

    try:
        poller = select.poll()
        poller.register(1, select.POLLOUT)
        events = dict(poller.poll(0)).get(1, 0)
    except (OSError, ValueError):
        return False
    return bool(events & (select.POLLERR | select.POLLHUP))


def quiet_when_reader_left(code: int | str | None) -> int | str | None:
    """The exit status of a command that ended with ``code``: 0 when it ended only because its
    reader left, as ``run | head -1`` does (a pipeline under ``set -o pipefail`` goes on); the
    command did all a reader asked of it. Any other status stays."""
    return 0 if code == 1 and reader_left() else code


def stop_writing() -> None:
    """The reader of our output left: later writes and the flush at exit say nothing."""
    if not _epipe_met():
        sys.stdout = _Silenced(sys.stdout)  # type: ignore[assignment]
        sys.stderr = _Silenced(sys.stderr)  # type: ignore[assignment]
