"""Is the scheduler of a 'running' run still there?

A run's row says 'running' from ``new_run`` until ``run_finished``. If its scheduler is killed
(``kill -9``, out of memory, a laptop lid closed for good) nobody writes the final status, and
without a check the run would look running forever (Metaflow issue 1512). Readers decide at read
time, from three signs, the first that applies winning:

1. **The run's lock** (SQLite metadata, see :mod:`.run_lock`): the scheduler holds an ``flock`` on
   a per-run file beside the database for as long as it runs. Held: alive. Free: dead, when the
   run was started on this machine (same host name): the kernel answers this for any process on
   the machine, whatever PID namespace (container) it is in. A free lock of a run started on
   another machine proves nothing (a network filesystem may keep locks per machine).
2. **The scheduler's pid**, only when the reader is in the same host *and* the same PID namespace
   as the scheduler was (:func:`this_host` records both): the pid gone (or a zombie) means dead.
   A pid seen from another namespace names another process, so it proves nothing there.
3. **The heartbeat** (any backend, any host): older than :data:`HEARTBEAT_TIMEOUT` means dead.
   The scheduler beats every few seconds from its loop, far within that bound.

Nothing is written by readers, so a run that was only suspended reads as running again once its
heartbeats resume.
"""

from __future__ import annotations

import functools
import os
import time

HEARTBEAT_TIMEOUT = 300.0  # seconds without a heartbeat after which a run counts as crashed


def this_host() -> str:
    """Where a scheduler runs, as recorded with its run and compared against at read time:
    the host name, plus the PID namespace when the kernel tells it (``host pid:[4026531836]``),
    so that a scheduler in a container sharing the host's name is not judged by a pid that
    means something else outside the container."""
    namespace = _pid_namespace()
    name = os.uname().nodename  # socket.gethostname(), without importing `socket`
    return f"{name} {namespace}" if namespace else name


def _machine(host: str) -> str:
    """The host name part of a recorded host (without its PID namespace)."""
    return host.partition(" pid:")[0]


@functools.lru_cache(maxsize=1)
def _pid_namespace() -> str:
    # A process never changes PID namespace (unshare affects its children only): read it once.
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


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
    lock_held: bool | None = None,
) -> bool:
    """Apply the rules of the module docstring to one run's recorded fields.

    ``lock_held`` is the run lock's state when the backend could check it, else None.
    """
    if status != "running":
        return False
    if lock_held:
        return False
    if lock_held is False and host and _machine(host) == _machine(this_host()):
        return True
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
