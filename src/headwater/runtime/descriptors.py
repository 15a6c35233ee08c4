"""Running out of file descriptors (``ulimit -n``) while starting tasks.

Each running task costs the scheduler a few descriptors (its stdout and stderr pipes, its result
socket; a process descriptor with ``--executor spawn``), so a wide foreach under a low limit
runs out when the next task is started. That is no reason to lose the run: the scheduler runs
fewer tasks at once (as many as were running when the limit was met) and says so once; only when
not even one task can be started does the run fail, with an error naming the limit and the fix.
"""

from __future__ import annotations

import errno

from headwater.exceptions import RunFailedError
from headwater.limits import soft_limit
from headwater.runtime.console import flow_command

_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)


def is_out_of_descriptors(exc: BaseException) -> bool:
    """True for the error a process gets when it (EMFILE) or the system (ENFILE) has no file
    descriptor left."""
    return isinstance(exc, OSError) and exc.errno in _OUT_OF_DESCRIPTORS


def descriptor_limit() -> str:
    """This process's limit on open files, as ``ulimit -n`` shows it."""
    soft = soft_limit("NOFILE")
    return "unlimited or unknown" if soft is None else str(soft)


def fewer_at_once_note(running: int) -> str:
    """What the console says once when the scheduler starts running fewer tasks at once."""
    return (f"Note: out of file descriptors (`ulimit -n` is {descriptor_limit()}) with "
            f"{running} task{'s' if running != 1 else ''} running: running at most {running} "
            f"at a time from now on; raise the limit (e.g. `ulimit -n 4096`) to run more")


def cannot_start(pathspec: str, exc: OSError) -> RunFailedError:
    """Not even one task can be started: the run fails, and resume picks it up."""
    which = "the system" if exc.errno == errno.ENFILE else "this process"
    return RunFailedError(
        f"cannot start task {pathspec}: {which} ran out of file descriptors (`ulimit -n` is "
        f"{descriptor_limit()}) with no other task running",
        fix="raise the limit (e.g. `ulimit -n 4096`), then resume the run: "
            f"{flow_command('resume')}",
    )


def out_of_descriptors() -> RunFailedError:
    """Descriptors ran out somewhere else than in starting a task (the limit is so low that the
    run could not even set itself up): the same fix."""
    return RunFailedError(
        f"this process ran out of file descriptors (`ulimit -n` is {descriptor_limit()})",
        fix="raise the limit (e.g. `ulimit -n 4096`); if a run was started, resume it: "
            f"{flow_command('resume')}",
    )
