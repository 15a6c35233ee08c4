"""Tests only: hold a process at a named point where a crash is hardest to survive.

The promise that a kill, a Ctrl-C or a crash leaves a run that can be resumed is easy to test
where a task runs user code (its step can wait on a file) and hard where headwater itself writes:
between a task's blobs landing and the scheduler recording them, halfway through the metadata
transaction that records a task, while a big join's parents are stored. A sleep cannot aim
there. These points can: with

    HEADWATER_FAULT_POINT=NAME[#N]     the point, and which pass through it holds (default 1)
    HEADWATER_FAULT_DIR=FOLDER         where passes are counted and the held process waits

the Nth pass through ``NAME`` (counted over every process of the run, each pass taking a number
by creating ``FOLDER/pass-NAME-K`` exclusively) writes ``FOLDER/held`` ("NAME PID", renamed into
place) and waits until ``FOLDER/gate`` exists. ``*#0`` counts the passes of every point and
holds none: how a test learns how many passes a run makes. The test sees ``held``, interrupts
the run the way it chose (SIGKILL of that pid or of the scheduler, a Ctrl-C, ...) and opens
the gate. Signal handlers run while the process waits (the scheduler's notes a Ctrl-C and goes
on once the gate opens). A name that is no point, or a count that is no number, is a
``SettingError`` at import.

``FOLDER`` must be one only this user (and its group) can change (made 0700 when missing): the held
process writes there and waits on what appears there, so a shared folder (``/tmp``, a folder
another user owns or may write) let another user hold any run for ever, or plant ``held.tmp``
as a link and have the run write through it into a file of the user's. These variables are
for tests, but an environment keeps what a test session exported.

On a Dask worker the variables are the worker's, not the run's: an armed scheduler sends them
with each task (``carried``), and the task arms itself from them (``arm``) before it runs, so the
task points count and hold there too (the folder is then on the worker's machine: the tests run
the workers on the scheduler's).

Unset, ``hold`` is one comparison with ``None``: the variables are read once, at import, so that
nothing is looked up on the run's path. ``tools/chaos.py`` and the fault tests drive them; the
points are listed in ``POINTS`` and in docs/reliability.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

POINT_ENV = "HEADWATER_FAULT_POINT"
DIR_ENV = "HEADWATER_FAULT_DIR"

POINTS = {
    "task.stored": "a task's blobs are all written; its result is not yet sent to the scheduler",
    "task.sent": "a task has sent its result; its process has not exited yet",
    "record.logs-saved": "the scheduler has stored a finished task's logs; no metadata yet",
    "record.task-row": "inside the transaction recording an attempt's end: the task's row is "
                       "updated, its attempt row and artifacts not yet written",
    "record.clone-row": "inside the transaction recording a resume's (or @cache's) clone: the "
                        "task's row is written, its attempt row and artifacts not yet",
    "record.commit": "a turn of the scheduler's loop has written its records (finished tasks, "
                     "launches); its transaction is not yet committed",
    "record.committed": "a turn's transaction has just been committed",
    "join.spill": "a chunk of a big join's parents is stored in the datastore; the scheduler "
                  "has not yet noted its key",
    "delete.rows": "inside the transaction deleting a run (`headwater delete`): its artifact "
                   "rows are deleted, its attempts, tasks, tags and run row not yet",
    "delete.committed": "a run's deletion has just been committed; the next run named (if any) "
                        "not yet deleted",
}


def _armed(environ: Mapping[str, str]) -> tuple[str, int, str] | None:
    spec = environ.get(POINT_ENV)
    folder = environ.get(DIR_ENV)
    if not spec or not folder:
        return None
    from headwater.exceptions import SettingError  # only when armed: nothing loaded otherwise

    name, _, nth = spec.partition("#")
    unset = f"unset {POINT_ENV} and {DIR_ENV} (they are for headwater's own tests)"
    if name not in POINTS and name != "*":
        raise SettingError(f"{POINT_ENV}={spec!r} names no fault point; the points are "
                           f"{', '.join(sorted(POINTS))}", fix=unset)
    count = nth or "1"
    if not (count.isascii() and count.isdigit()):
        raise SettingError(f"{POINT_ENV}={spec!r}: the pass after '#' is no whole number",
                           fix=f"write NAME#N with N a number, or {unset}")
    problem = _folder_problem(folder)
    if problem:
        raise SettingError(f"{DIR_ENV}={folder!r} {problem}: a held run writes and waits on "
                           "files there, which another user could plant",
                           fix=f"name a folder only you can write, or {unset}")
    return name, int(count), folder


def _folder_problem(folder: str) -> str | None:
    """What lets another user plant files in ``folder`` (made 0700 when missing), or None. The
    group may write it (a test's ``mkdir`` under a umask of 002), as it may a datastore."""
    import stat

    from headwater import folders

    try:
        if not os.path.lexists(folder):
            return folders.private_folder_problem(folder)  # made 0700, and the folders above checked
        info = os.lstat(folder)
    except OSError as err:
        return f"cannot be made or read ({err.strerror or err})"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder (a link or a file)"
    if info.st_uid != os.getuid():
        return f"belongs to another user (uid {info.st_uid})"
    if info.st_mode & 0o002:
        return f"can be written by other users (mode {stat.S_IMODE(info.st_mode):o})"
    return folders.ancestor_problem(folder)


_ARMED = _armed(os.environ)


def carried() -> dict[str, str] | None:
    """The variables that armed this process, for a task that runs where they do not reach (a
    Dask worker's task gets the worker's environment, not the run's); None when unarmed."""
    return None if _ARMED is None else {POINT_ENV: os.environ.get(POINT_ENV, ""),
                                        DIR_ENV: os.environ.get(DIR_ENV, "")}


def arm(variables: Mapping[str, str]) -> None:
    """Arm this process (a task on a Dask worker) as :func:`carried` found the run armed."""
    global _ARMED
    _ARMED = _armed(variables)


def hold(name: str) -> None:
    """A pass through point ``name``: nothing unless the variables above arm it (see above)."""
    if _ARMED is None or _ARMED[0] not in (name, "*"):
        return
    _pass(name, _ARMED[1], _ARMED[2])


def _pass(name: str, nth: int, folder: str) -> None:
    number = 0
    while True:
        number += 1
        try:
            fd = os.open(os.path.join(folder, f"pass-{name}-{number}"),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            break
        except FileExistsError:
            continue
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    if number != nth:
        return
    import tempfile  # only at a held point: tempfile loads shutil, random, bz2 and lzma (~5 ms)

    fd, temp = tempfile.mkstemp(prefix=".held.", dir=folder)  # exclusive: never a planted link
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"{name} {os.getpid()}")
    os.replace(temp, os.path.join(folder, "held"))
    gate = os.path.join(folder, "gate")
    while not os.path.exists(gate):
        time.sleep(0.01)
