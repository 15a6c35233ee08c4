"""Reading a local file a user named at launch (an ``IncludeFile``, a ``--config`` file) in bounded
memory and time, whatever it turns out to be.

A path on the command line may name a folder, a device that never ends (``/dev/zero``), or a
named pipe: one with a writer (``--config cfg <(make-config)`` is a pipe) is read like a file; one
nothing writes to would block the launch for ever, so it is opened without waiting and given up
on after a while. Each caller turns :class:`NotReadable` into its own error, naming what it reads.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO

_CHUNK = 1 << 20

PIPE_WAIT_ENV = "HEADWATER_INCLUDE_FILE_WAIT"
"""How long a launch waits for a named pipe's writer (an IncludeFile's or a ``--config`` file's)."""
DEFAULT_PIPE_WAIT_S = 60.0


def flow_folder(flow_cls: type) -> str | None:
    """The folder of the file that defines ``flow_cls`` (None for a class made in a notebook)."""
    flow_file = getattr(sys.modules.get(flow_cls.__module__), "__file__", None)
    return os.path.dirname(os.path.abspath(flow_file)) if flow_file else None


def locate_default(flow_cls: type, path: str) -> str:
    """Where a relative *default* path of a flow (an ``IncludeFile``'s, a ``Config``'s) is: in
    the working directory, else beside the flow file. A flow run from another folder
    (``python proj/flow.py run``) still finds the files that sit beside it; a path the user
    typed on the command line is not looked up this way (it is the shell's, relative to where
    it was typed). When neither exists, ``path`` comes back as it is, for the caller's error."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    folder = flow_folder(flow_cls)
    if folder:
        beside = os.path.join(folder, path)
        if os.path.exists(beside):
            return beside
    return path


class NotReadable(Exception):
    """``path`` is no file to read: ``why`` is ``"folder"``, ``"no writer"`` or ``"too large"``;
    ``detail`` says more (for ``"too large"``: the size, or that it did not end there)."""

    def __init__(self, why: str, detail: str = "") -> None:
        super().__init__(why, detail)
        self.why, self.detail = why, detail


def pipe_wait_s() -> float | None:
    """:data:`PIPE_WAIT_ENV` in seconds (:data:`DEFAULT_PIPE_WAIT_S` unset); None when it is set
    to no number of seconds (each caller names the variable in its own error)."""
    from headwater.env_numbers import seconds_in_range  # the rule every seconds setting follows

    given = os.environ.get(PIPE_WAIT_ENV, "").strip()
    return seconds_in_range(given) if given else DEFAULT_PIPE_WAIT_S


def open_local(path: str, wait_s: float) -> BinaryIO:
    """``path`` opened for reading; a named pipe only once a writer is there (or has been)
    within ``wait_s`` seconds. Raises :class:`NotReadable` for a folder or a pipe nobody writes
    to, ``OSError`` as ``open`` would."""
    # Opened without waiting (a FIFO's open would wait for a writer), then looked at through
    # the descriptor: a path swapped for a pipe after a separate check cannot hang the launch.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise NotReadable("folder")
        if stat.S_ISFIFO(mode):
            import select  # only for pipes

            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLHUP)
            if not poller.poll(int(wait_s * 1000)):
                raise NotReadable("no writer", f"{wait_s:g} s")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_at_most(handle: BinaryIO, limit: int) -> bytes:
    """The whole of ``handle``, or :class:`NotReadable` (``"too large"``) once it proves larger
    than ``limit`` bytes: before reading when its size says so, else as soon as that much has
    been read (a device or a pipe has no size)."""
    size = os.fstat(handle.fileno()).st_size
    if size > limit:
        raise NotReadable("too large", f"it has {size} bytes")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = handle.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise NotReadable("too large", "it does not end there (a device or a pipe?)")
