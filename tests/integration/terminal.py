"""Running a command on a pseudo-terminal, for tests of what a terminal is shown."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

DEADLINE_S = 300  # generous: a loaded 2-core machine


def on_a_terminal(argv: list[str], cwd: str | Path, env: dict[str, str]) -> bytes:
    """What ``argv`` writes to a pseudo-terminal (its stdout and stderr), to its end; the
    command must succeed."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,  # noqa: S603
                            stdout=follower, stderr=follower)
    os.close(follower)
    out = bytearray()
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    assert proc.wait(timeout=DEADLINE_S) == 0, out
    return bytes(out)
