"""A per-run lock file the scheduler holds while its run goes, so readers can tell it is alive.

The scheduler of a run takes an exclusive ``flock`` on ``run-locks/<flow>/<run_id>.lock`` beside
the SQLite metadata file and keeps it until it has recorded the run's end. A reader tries a
shared lock without waiting: refused means the scheduler is there; granted means it is gone, even
if it died by SIGKILL (the kernel drops a dead process's locks). Unlike a pid, this works across
PID namespaces (a scheduler in a container on the same machine) and costs the scheduler nothing
while it runs.

``flock`` (not ``fcntl``/POSIX locks) because its locks belong to the open file, so a reader in
the scheduler's own process also sees the lock as held. The reader opens the file read-only, so
a datastore shared read-only still answers. No file (an older headwater, another machine's run,
Windows) means "unknown": the other liveness rules decide.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat

from headwater.folders import make_dirs

try:
    import fcntl
except ImportError:  # Windows: no flock; liveness falls back to pid and heartbeat
    fcntl = None  # type: ignore[assignment]

_SAFE = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"  # a pattern string: re compiles (and caches) it on first use
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
LOCKS_FOLDER = "run-locks"  # beside the metadata file; its presence also says runs were recorded


def lock_path(meta_path: str, flow: str, run_id: str) -> str | None:
    """Where the lock of ``flow``/``run_id`` lives, or None if the names are not file-safe."""
    if not (re.fullmatch(_SAFE, flow) and re.fullmatch(_SAFE, run_id)):
        return None
    folder = os.path.dirname(os.path.abspath(meta_path))
    return os.path.join(folder, LOCKS_FOLDER, flow, f"{run_id}.lock")


class RunLock:
    """The scheduler's side: held from :meth:`acquire` until :meth:`release`."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (best effort: without it readers fall back to pid and heartbeat)."""
        if self.path is None or fcntl is None:
            return
        try:
            make_dirs(os.path.dirname(self.path))  # closed to others whatever the umask
            # never through a link another writer of the folder put there (O_CREAT would make
            # the file it names, anywhere this user may write)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | _NOFOLLOW, 0o644)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # no lock support here (some network filesystems): leave no file that
            with contextlib.suppress(OSError):  # readers would find free and think us dead
                os.unlink(self.path)
            os.close(fd)
            return
        self._fd = fd

    def release(self) -> None:
        """Drop the lock once the run's end is recorded; the file goes too."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # type: ignore[arg-type]
        os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_held(path: str | None) -> bool | None:
    """True if a scheduler holds the lock at ``path``, False if nobody does, None if unknown."""
    if path is None or fcntl is None:
        return None
    try:
        # without waiting (a named pipe put in its place would hold every reader in open) and
        # never through a link; only a regular file answers
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | _NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    else:
        return False
    finally:
        os.close(fd)  # closing drops the shared lock if we got it
