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
import sys
import tempfile
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


def run_single_task(flow_cls: type, graph: Graph, spec: TaskSpec, store: Any, *,
                    capture: bool = True) -> SingleOutcome:
    """Execute ``spec`` in a child process and return its result (and output when captured)."""
    if not hasattr(os, "fork"):
        return _in_process(flow_cls, graph, spec, store, capture)
    with tempfile.TemporaryDirectory(prefix="headwater-task-") as tmp:
        paths = {name: os.path.join(tmp, name) for name in ("result", "stdout", "stderr")}
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child(flow_cls, graph, spec, store, paths, capture)
        _, status = os.waitpid(pid, 0)
        out, err = (_read(paths["stdout"]), _read(paths["stderr"])) if capture else ("", "")
        try:
            with open(paths["result"], "rb") as handle:
                result: TaskResult = pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError):
            code = os.waitstatus_to_exitcode(status)
            result = TaskResult(failure=TaskFailure(
                "ProcessDied", f"the task's process ended with code {code} before reporting"))
    return SingleOutcome(result, out, err)


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


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
