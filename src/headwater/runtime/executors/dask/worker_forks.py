"""A fork server beside each Dask worker process, so a task starts in milliseconds.

Starting ``python -m headwater.runtime.packaged_task`` for every task costs an interpreter start
and headwater's imports, tens of milliseconds per task before any user code runs. Instead, the
first task of a code package that a worker process runs starts a server process for it
(``python -m headwater.runtime.executors.dask.worker_forks FD``, with the datastore's root and the
code package's record in its environment, never on its command line), which imports the flow
from the code package once (with everything the flow imports) and then forks a child per task, exactly as the local executor's fork server does (the same
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
from typing import Any

from headwater.interpreters import SAFE_PATH, module_argv
from headwater.runtime.executors.forkserver import ForkServer
from headwater.runtime.executors.launch_env import take_launch, with_launch


@dataclass
class ForkedTask:
    """The worker's view of one forked task: its pid once started, its wait status at exit."""

    name: str
    pid: int | None = None
    status: int | None = None
    started: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)


def worker_server_argv(lock: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """For a Dask worker: build (or find cached) the environment of ``lock`` here, and return
    the command starting :mod:`~headwater.runtime.executors.dask.worker_forks` in it, and its env."""
    from headwater.environments.cache import runtime_overlay
    from headwater.environments.lock import EnvLock
    from headwater.environments.prepare import build_env, env_environ

    env, _ = build_env(EnvLock.from_dict(lock))
    bootstrap = (SAFE_PATH + "import os; sys.path.insert(0, sys.argv.pop(1)); "
                 "from headwater.runtime.executors.dask.worker_forks import _main; "
                 "os._exit(_main(sys.argv[1:]))")
    return [env.python, "-c", bootstrap, str(runtime_overlay())], env_environ(env)


class WorkerForkServer:
    """The worker-side handle: launch tasks, learn when they start and end."""

    def __init__(self, root: str, code: dict[str, Any]) -> None:
        command = module_argv(sys.executable, "headwater.runtime.executors.dask.worker_forks")
        environ = None
        if code.get("env"):  # a @pypi/@conda step: the server runs in its environment, built here
            command, environ = worker_server_argv(code["env"])
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The root and the package's record go in the environment: a store's URL (and what the
        # record names) is not for every local user's `ps` (launch_env.py).
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True,
            env=with_launch(environ, {"root": root, "code": code}),
        )
        theirs.close()
        self._server = ForkServer(self.proc.pid, ours)
        self._tasks: dict[str, ForkedTask] = {}
        self._lock = threading.Lock()
        self.alive = True
        threading.Thread(target=self._dispatch, daemon=True, name="headwater-forks").start()

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._tasks

    def stop(self) -> None:
        """Hang up: the server ends (an idle one has no children left to take with it)."""
        with self._lock:
            self.alive = False
        try:  # shutdown, not just close: it also wakes the dispatcher blocked reading the socket
            self._server.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.stop()

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


MAX_SERVERS = 2  # per worker process: the current code package and the one before
_SERVERS: dict[str, WorkerForkServer] = {}  # (root, code key) -> server, least recently used first
_SERVERS_LOCK = threading.Lock()


def fork_server(root: str, code: dict[str, Any]) -> WorkerForkServer:
    """This worker process's fork server for code package ``code`` (started on first use).

    Each server imports its flow once, before forking, as the local executor's does: a task
    then starts with the flow module, its imports (numpy, pandas, ...) and the checked graph
    already in memory. Servers of older code packages are stopped once idle.
    """
    # The same code may run against several datastores, and in several environments.
    key = f"{root}\0{code['key']}\0{(code.get('env') or {}).get('id', '')}"
    with _SERVERS_LOCK:
        server = _SERVERS.pop(key, None)
        if server is None or not server.alive or server.proc.poll() is not None:
            server = WorkerForkServer(root, code)
        _SERVERS[key] = server  # the most recently used last
        for old in [k for k in _SERVERS if k != key][: max(0, len(_SERVERS) - MAX_SERVERS)]:
            if _SERVERS[old].idle:
                _SERVERS.pop(old).stop()
        return server


def _main(argv: list[str]) -> int:
    import headwater.runtime.task  # noqa: F401 - what every task needs, imported once here
    from headwater import fault_points
    from headwater.runtime.executors.forkserver import read_to_end, serve
    from headwater.runtime.packaged_task import load_task_flow, run_payload

    fd, launch = int(argv[0]), take_launch()
    root, code = launch["root"], launch["code"]
    try:
        loaded = (root, code["key"], load_task_flow(root, code))
    except Exception:  # noqa: BLE001 - each task then tries itself and reports why it fails
        loaded = None

    def task_main(sock: socket.socket) -> int:
        """In the forked child: read the payload, run the task, send the result back."""
        result = run_payload(read_to_end(sock, 1 << 20), loaded)
        if code.get("env"):
            result.metadata = {**result.metadata, "environment": code["env"]["id"]}
        sys.stdout.flush()
        sys.stderr.flush()
        fault_points.hold("task.stored")  # as a forked task's (executors/child.py)
        sock.sendall(pickle.dumps(result, protocol=5))
        sock.close()
        fault_points.hold("task.sent")
        return 0 if result.ok else 1

    serve(socket.socket(fileno=fd), task_main)
    return 0


if __name__ == "__main__":
    os._exit(_main(sys.argv[1:]))
