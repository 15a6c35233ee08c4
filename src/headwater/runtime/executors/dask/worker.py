"""What runs inside a Dask worker: start one task in its own process and return what it made.

This module is installed with headwater, so the Dask scheduler and workers can unpickle a
reference to :func:`run_task` (user code never travels in the task graph: it comes from the code
package in the datastore). Each task is a process of its own, forked by the worker's fork server
(:mod:`.worker_forks`) in milliseconds: a crash, a leak or ``os._exit`` in user code cannot
take the worker down, and :func:`kill_tasks` can stop it.

While the task runs, its pid and its output are sent live to the launching client as Dask events
on the executor's topic; the whole output also comes back with the result, so nothing is lost
if an event is.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from headwater.runtime.executors.dask.worker_forks import fork_server
from headwater.runtime.executors.forkserver import read_to_end
from headwater.runtime.executors.processes import task_channels

_CHUNK = 1 << 16
_RUNNING: dict[str, int] = {}  # task name -> its process (group) id, in this worker process
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


def run_task(name: str, payload: bytes, root: str, code: dict[str, Any],
             topic: str | None = None) -> dict[str, Any]:
    """Run one task (``payload``: the pickled spec, store root and code package) to its end.

    ``root`` and ``code`` (the datastore root and the code package, also inside ``payload``)
    choose the fork server, without unpickling the payload here.

    Returns the exit code, the pickled TaskResult (``b""`` if the process left none), the task's
    whole stdout and stderr, the task process's pid, and the name and address of the Dask worker
    that ran it (``worker``, ``worker_address``).
    """
    send = _event_sender(topic)
    with task_channels() as channels:
        task = fork_server(root, code).launch(name, channels.child_fds)
    out_r, err_r, ours = channels.out_r, channels.err_r, channels.ours
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": [], "result": []}
    readers = [threading.Thread(target=_pump, args=(fd, stream, name, chunks[stream], send),
                                daemon=True)
               for fd, stream in ((out_r, "stdout"), (err_r, "stderr"))]
    readers.append(threading.Thread(target=_receive, args=(ours, chunks["result"]), daemon=True))
    for reader in readers:
        reader.start()
    try:
        task.started.wait()
        if task.pid is not None:
            with _LOCK:
                _RUNNING[name] = task.pid
            send({"name": name, "pid": task.pid})
        try:
            ours.sendall(payload)
            ours.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the child is already gone; its exit status says why
        wanted = _still_wanted(name)
        over = _memory_watch(task.pid)
        while not task.exited.wait(0.5):
            if not wanted() and task.pid is not None:
                # The client cancelled this Dask task (the run gave up on it, e.g. after its
                # first worker died and Dask started it again here): stop the user code too.
                _kill_group(task.pid, signal.SIGKILL)
            elif over() and task.pid is not None:
                _kill_group(task.pid, signal.SIGKILL)
    finally:
        with _LOCK:
            _RUNNING.pop(name, None)
        if task.pid is not None:
            _kill_group(task.pid, signal.SIGKILL)  # whatever it left running
        for reader in readers:
            reader.join(timeout=5)
        ours.close()
    # No status: the fork server itself died, taking the task with it.
    code = os.waitstatus_to_exitcode(task.status) if task.status is not None else -signal.SIGKILL
    result = b"".join(chunks["result"])
    return {"code": code, "result": result, "stdout": b"".join(chunks["stdout"]),
            "stderr": b"".join(chunks["stderr"]), "pid": task.pid or 0, **_this_worker(),
            **over.found}


class _MemoryWatch:
    """Whether the task's process has gone over the Dask worker's memory limit.

    Dask's nanny watches the worker process only; a task runs in a process of its own (forked
    beside the worker), so without this a step could use any amount of memory on a worker
    started with ``--memory-limit``, until the kernel's out-of-memory killer picked a victim.
    The bound is the nanny's own: ``distributed.worker.memory.terminate`` (95 %) of the limit.
    Once over, ``found`` holds what the executor reports (``memory_rss``, ``memory_limit``).
    """

    def __init__(self, pid: int | None, limit: int | None) -> None:
        self.found: dict[str, int] = {}
        self._process: Any = None
        self._limit = limit
        if pid is None or not limit:
            return
        try:
            import psutil  # a dependency of distributed

            self._process = psutil.Process(pid)
        except Exception:  # noqa: BLE001 - already gone, or no psutil: nothing to watch
            self._process = None

    def __call__(self) -> bool:
        if self._process is None or self.found or not self._limit:
            return bool(self.found)
        try:
            rss = int(self._process.memory_info().rss)
        except Exception:  # noqa: BLE001 - the process has just ended
            return False
        if rss > self._limit:
            self.found = {"memory_rss": rss, "memory_limit": int(self._limit)}
            return True
        return False


def _memory_watch(pid: int | None) -> _MemoryWatch:
    """The watch of task ``pid`` against this worker's memory limit (none outside a worker,
    or on a worker without a limit)."""
    try:
        import dask
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
        fraction = dask.config.get("distributed.worker.memory.terminate")
    except (ImportError, ValueError, AttributeError):
        return _MemoryWatch(None, None)
    if not limit or not fraction:
        return _MemoryWatch(None, None)
    return _MemoryWatch(pid, int(limit * float(fraction)))


def _still_wanted(key: str) -> Callable[[], bool]:
    """Whether Dask still wants the result of task ``key`` on this worker (always true outside
    a worker). A running Dask task that the client cancels turns 'cancelled' but its thread
    goes on; without this check its user code would run on, unseen and unowned."""
    try:
        from distributed import get_worker

        state = get_worker().state
    except (ImportError, ValueError):
        return lambda: True

    def wanted() -> bool:
        task = state.tasks.get(key)
        return task is not None and task.state not in ("cancelled", "released", "forgotten")

    return wanted


def _this_worker() -> dict[str, str]:
    """The name and address of the Dask worker running this call (nothing outside a worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return {}
    return {"worker": str(worker.name), "worker_address": str(worker.address)}


def _pump(fd: int, stream: str, name: str, into: list[bytes],
          send: Callable[[dict[str, Any]], None]) -> None:
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
        os.close(fd)


def _receive(sock: socket.socket, into: list[bytes]) -> None:
    """The pickled TaskResult the child sends back, read as it comes (it may be large)."""
    try:
        into.append(read_to_end(sock, _CHUNK))
    except OSError:
        return


def kill_tasks(names: list[str], force: bool) -> int:
    """Signal the process group of each task of ``names`` that runs in this worker process.

    Called on every worker through ``client.run``; returns how many it signalled.
    """
    sig = signal.SIGKILL if force else signal.SIGTERM
    with _LOCK:
        pids = [_RUNNING[name] for name in names if name in _RUNNING]
    for pid in pids:
        _kill_group(pid, sig)
    return len(pids)


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass
