"""A command whose reader left (``dump RUN | head -1``) ends quietly with status 0, as
``run | head -1`` does; a command that failed for its own reason keeps its status.

The reader is gone before the command starts (the pipe's read end is closed), so the first
write meets ``EPIPE`` whatever the output's size: no race with a real ``head``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .flowrun import hermetic_env, write_flow

FLOW = '''
from headwater import FlowSpec, step


class ReaderFlow(FlowSpec):
    @step
    def start(self):
        print("said by start")
        self.items = list(range(50))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReaderFlow()
'''

HEADWATER = [sys.executable, "-m", "headwater"]


def with_reader_gone(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(args, cwd=cwd, env=hermetic_env(), stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reader")
    flow = write_flow(folder, "reader_flow.py", FLOW)
    done = subprocess.run([sys.executable, str(flow), "run"], cwd=folder, env=hermetic_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


COMMANDS = {
    "dump": ["FLOW", "dump", "1/start"],
    "dump-items": ["FLOW", "dump", "1/start", "--include", "items"],
    "logs": ["FLOW", "logs", "1/start"],
    "show": ["FLOW", "show"],
    "check": ["FLOW", "check"],
    "tag-list": ["FLOW", "tag", "list"],
    "hw-dump": ["HW", "dump", "reader_flow.py", "1/start"],
    "hw-logs": ["HW", "logs", "reader_flow.py", "1/start"],
    "hw-show": ["HW", "show", "reader_flow.py"],
    "hw-runs": ["HW", "runs"],
}


@pytest.mark.parametrize("command", list(COMMANDS), ids=list(COMMANDS))
def test_a_command_whose_reader_left_ends_quietly_with_status_0(project, command):
    head, *rest = COMMANDS[command]
    args = [sys.executable, "reader_flow.py", *rest] if head == "FLOW" else [*HEADWATER, *rest]
    proc = with_reader_gone(args, project)
    assert (proc.returncode, proc.stderr) == (0, ""), command


def test_a_command_that_fails_keeps_its_status_when_its_reader_left(project):
    proc = with_reader_gone([sys.executable, "reader_flow.py", "dump", "9/start"], project)
    assert proc.returncode == 1 and "9" in proc.stderr, proc.stderr


FAILING = FLOW.replace('print("said by start")', 'raise ValueError("start fails")')


def test_a_failing_run_keeps_its_status_when_its_reader_left(tmp_path):
    write_flow(tmp_path, "failing.py", FAILING.replace("ReaderFlow", "FailingReaderFlow"))
    proc = with_reader_gone([sys.executable, "failing.py", "run"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "output can no longer be written" in proc.stderr, proc.stderr


CHECK = '''
import os, sys
from headwater.cli.std_streams import quiet_when_reader_left, stop_writing

stop_writing()  # an EPIPE was met (as click's standalone mode meets one), stdout still read
print(quiet_when_reader_left(1), file=sys.stderr)
read_end, write_end = os.pipe()
os.close(read_end)
os.dup2(write_end, 1)  # now fd 1's reader is gone too
print(quiet_when_reader_left(1), quiet_when_reader_left(2), file=sys.stderr)
'''


def test_an_epipe_from_anything_but_stdout_keeps_status_1(tmp_path):
    """click exits 1 on an EPIPE from anywhere (a socket, a database); only one from stdout,
    whose reader is gone, becomes 0: a failure elsewhere is never turned into a success."""
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.stderr.split() == ["1", "0", "2"], done.stderr
