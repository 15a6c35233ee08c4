"""Removing what writers killed mid-write left behind, without ever touching a live writer's file.

A blob is written to a ``.tmp-…`` file beside its final name, then renamed into place. A writer
killed in between (SIGKILL, out of memory, a power cut) leaves its temp file forever: harmless to
readers (temp names are never read or listed), but it takes space. A temp file belongs to a live
writer while that writer keeps writing to it, and every write refreshes its modification time; so
one untouched for :data:`STALE_AFTER_S` (a day) has no live writer, whatever machine or container
wrote it, and is removed.

When: a run starts a sweep of its local datastore in a background thread, at most once per
:data:`SWEEP_EVERY_S` per datastore (the time of the last complete sweep is the modification time
of :data:`MARKER` in the datastore's folder), so a run pays for it once a day, not on its start.
A datastore without the marker is new: its first run only creates the marker.
The run waits for it at its end only briefly (:data:`JOIN_S`); a sweep cut short by the process
exiting leaves nothing broken and is redone by a later run. Remote stores are not swept here:
their puts are atomic, except S3 multipart uploads, which ``cleanup_temp`` of that store aborts.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import threading

STALE_AFTER_S = 24 * 3600.0  # a temp file untouched this long has no live writer
SWEEP_EVERY_S = 24 * 3600.0  # at most one sweep per datastore per day
JOIN_S = 5.0  # how long the end of a run waits for a sweep still going
MARKER = ".temp-swept"  # in the datastore's folder; not a temp name, never a key anyone reads


def start_sweep(storage: Any, *, now: float | None = None) -> threading.Thread | None:
    """Start sweeping ``storage`` in the background if it is a local folder not swept today."""
    root = storage.root
    if not os.path.isdir(root):
        return None
    marker = os.path.join(root, MARKER)
    now = time.time() if now is None else now
    try:
        if now - os.stat(marker).st_mtime < SWEEP_EVERY_S:
            return None
    except FileNotFoundError:
        # Never swept: a new datastore, where no writer can have been killed a day ago. Its
        # clock starts now, and a run a day from now sweeps it (no thread for this run).
        with contextlib.suppress(OSError):
            _mark_swept(marker)
        return None
    except OSError:
        pass
    # Imported here, not at the top: a run's fork servers are forked before this, and a process
    # without `threading` skips its after-fork work in every forked task (copy-on-write faults).
    import threading

    thread = threading.Thread(target=_sweep, args=(storage, marker), daemon=True,
                              name="headwater-temp-sweep")
    thread.start()
    return thread


def finish_sweep(thread: threading.Thread | None) -> None:
    """Give a sweep still going a moment to end (it is abandoned, harmlessly, past that)."""
    if thread is not None:
        thread.join(JOIN_S)


def _sweep(storage: Any, marker: str) -> None:
    # Best effort: a sweep that fails (a folder it may not enter, a read-only disk) must never
    # fail the run that started it.
    with contextlib.suppress(Exception):
        storage.cleanup_temp(older_than_s=STALE_AFTER_S)
        _mark_swept(marker)


def _mark_swept(marker: str) -> None:
    """Create or touch the marker (never through a symlink planted in its place)."""
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.utime(fd)
    finally:
        os.close(fd)
