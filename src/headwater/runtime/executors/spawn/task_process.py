"""What a spawned task's fresh interpreter runs: import the flow, run one task, exit.

Started by :class:`~headwater.runtime.executors.spawn.executor.SpawnExecutor` as
``python -c BOOTSTRAP FD LIFELINE LAUNCH``: ``FD`` is the socket carrying the TaskSpec in and
the TaskResult out, ``LIFELINE`` the read end of a pipe only the scheduler writes to (it closes
when the scheduler dies: the task then kills its process group), ``LAUNCH`` the JSON the
executor was built with. From there the task runs as a
forked one does (:func:`headwater.runtime.executors.child.make_child_main`), so the two
executors cannot differ in what a step sees.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
from typing import Any


def main(argv: list[str]) -> None:  # pragma: no cover - runs in the task's own interpreter
    from headwater.runtime.executors.launch_env import take_launch

    fd, lifeline, launch = int(argv[0]), int(argv[1]), take_launch()
    _watch_scheduler(lifeline)
    for stream in (sys.stdout, sys.stderr):  # pipes: a line reaches the scheduler when printed
        stream.reconfigure(line_buffering=True, errors="backslashreplace")
    sock = socket.socket(fileno=fd)
    code = 70
    try:
        code = _task_main(launch)(sock)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed pipe must not mask the exit code
                pass
        os._exit(code)


def _watch_scheduler(lifeline: int) -> None:  # pragma: no cover - in the task's interpreter
    """Kill this task's process group (the task and whatever it started) once the scheduler is
    gone: nothing is left running that no one waits for."""
    import threading

    def watch() -> None:
        try:
            while os.read(lifeline, 1):
                pass
        except OSError:
            pass
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="headwater-lifeline", daemon=True).start()


def _task_main(launch: dict[str, Any]) -> Any:  # pragma: no cover - in the task's interpreter
    """The forked tasks' entry point, bound to this run's flow, graph and datastore; or, when
    the flow cannot be loaded here, one that reports why as the task's failure."""
    try:
        from headwater.flow_file import packaged_flow_class
        from headwater.graph import check_flow
        from headwater.runtime.executors.child import make_child_main
        from headwater.runtime.executors.spawn.flow_check import changed_since_launch
        from headwater.store import open_datastore

        code = launch["code"]
        changed = changed_since_launch(os.path.join(launch["folder"], code["path"]),
                                       code.get("sha256"))
        if changed is not None:
            return _failing_main(changed)
        flow_cls = packaged_flow_class(launch["folder"], launch["code"])
        return make_child_main(flow_cls, check_flow(flow_cls), open_datastore(launch["root"]),
                               launch["current"], launch.get("facts"))
    except Exception as exc:  # noqa: BLE001 - the task reports it
        return _failing_main(f"the flow file {launch['code']['path']} could not be imported in "
                             f"the task's new interpreter: {type(exc).__name__}: {exc}")


def _failing_main(message: str) -> Any:  # pragma: no cover - in the task's interpreter
    from headwater.records import TaskFailure, TaskResult
    from headwater.runtime.executors.forkserver import read_to_end

    def task_main(sock: socket.socket) -> int:
        spec = pickle.loads(read_to_end(sock))
        print(f"{spec.pathspec}: {message}", file=sys.stderr)
        sock.sendall(pickle.dumps(TaskResult(failure=TaskFailure("FlowImportError", message)),
                                  protocol=5))
        sock.close()
        return 1

    return task_main
