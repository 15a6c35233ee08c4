"""A fork server beside each Dask worker process, so a task starts in milliseconds.

Starting ``python -m headwater.runtime.remote_task`` for every task costs an interpreter start
and headwater's imports, tens of milliseconds per task before any user code runs. Instead, the
first task a worker process runs starts one server process for it (``python -m
headwater.runtime.executors.worker_forks FD``), which imports headwater's task machinery once
and then forks a child per task, exactly as the local executor's fork server does (the same
:mod:`~headwater.runtime.executors.forkserver` loop; the Dask worker itself is never forked: it
runs threads, and forking a threaded process is unsafe).

Each child is still a process of its own, in its own process group: a crash or ``os._exit`` in
user code fails that task only, and killing the group stops it. The server ends, taking its
children with it, when the worker hangs up (the worker exited or died).

Per task, the worker passes three descriptors: the ends of the task's stdout and stderr pipes,
and a stream socket that carries the pickled payload in and the pickled TaskResult out.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from headwater.runtime.executors.forkserver import ForkServer


@dataclass
class ForkedTask:
    """The worker's view of one forked task: its pid once started, its wait status at exit."""

    name: str
    pid: int | None = None
    status: int | None = None
    started: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)


class WorkerForkServer:
    """The worker-side handle: launch tasks, learn when they start and end."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "headwater.runtime.executors.worker_forks",
             str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True,
        )
        theirs.close()
        self._server = ForkServer(self.proc.pid, ours)
        self._tasks: dict[str, ForkedTask] = {}
        self._lock = threading.Lock()
        self.alive = True
        threading.Thread(target=self._dispatch, daemon=True, name="headwater-forks").start()

    def launch(self, name: str, fds: list[int]) -> ForkedTask:
        task = ForkedTask(name)
        with self._lock:
            if not self.alive:
                raise OSError("the worker's fork server has ended")
            self._tasks[name] = task
            self._server.launch(name, fds)
        return task

    def _dispatch(self) -> None:
        """Route the server's ``started`` / ``exited`` messages to the tasks waiting on them."""
        while True:
            try:
                msg = self._server.read_message()
            except OSError:
                msg = None
            if msg is None:  # the server is gone: no task of it will report any more
                with self._lock:
                    self.alive = False
                    orphans, self._tasks = list(self._tasks.values()), {}
                for task in orphans:
                    task.started.set()
                    task.exited.set()
                return
            kind, name, pid, *rest = msg
            with self._lock:
                task = self._tasks.get(name)
                if task is not None and kind == "exited":
                    del self._tasks[name]
            if task is None:
                continue
            task.pid = pid
            task.started.set()
            if kind == "exited":
                task.status = rest[0]
                task.exited.set()


_SERVER: WorkerForkServer | None = None
_SERVER_LOCK = threading.Lock()


def fork_server() -> WorkerForkServer:
    """This worker process's fork server, started on first use (again if it has ended)."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or not _SERVER.alive or _SERVER.proc.poll() is not None:
            _SERVER = WorkerForkServer()
        return _SERVER


def _task_main(sock: socket.socket) -> int:
    """In the forked child: read the payload, run the task, send the result back."""
    from headwater.runtime.remote_task import run_payload

    chunks = []
    while True:
        data = sock.recv(1 << 20)
        if not data:
            break
        chunks.append(data)
    result = run_payload(b"".join(chunks))
    sys.stdout.flush()
    sys.stderr.flush()
    sock.sendall(pickle.dumps(result, protocol=5))
    sock.close()
    return 0 if result.ok else 1


def _main(argv: list[str]) -> int:
    # What every task needs, imported once here instead of once per task.
    import headwater.graph  # noqa: F401
    import headwater.runtime.remote_task  # noqa: F401
    import headwater.runtime.task  # noqa: F401
    import headwater.store  # noqa: F401
    from headwater.runtime.executors.forkserver import serve

    serve(socket.socket(fileno=int(argv[0])), _task_main)
    return 0


if __name__ == "__main__":
    os._exit(_main(sys.argv[1:]))

