"""The fork server beside a Dask worker keeps the store's URL out of ``ps``.

Any local user reads a process's command line (``ps``, ``/proc/PID/cmdline``); only its own user
reads its environment. The server learns the datastore's root and the code package's record
from its environment (launch_env.py), as spawned tasks and ``@pypi`` servers do.
"""

from __future__ import annotations

import os
from pathlib import Path

from headwater.runtime.executors.dask.worker_forks import WorkerForkServer
from headwater.runtime.executors.launch_env import LAUNCH_ENV

ROOT = "s3://team-bucket/secret-project-7f3a/headwater"


def test_the_worker_fork_server_takes_root_and_package_from_its_environment():
    server = WorkerForkServer(ROOT, {"key": "package-key-91c2", "url": ROOT + "/code/91c2"})
    try:
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes().replace(b"\0", b" ")
        assert b"secret-project-7f3a" not in cmdline and b"package-key-91c2" not in cmdline, cmdline
        assert b"worker_forks" in cmdline  # it is the server, started as before
        assert server.alive and server.proc.poll() is None
    finally:
        server.stop()
    # it ended when hung up, as before; the launch never went into this process's environment
    assert server.proc.wait(timeout=60) == 0
    assert LAUNCH_ENV not in os.environ
