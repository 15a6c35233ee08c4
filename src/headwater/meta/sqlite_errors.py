"""What a SQLite error means for the user: the cause in plain words and what to do about it.

The metadata file is shared by every run of a project, so its failures come from outside the run
that meets them: another process holding the write lock too long, a full disk, a file that was
truncated, deleted or is read-only. Each becomes one :class:`MetadataError` naming the file.
A run that fails this way stays resumable: nothing it recorded is lost, and once its scheduler
has exited, readers see it as failed (see :mod:`headwater.meta.liveness`).
"""

from __future__ import annotations

import _sqlite3 as sqlite3  # see sqlite_conn.py
import errno
import os

from headwater.exceptions import MetadataError
from headwater.limits import soft_limit

BUSY_TIMEOUT_ENV = "HEADWATER_SQLITE_BUSY_TIMEOUT_S"
DEFAULT_BUSY_TIMEOUT_S = 30.0
_RESUME = "then `resume` the run if one failed"


def busy_timeout_s() -> float:
    """How long a writer waits for another process's write lock (``HEADWATER_SQLITE_BUSY_TIMEOUT_S``,
    30 s by default) before giving up with :func:`explain`'s "locked" message."""
    from headwater.env_numbers import env_seconds

    return env_seconds(BUSY_TIMEOUT_ENV, DEFAULT_BUSY_TIMEOUT_S, zero_ok=True, error=MetadataError)


def environmental(exc: BaseException) -> bool:
    """True for failures that come from the file, its disk or other processes (translated into
    :class:`MetadataError`), False for a headwater bug such as a constraint violation."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def explain(exc: sqlite3.Error, path: str) -> MetadataError:
    """The user-facing error for ``exc``, met while using the metadata file at ``path``."""
    text = str(exc)
    lowered = text.lower()
    folder = os.path.dirname(os.path.abspath(path))
    if "locked" in lowered or "busy" in lowered:
        return MetadataError(
            f"the metadata database {path} stayed locked by another process for more than "
            f"{busy_timeout_s():g} s",
            fix=f"find the process holding it (`fuser {path}`) and let it finish or stop it; to "
            f"wait longer, set {BUSY_TIMEOUT_ENV}; {_RESUME}",
        )
    if "disk is full" in lowered or ("disk i/o error" in lowered and _nearly_full(folder)):
        # SQLite says "disk I/O error" when the full disk bites while it grows its -shm index
        return MetadataError(
            f"no space left on the disk holding the metadata database {path}",
            fix=f"free space there (`df -h {folder}`); {_RESUME}",
        )
    if "not a database" in lowered or "malformed" in lowered:
        return damaged(path, text)
    if "readonly" in lowered or "read-only" in lowered or (
            "unable to open" in lowered and os.path.exists(path)
            and not os.access(folder, os.W_OK)):  # a writer cannot create its -wal beside it
        return MetadataError(
            f"the metadata database {path} cannot be written ({text}): the file or its folder "
            "is read-only for this user, or on a read-only mount",
            fix=f"run from an account that may write {folder}, or choose another datastore "
            "(HEADWATER_DATASTORE_ROOT, --datastore-root)",
        )
    if "unable to open" in lowered and _out_of_descriptors():
        return MetadataError(
            f"cannot open the metadata database {path}: this process has no file descriptor "
            "left (`ulimit -n` is too low)",
            fix=f"raise the limit (e.g. `ulimit -n 4096`); {_RESUME}",
        )
    if "unable to open" in lowered:
        return MetadataError(
            f"cannot open the metadata database {path} ({text})",
            fix=f"check that {folder} exists and that this user may read it (and write it, to run "
            "flows)",
        )
    return MetadataError(f"the metadata database {path} failed: {text}",
                         fix=f"check the file and its disk; {_RESUME}")


def _nearly_full(folder: str) -> bool:
    """Whether the disk holding ``folder`` has (almost) no room left for this user."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < 1 << 20


def damaged(path: str, detail: str) -> MetadataError:
    return MetadataError(
        f"the metadata database {path} is damaged ({detail}): it was truncated or overwritten",
        fix=f"restore it from a backup; or move it aside (`mv {path} {path}.damaged`) to start a "
        "fresh history (the stored artifacts stay; `sqlite3 FILE .recover` may save some rows)",
    )


def not_a_file(path: str, kind: str) -> MetadataError:
    """``path`` is a named pipe, a device or a socket: SQLite's open of a pipe waits for a writer
    for ever, so every command reading the store hung with no word."""
    return MetadataError(
        f"the metadata database {path} is {kind}, not a file: headwater never makes one, so "
        "someone else put it there, and it is not opened",
        fix=f"remove it (`rm {path}`) and restore the database from a backup, or let the next "
        "run start a fresh history; check who else can write that folder",
    )


def planted_link(path: str, owner: int, target: str) -> MetadataError:
    return MetadataError(
        f"the metadata database {path} is a link to {target} made by another user (uid "
        f"{owner}), neither you nor the owner of its folder: it is not opened, so nothing is "
        "written where it points",
        fix=f"if you did not mean it, remove the link (`rm {path}`) and find out who else can "
        "write that folder; to keep the database elsewhere, make the link yourself",
    )


def missing(path: str, locks: str) -> MetadataError:
    return MetadataError(
        f"the metadata database {path} is missing, yet runs were recorded beside it ({locks} "
        "exists): it was deleted or moved",
        fix=f"restore it from a backup; to start a fresh history on purpose, remove {locks} too",
    )


def replaced(path: str) -> MetadataError:
    return MetadataError(
        f"the metadata database {path} was deleted or replaced while this process was using it: "
        "what it records now would be lost",
        fix="if it (or the folder holding it) was moved or removed by mistake, put it back and "
            "resume the run (`resume`): what succeeded before is kept; otherwise run the flow "
            "again",
    )


def _out_of_descriptors() -> bool:
    """True when this process is at (or within SQLite's three files of) its limit on open
    files: SQLite's "unable to open database file" does not say why it could not, and it has
    closed what it opened by the time it says so."""
    soft = soft_limit("NOFILE")
    if soft is None:
        return False
    try:
        in_use = len(os.listdir("/proc/self/fd"))  # Linux; elsewhere, one file is tried
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            return True
        try:
            os.close(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc2:
            return exc2.errno in (errno.EMFILE, errno.ENFILE)
        return False
    return in_use + 3 >= soft
