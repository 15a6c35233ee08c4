"""What runs inside a Dask worker: start one task in its own process and return what it made.

This module is installed with headwater, so the Dask scheduler and workers can unpickle a
reference to :func:`run_task` (user code never travels in the task graph: it comes from the code
package in the datastore). Each task is a fresh ``python -m headwater.runtime.remote_task``
process: a crash, a leak or ``os._exit`` in user code cannot take the worker down, and
:func:`kill_task` can stop it.

While the task runs, its pid and its output are sent live to the launching client as Dask events
on the executor's topic; the whole output also comes back with the result, so nothing is lost
if an event is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any

_CHUNK = 1 << 16
_RUNNING: dict[str, subprocess.Popen] = {}  # task name -> its process, in this worker process
_LOCK = threading.Lock()


def _event_sender(topic: str | None) -> Callable[[dict[str, Any]], None]:
    """Log events to ``topic`` on the Dask scheduler, or do nothing outside a worker."""
    if not topic:
        return lambda msg: None
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return lambda msg: None

    def send(msg: dict[str, Any]) -> None:
        try:
            worker.log_event(topic, msg)
        except Exception:  # noqa: BLE001 - live events are best effort; the result has it all
            pass

    return send


def run_task(name: str, payload: bytes, topic: str | None = None) -> dict[str, Any]:
    """Run one task (``payload``: the pickled spec, store root and code package) to its end.

    Returns the exit code, the pickled TaskResult (``b""`` if the process left none), the task's
    whole stdout and stderr, and the task process's pid.
    """
    send = _event_sender(topic)
    with tempfile.TemporaryDirectory(prefix="hw-task-") as scratch:
        result_path = os.path.join(scratch, "result.pickle")
        with _LOCK:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-u", "-m", "headwater.runtime.remote_task", result_path],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True,
            )
            _RUNNING[name] = proc
        send({"name": name, "pid": proc.pid})
        chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        readers = [threading.Thread(target=_pump, args=(pipe, stream, name, chunks[stream], send),
                                    daemon=True)
                   for pipe, stream in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for reader in readers:
            reader.start()
        try:
            assert proc.stdin is not None
            try:
                proc.stdin.write(payload)
                proc.stdin.close()
            except BrokenPipeError:
                pass
            code = proc.wait()
        finally:
            with _LOCK:
                _RUNNING.pop(name, None)
            _kill_group(proc.pid, signal.SIGKILL)  # whatever it left running
            for reader in readers:
                reader.join(timeout=5)
        result = b""
        if os.path.exists(result_path):
            with open(result_path, "rb") as handle:
                result = handle.read()
    return {"code": code, "result": result, "stdout": b"".join(chunks["stdout"]),
            "stderr": b"".join(chunks["stderr"]), "pid": proc.pid}


def _pump(pipe: Any, stream: str, name: str, into: list[bytes],
          send: Callable[[dict[str, Any]], None]) -> None:
    fd = pipe.fileno()
    try:
        while True:
            data = os.read(fd, _CHUNK)
            if not data:
                return
            into.append(data)
            send({"name": name, "stream": stream, "data": data})
    except OSError:
        return
    finally:
        pipe.close()


def kill_tasks(names: list[str], force: bool) -> int:
    """Signal the process group of each task of ``names`` that runs in this worker process.

    Called on every worker through ``client.run``; returns how many it signalled.
    """
    sig = signal.SIGKILL if force else signal.SIGTERM
    with _LOCK:
        procs = [_RUNNING[name] for name in names if name in _RUNNING]
    for proc in procs:
        _kill_group(proc.pid, sig)
    return len(procs)


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass
