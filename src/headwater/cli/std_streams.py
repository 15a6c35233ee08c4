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
