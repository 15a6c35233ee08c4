"""Helpers for the fault-injection tests: real runs, real signals, checks on real processes.

Nothing here mocks anything. A run is a ``python flow.py ...`` process; a test waits for what the
run prints (``READY ...``) before it signals it, and waits for conditions (a process group gone)
with generous deadlines, never for a fixed time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import headwater
from proctools import live_members  # noqa: F401 - re-exported for the fault tests

from .flowrun import flow_file, hermetic_env, point_client_at, task_lines

PACKAGE_DIR = os.path.dirname(os.path.abspath(headwater.__file__))
# A generous bound for anything a test waits on, never a measure of speed: each wait ends as soon
# as its event happens, so only a real hang ever reaches it. Five minutes, because a run's start
# on a 2-core machine shared with other test suites took over a minute (HEADWATER_TEST_DEADLINE_S
# changes it).
DEADLINE_S = float(os.environ.get("HEADWATER_TEST_DEADLINE_S", "300"))
# What fault_flow.py's `start` stores as `payload`: over the 1 KiB inline limit, so it is a blob
# file the tests can damage or block.
PAYLOAD = "payload made by start|" + "." * 2048


def fault_flow(name: str) -> Path:
    """A flow of ``tests/integration/flows/faults``."""
    return flow_file(f"faults/{name}")


def datastore(folder: str | os.PathLike) -> Path:
    return Path(folder) / ".headwater"


# The fault and resume tests run again with another executor when this names one
# (test_spawn_executor.py runs them with ``spawn``).
TEST_EXECUTOR = os.environ.get("HEADWATER_TEST_EXECUTOR")


def env_for(folder: str | os.PathLike, **extra: str) -> dict[str, str]:
    """A clean environment whose datastore is ``folder/.headwater`` (never a parent's)."""
    chosen = {"HEADWATER_EXECUTOR": TEST_EXECUTOR} if TEST_EXECUTOR else {}
    return hermetic_env({"HEADWATER_DATASTORE_ROOT": str(datastore(folder)), **chosen, **extra})


def hw(flow: str | os.PathLike, *args: str, cwd: str | os.PathLike,
       timeout: float = DEADLINE_S, **env: str) -> subprocess.CompletedProcess:
    """Run ``python FLOW ARGS`` to the end; ``env`` adds environment variables."""
    return subprocess.run(
        [sys.executable, str(flow), *args], cwd=cwd, env=env_for(cwd, **env),
        capture_output=True, text=True, timeout=timeout,
    )


def client(folder: str | os.PathLike) -> None:
    """Point this process's client at the datastore of ``folder``, every namespace visible."""
    from headwater import namespace

    point_client_at(datastore(folder))
    namespace(None)


def no_headwater_traceback(text: str) -> bool:
    """True when ``text`` shows none of headwater's own source lines (user frames are fine)."""
    return PACKAGE_DIR not in text


def ran(output: str) -> list[str]:
    """The ``RAN label`` lines tasks printed, in order of appearance."""
    return [t.text.split(" ", 1)[1] for t in task_lines(output) if t.text.startswith("RAN ")]


def cloned(output: str) -> dict[str, str]:
    """New task pathspec (run/step/task) -> the origin task it was cloned from."""
    found = {}
    for t in task_lines(output):
        match = re.fullmatch(r"Cloning results of a previously successful task (\S+)", t.text)
        if match:
            found[t.pathspec] = match[1]
    return found


class LiveRun:
    """A ``python -u FLOW ARGS`` process in its own session, its output collected as it comes.

    Its own session keeps a signal sent to the run's process group away from pytest.
    """

    def __init__(self, flow: str | os.PathLike, *args: str, cwd: str | os.PathLike,
                 prefix: tuple[str, ...] = (), **env: str) -> None:
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-u", str(flow), *args], cwd=cwd, env=env_for(cwd, **env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        self.lines: list[str] = []
        self.err_lines: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err_lines),
                             daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for(self, pattern: str, timeout: float = DEADLINE_S) -> re.Match:
        """The first stdout line matching ``pattern`` (a regex), once the run has printed it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    match = regex.search(line)
                    if match:
                        return match
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not any(
                        r.is_alive() for r in self._readers)):
                    raise AssertionError(
                        f"the run never printed {pattern!r}; output so far:\n{self.output}"
                        f"\nstderr:\n{self.stderr}")
                self._changed.wait(min(left, 0.5))

    def signal(self, signum: int, *, group: bool = False) -> None:
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            os.kill(self.proc.pid, signum)

    def finish(self, timeout: float = DEADLINE_S) -> int:
        """Wait for the run to exit (killing it if it overstays) and return its exit code."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._close(timeout)
        return code

    def kill(self) -> None:
        """Last-resort cleanup: the run's whole session."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(DEADLINE_S)
        self._close(DEADLINE_S)

    def _close(self, timeout: float) -> None:
        for reader in self._readers:
            reader.join(timeout)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def stderr(self) -> str:
        return "".join(self.err_lines)


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pid:
                found.append(int(entry))
    return found


def parent_of(pid: int) -> int:
    stat = _stat(pid)
    assert stat is not None, f"process {pid} is gone"
    return stat[1]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[2])


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout:g} s: {what}")
        time.sleep(0.05)


def group_gone(pgid: int, timeout: float = DEADLINE_S) -> None:
    """Wait until process group ``pgid`` has no live process (the test fails if it never does)."""
    wait_until(lambda: not live_members(pgid), f"process group {pgid} is empty "
               f"(left: {live_members(pgid)})", timeout)


def kill_group_quietly(pgid: int) -> None:
    """Cleanup after a failed assertion: never leave a ``sleep 1000`` behind."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
