"""The tenth hostile-input audit: what another user of the same machine, or a setting left in the
environment, can do to ``headwater ui`` and to a run. Each test runs the real thing: a
``headwater ui`` server reached over TCP by a process of another user, ``python flow.py`` runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .faultkit import hw
from .flowrun import write_flow
from .uiserver import ui_server

NOBODY = 65534
as_root_only = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None
                                  or shutil.which("prlimit") is None,
                                  reason="acting as another user needs root, setpriv and prlimit")

SMALL_FLOW = '''
from headwater import FlowSpec, step


class SmallFlow(FlowSpec):
    @step
    def start(self):
        self.secret = "only-for-my-eyes"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SmallFlow()
'''


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile10-ui")
    flow = write_flow(folder, "small_flow.py", SMALL_FLOW)
    proc = hw(flow, "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


# -- another local user holding idle connections to the UI -----------------------------------

HOLD_CONNECTIONS = """
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
held = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(count)]
print("HELD", len(held), flush=True)
sys.stdin.read()  # holds them, sending nothing, until the test closes stdin
"""


@as_root_only
def test_another_users_idle_connections_never_use_up_the_uis_descriptors(small_run):
    # uvicorn waits for ever for a connection's first request, and the guard refuses another
    # user only once one has arrived: 400 silent connections of `nobody` used up the 256
    # descriptors of a server started under that limit, and the owner's request then waited
    # for ever (the accept loop failing with "too many open files").
    python = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"
    with ui_server(small_run, prefix=("prlimit", "--nofile=256:256")) as ui:
        attacker = subprocess.Popen(  # noqa: S603
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             python, "-c", HOLD_CONNECTIONS, str(ui.port), "400"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd="/")
        try:
            assert attacker.stdout is not None
            line = attacker.stdout.readline()
            assert line.startswith("HELD 400"), (line, attacker.stderr.read()
                                                 if attacker.poll() is not None else "")
            status, _, body = ui.get("/api/flows")  # while all 400 are still open
            assert status == 200 and b"SmallFlow" in body, (status, body)
            status, _, body = ui.get("/api/tasks/SmallFlow/1/start/1/artifact?name=secret")
            assert status == 200, (status, body)
        finally:
            attacker.communicate(timeout=60)  # closes its stdin: it lets go of them and exits
        assert "too many open files" not in ui.output().lower(), ui.output()
