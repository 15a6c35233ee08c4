"""The default executor: each task in its own process, forked from a warm fork server.

The scheduler side is a single-threaded event loop (:class:`~..processes.PipedTasks`) over the
tasks' pipes (live stdout/stderr), their result sockets and the fork servers' control sockets,
which say when each task started and exited.
"""

from __future__ import annotations

import _socket  # see forkserver.py: `socket` and `selectors` are more than this loop needs
import contextlib
from collections.abc import Callable
from typing import Protocol

from headwater.exceptions import RunFailedError
from headwater.records import TaskSpec
from headwater.runtime.executors.base import Event
from headwater.runtime.executors.forkserver import ForkServer
from headwater.runtime.executors.processes import PipedTasks, Running, send_spec, task_channels


class ServerRoutes(Protocol):
    """Other fork servers for some steps (e.g. one per @pypi environment), started lazily."""

    def server_for(self, step: str) -> ForkServer | None: ...

    def close(self) -> None: ...


class LocalExecutor(PipedTasks):
    """Runs tasks as forked children of a fork server started by ``__init__``.

    ``run_in_child`` is called in the task's process with the socket carrying the spec; it must
    read the spec, run the task, write the pickled TaskResult and return the exit code.
    ``routes`` may send a step's tasks to another server (speaking the same protocol).
    """

    crash_hint = (". If the step runs without crashing outside headwater, a library it uses may "
                  "not survive fork() (some do not, on macOS in particular): run the flow with "
                  "--executor spawn, which starts each task in a new interpreter")

    def __init__(self, run_in_child: Callable[[_socket.socket], int], servers: int = 1,
                 routes: ServerRoutes | None = None) -> None:
        # fork() is the slowest part of starting a task (milliseconds on a virtual machine), and a
        # server forks one child at a time: one server per core lets the forks run in parallel.
        super().__init__()
        self._servers: list[ForkServer] = []
        for _ in range(max(1, servers)):
            self._servers.append(ForkServer.start(run_in_child, self._servers))
        self._load = {server.pid: 0 for server in self._servers}
        for server in self._servers:
            self._poller.register(server.sock.fileno(), server.sock, server)
        self._routes = routes

    def submit(self, key: str, spec: TaskSpec) -> None:
        server = self._routes.server_for(spec.step) if self._routes else None
        if server is None:
            server = min(self._servers, key=lambda s: self._load[s.pid])
        elif server.pid not in self._load:  # a routed server's first task: watch it from now on
            self._load[server.pid] = 0
            self._poller.register(server.sock.fileno(), server.sock, server)
        with task_channels() as channels:
            server.launch(key, channels.child_fds)
        self._load[server.pid] += 1
        send_spec(channels.ours, spec)
        self._watch_task(key, channels.ours, channels.out_r, channels.err_r, server=server.pid)

    def _on_watched(self, server: ForkServer, events: list[Event]) -> None:
        msg = server.read_message()
        if msg is None:
            raise RunFailedError(
                f"the process that starts this run's tasks (pid {server.pid}) died, so the "
                "run cannot go on; its running tasks are stopped",
                fix="resume the run: python FLOW_FILE resume",
            )
        if msg[0] == "started":
            _, key, pid = msg
            task = self._tasks.get(key)
            if task is not None:
                self._started(task, pid, events)
        elif msg[0] == "exited":
            _, key, _pid, status = msg
            task = self._tasks.get(key)
            if task is not None:
                self._exited(task, status, events)

    def _finished(self, task: Running) -> None:
        self._load[task.server] -= 1

    def wind_down(self) -> None:
        """Hang up on the fork servers once no task runs: each exits on its own (on the other
        core) while the scheduler records the run's end and closes its database; ``close``
        then only reaps them. With a task still running, nothing is done here."""
        if self._tasks:
            return
        self._hang_up()

    def _hang_up(self) -> None:
        for server in self._servers:  # all hang up first: they exit side by side, not in turn
            fd = server.sock.fileno()
            if fd != -1:  # not hung up yet (a closed socket's descriptor reads -1)
                with contextlib.suppress(KeyError):  # no longer watched: nothing to forget
                    self._poller.unregister(fd)
                with contextlib.suppress(OSError):
                    server.hang_up()

    def close(self) -> None:
        for key in list(self._tasks):
            self.kill(key, force=True)
        self._hang_up()
        for server in self._servers:
            server.wait()
        if self._routes is not None:
            self._routes.close()
        self._poller.close()


