"""Run one TaskSpec outside a run, in a forked child: for ``spin`` and :mod:`headwater.testing`.

The child gives the step the same isolation a scheduled task has (its own process, so a crash or
``sys.exit`` cannot take the caller down, and module state it changes does not leak back), without
the scheduler, the fork server or any metadata.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.graph.model import Graph
from headwater.records import TaskFailure, TaskResult, TaskSpec
from headwater.runtime.task import execute_task


@dataclass
class SingleOutcome:
    result: TaskResult
    stdout: str
    stderr: str
    timed_out: bool = False  # the child outlived ``timeout_s`` and was killed


def run_single_task(flow_cls: type, graph: Graph, spec: TaskSpec, store: Any, *,
                    capture: bool = True, while_waiting: Callable[[], None] | None = None,
                    every_s: float = 30.0, timeout_s: float | None = None,
                    echo: bool = False) -> SingleOutcome:
    """Execute ``spec`` in a child process and return its result (and output when captured).

    ``while_waiting`` is called every ``every_s`` seconds while the child runs (a deployed task
    uses it to keep its run's heartbeat fresh); no thread is started for it. A child still
    running after ``timeout_s`` seconds is killed (with its process group) and the outcome says
    ``timed_out``. ``echo`` (with ``capture``, without ``while_waiting``) also copies the output
    to this process's streams as it comes (``spin``: watched live, and kept).
    """
    if not hasattr(os, "fork"):
        return _in_process(flow_cls, graph, spec, store, capture)
    with tempfile.TemporaryDirectory(prefix="headwater-task-") as tmp:
        paths = {name: os.path.join(tmp, name) for name in ("result", "stdout", "stderr")}
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            if timeout_s is not None:
                os.setpgid(0, 0)  # its own group: a timeout stops what the step started too
            _child(flow_cls, graph, spec, store, paths, capture)
        if timeout_s is not None:
            with contextlib.suppress(OSError):  # whichever of the two runs first sets it
                os.setpgid(pid, pid)
        tail = OutputTail(paths) if echo and capture and while_waiting is None else None
        if tail is not None:
            while_waiting, every_s = tail.pump, 0.2
        waiter = ChildWaiter(pid, while_waiting, every_s, timeout_s)
        status = waiter.wait()
        if tail is not None:
            tail.pump()
        out, err = (_read(paths["stdout"]), _read(paths["stderr"])) if capture else ("", "")
        try:
            with open(paths["result"], "rb") as handle:
                result: TaskResult = pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError):
            code = os.waitstatus_to_exitcode(status)
            result = TaskResult(failure=TaskFailure(
                "ProcessDied", f"the task's process ended with code {code} before reporting"))
    return SingleOutcome(result, out, err, waiter.timed_out)


@dataclass
class ChildWaiter:
    """Waits for a child process: ``while_waiting`` between short polls, a kill at the timeout."""

    pid: int
    while_waiting: Callable[[], None] | None = None
    every_s: float = 30.0
    timeout_s: float | None = None
    timed_out: bool = False

    def wait(self) -> int:
        """The child's wait status."""
        if self.while_waiting is None and self.timeout_s is None:
            return os.waitpid(self.pid, 0)[1]
        now = time.monotonic()
        next_call = now + self.every_s
        deadline = None if self.timeout_s is None else now + self.timeout_s
        while True:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                return status
            now = time.monotonic()
            if deadline is not None and now >= deadline and not self.timed_out:
                self.timed_out = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
            if self.while_waiting is not None and now >= next_call:
                self.while_waiting()
                next_call = now + self.every_s
            time.sleep(0.2)


def _child(flow_cls: type, graph: Graph, spec: TaskSpec, store: Any, paths: dict[str, str],
           capture: bool) -> None:
    code = 1
    try:
        if capture:
            for fd, name in ((1, "stdout"), (2, "stderr")):
                target = os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(target, fd)
                os.close(target)
            # The caller's sys.stdout may not be fd 1 (pytest replaces it): write to the fds.
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        result = execute_task(flow_cls, graph, spec, store)
        with open(paths["result"], "wb") as handle:
            pickle.dump(result, handle, protocol=5)
        code = 0 if result.ok else 1
    except BaseException:  # noqa: BLE001 - report anything, then leave without cleanup handlers
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _in_process(flow_cls: type, graph: Graph, spec: TaskSpec, store: Any,
                capture: bool) -> SingleOutcome:
    """Where fork does not exist: same result, without the process isolation."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        if capture:
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(err))
        result = execute_task(flow_cls, graph, spec, store)
    return SingleOutcome(result, out.getvalue(), err.getvalue())


class OutputTail:
    """Copies what a child wrote to its output files since the last call to our streams."""

    def __init__(self, paths: dict[str, str]) -> None:
        import codecs  # only spin echoes

        self.paths = paths
        self.offsets = {"stdout": 0, "stderr": 0}
        # incremental: a character cut between two reads is decoded whole on the next
        self.decoders = {name: codecs.getincrementaldecoder("utf-8")(errors="replace")
                         for name in self.offsets}

    def pump(self) -> None:
        for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            try:
                with open(self.paths[name], "rb") as handle:
                    handle.seek(self.offsets[name])
                    data = handle.read()
            except FileNotFoundError:
                continue
            if data:
                self.offsets[name] += len(data)
                stream.write(self.decoders[name].decode(data))
                stream.flush()


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
