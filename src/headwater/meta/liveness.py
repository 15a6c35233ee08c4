"""Is the scheduler of a 'running' run still there?

A run's row says 'running' from ``new_run`` until ``run_finished``. If its scheduler is killed
(``kill -9``, out of memory, a laptop lid closed for good) nobody writes the final status, and
without a check the run would look running forever (Metaflow issue 1512). Two signs of death,
either one is enough:

* the run was started on *this* host and its scheduler's pid is no longer alive;
* its last heartbeat is older than :data:`HEARTBEAT_TIMEOUT` (any host; the scheduler must call
  ``heartbeat`` well within that, e.g. every 30-60 seconds).

The check is made by readers at read time; nothing is written, so a run that was only suspended
reads as running again once its heartbeats resume.
"""

from __future__ import annotations

import os
import socket
import time

HEARTBEAT_TIMEOUT = 300.0  # seconds without a heartbeat after which a run counts as crashed


def this_host() -> str:
    """The host name recorded with a run and compared against at read time."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host (and is not a zombie)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not _is_zombie(pid)


def looks_crashed(
    status: str,
    host: str | None,
    pid: int | None,
    heartbeat_at: float | None,
    now: float | None = None,
) -> bool:
    """Apply the two rules of the module docstring to one run's recorded fields."""
    if status != "running":
        return False
    if host and pid and host == this_host() and not pid_alive(pid):
        return True
    now = time.time() if now is None else now
    return heartbeat_at is not None and now - heartbeat_at > HEARTBEAT_TIMEOUT


def _is_zombie(pid: int) -> bool:
    """A dead child not yet reaped by its parent still answers signal 0; /proc tells the truth."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] == "Z"


def _windows_pid_alive(pid: int) -> bool:
    # os.kill(pid, 0) would *terminate* the process on Windows, so ask the kernel instead.
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: it exists  # type: ignore[attr-defined]
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
