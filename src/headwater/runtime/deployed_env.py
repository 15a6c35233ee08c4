"""A deployed task whose step has a @pypi/@conda environment: the step runs in that interpreter.

The lock was made at ``create`` and travels with the deployment; here (in the pod, or on the
Airflow worker) the environment of that lock is built into this machine's cache, once, exactly
as a Dask worker builds it (:func:`headwater.environments.prepare.build_env`). The deployed task
itself stays in the base interpreter (it talks to the metadata database); only the step runs in
the environment: ``ENV/bin/python`` imports headwater through the runtime overlay (never the
base ``site-packages``), loads the flow from the code package and runs the TaskSpec
(:func:`headwater.runtime.packaged_task.run_payload`), and hands back its result.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import tempfile
from collections.abc import Callable
from typing import Any

from headwater.interpreters import SAFE_PATH
from headwater.records import TaskFailure, TaskResult, TaskSpec
from headwater.runtime.single import ChildWaiter, OutputTail, SingleOutcome

_BOOTSTRAP = (SAFE_PATH + "sys.path.insert(0, sys.argv[1]); "
              "from headwater.runtime.deployed_env import main; main(sys.argv[2], sys.argv[3])")


def run_in_environment(lock: Any, spec: TaskSpec, root: str, code: dict[str, Any], *,
                       while_waiting: Callable[[], None] | None = None, every_s: float = 30.0,
                       timeout_s: float | None = None, echo: bool = False) -> SingleOutcome:
    """Run ``spec`` in the environment of ``lock`` (an EnvLock), built here if not cached.

    ``code`` is a code package's record, or (``spin``) the flow's own file: its ``folder``,
    ``module``, ``path`` and ``class``. ``echo`` (without ``while_waiting``) also copies the
    task's output to this process's streams as it comes."""
    from headwater.environments.cache import runtime_overlay
    from headwater.environments.prepare import build_env, env_environ

    env, _ = build_env(lock)
    with tempfile.TemporaryDirectory(prefix="headwater-task-") as tmp:
        paths = {name: os.path.join(tmp, name)
                 for name in ("payload", "result", "stdout", "stderr")}
        with open(paths["payload"], "wb") as handle:
            pickle.dump({"spec": spec, "root": root, "code": code, "env_id": lock.id}, handle,
                        protocol=5)
        tail = OutputTail(paths) if echo and while_waiting is None else None
        if tail is not None:
            while_waiting, every_s = tail.pump, 0.2
        with open(paths["stdout"], "wb") as out, open(paths["stderr"], "wb") as err:
            proc = subprocess.Popen(  # noqa: S603 - the environment's interpreter, our module
                [env.python, "-c", _BOOTSTRAP, str(runtime_overlay()), paths["payload"],
                 paths["result"]], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=env_environ(env), start_new_session=True)
            waiter = ChildWaiter(proc.pid, while_waiting, every_s, timeout_s)
            status = waiter.wait()
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by the waiter
        if tail is not None:
            tail.pump()
        texts = {name: _read(paths[name]) for name in ("stdout", "stderr")}
        try:
            with open(paths["result"], "rb") as handle:
                result: TaskResult = pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError):
            result = TaskResult(failure=TaskFailure(
                "ProcessDied", f"the task's process in environment {lock.id[:12]} ended with "
                f"code {proc.returncode} before reporting"))
    return SingleOutcome(result, texts["stdout"], texts["stderr"], waiter.timed_out)


def main(payload_path: str, result_path: str) -> None:  # pragma: no cover - in the environment
    """In the environment's interpreter: run the task, write its result, exit."""
    from headwater.runtime.packaged_task import run_payload

    with open(payload_path, "rb") as handle:
        payload = handle.read()
    result = run_payload(payload)
    with open(result_path, "wb") as handle:
        pickle.dump(result, handle, protocol=5)
    raise SystemExit(0 if result.ok else 1)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
