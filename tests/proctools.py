"""Looking at process groups through /proc: is anything a test started still alive?"""

from __future__ import annotations

import os
import time


def live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are neither gone nor zombies (this container's init may
    not reap orphans, so a killed process can linger as a zombie)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


def group_ends(pgid: int, within: float = 10.0) -> bool:
    """True once group ``pgid`` has no live member (a killed process takes a moment to exit)."""
    deadline = time.monotonic() + within
    while live_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def all_end(pids: list[int], within: float = 30.0) -> bool:
    """True once none of ``pids`` is alive (a killed process takes a moment to exit)."""
    deadline = time.monotonic() + within
    while any(pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
