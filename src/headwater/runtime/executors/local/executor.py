"""The default executor: each task in its own process, forked from a warm fork server.

The scheduler side is a single-threaded event loop over the tasks' pipes (live stdout/stderr), their
result sockets and the fork server's control socket. A task is finished when its process has exited
*and* its result socket is drained; a process that exits without a result is reported as a crash
that names the exit code or the signal.
"""

from __future__ import annotations

import _socket  # see forkserver.py: `socket` and `selectors` are more than this loop needs
import contextlib
import os
import pickle
import select
import signal
from collections.abc import Callable
from typing import Any, Protocol

from headwater.exceptions import RunFailedError
from headwater.records import Factory, Record, TaskFailure, TaskResult, TaskSpec
from headwater.runtime.executors.base import Event, Executor, TaskExited, TaskOutput, TaskStarted
from headwater.runtime.executors.forkserver import ForkServer

_CHUNK = 1 << 16


class _Running(Record):
    key: str
    result_sock: _socket.socket
    streams: dict[int, str]  # fd -> "stdout" / "stderr", open ones only
    pid: int | None = None
    status: int | None = None  # wait status once exited
    result_bytes: bytearray = Factory(bytearray)
    result_done: bool = False
    held: list[TaskOutput] = Factory(list)  # output read before 'started' arrived
    server: int = 0  # pid of the fork server that runs it


class ServerRoutes(Protocol):
    """Other fork servers for some steps (e.g. one per @pypi environment), started lazily."""

    def server_for(self, step: str) -> ForkServer | None: ...

    def close(self) -> None: ...


class LocalExecutor(Executor):
    """Runs tasks as forked children of a fork server started by ``__init__``.

    ``run_in_child`` is called in the task's process with the socket carrying the spec; it must
    read the spec, run the task, write the pickled TaskResult and return the exit code.
    ``routes`` may send a step's tasks to another server (speaking the same protocol).
    """

    def __init__(self, run_in_child: Callable[[_socket.socket], int], servers: int = 1,
                 routes: ServerRoutes | None = None) -> None:
        # fork() is the slowest part of starting a task (milliseconds on a virtual machine), and a
        # server forks one child at a time: one server per core lets the forks run in parallel.
        self._servers: list[ForkServer] = []
        for _ in range(max(1, servers)):
            self._servers.append(ForkServer.start(run_in_child, self._servers))
        self._load = {server.pid: 0 for server in self._servers}
        self._poller = _Poller()
        for server in self._servers:
            self._poller.register(server.sock.fileno(), server.sock, server)
        self._tasks: dict[str, _Running] = {}
        self._routes = routes

    @property
    def running(self) -> int:
        return len(self._tasks)

    def submit(self, key: str, spec: TaskSpec) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        server = self._routes.server_for(spec.step) if self._routes else None
        if server is None:
            server = min(self._servers, key=lambda s: self._load[s.pid])
        elif server.pid not in self._load:  # a routed server's first task: watch it from now on
            self._load[server.pid] = 0
            self._poller.register(server.sock.fileno(), server.sock, server)
        self._load[server.pid] += 1
        server.launch(key, [out_w, err_w, theirs.fileno()])
        for fd in (out_w, err_w):
            os.close(fd)
        theirs.close()
        ours.sendall(pickle.dumps(spec, protocol=5))
        ours.shutdown(_socket.SHUT_WR)
        ours.setblocking(False)
        task = _Running(key, ours, {out_r: "stdout", err_r: "stderr"}, server=server.pid)
        self._tasks[key] = task
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
            self._poller.register(fd, fd, task)
        self._poller.register(ours.fileno(), ours, task)

    def poll(self, timeout: float | None) -> list[Event]:
        events: list[Event] = []
        for fd, watched, task in self._poller.ready(timeout):
            if isinstance(task, ForkServer):
                self._on_server_message(task, events)
                continue
            elif watched is task.result_sock:
                if not task.result_done:
                    self._read_result(task)
            elif fd in task.streams:  # an earlier event of this batch may have closed it
                self._read_stream(task, fd, events)
            self._maybe_finish(task, events)
        return events

    def _on_server_message(self, server: ForkServer, events: list[Event]) -> None:
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
                task.pid = pid
                events.append(TaskStarted(key, pid))
                events.extend(task.held)
                task.held.clear()
        elif msg[0] == "exited":
            _, key, _pid, status = msg
            task = self._tasks.get(key)
            if task is not None:
                task.status = status
                self._drain(task, events)
                self._maybe_finish(task, events)

    def _read_stream(self, task: _Running, fd: int, events: list[Event]) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if data:
            self._emit_output(task, TaskOutput(task.key, task.streams[fd], data), events)
        else:
            self._close_stream(task, fd)

    @staticmethod
    def _emit_output(task: _Running, output: TaskOutput, events: list[Event]) -> None:
        """Output may be read before the fork server says the task started: hold it till then."""
        if task.pid is None:
            task.held.append(output)
        else:
            events.append(output)

    def _read_result(self, task: _Running) -> None:
        while True:
            try:
                data = task.result_sock.recv(_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                task.result_done = True
                self._poller.unregister(task.result_sock.fileno())
                task.result_sock.close()
                return
            task.result_bytes += data

    def _drain(self, task: _Running, events: list[Event]) -> None:
        """After exit, take what the pipes hold; a grandchild may keep them open, so no EOF wait."""
        for fd in list(task.streams):
            while fd in task.streams:
                try:
                    data = os.read(fd, _CHUNK)
                except BlockingIOError:
                    break
                if data:
                    self._emit_output(task, TaskOutput(task.key, task.streams[fd], data), events)
                else:
                    self._close_stream(task, fd)
        if not task.result_done:
            self._read_result(task)

    def _close_stream(self, task: _Running, fd: int) -> None:
        self._poller.unregister(fd)
        os.close(fd)
        del task.streams[fd]

    def _maybe_finish(self, task: _Running, events: list[Event]) -> None:
        if task.status is None or not task.result_done or task.key not in self._tasks:
            return
        for fd in list(task.streams):
            self._close_stream(task, fd)
        del self._tasks[task.key]
        self._load[task.server] -= 1
        events.append(TaskExited(task.key, _decode_result(task)))

    def kill(self, key: str, *, force: bool = False) -> None:
        task = self._tasks.get(key)
        if task is None or task.pid is None or task.status is not None:
            return
        sig = signal.SIGKILL if force else signal.SIGTERM
        try:
            os.killpg(task.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(task.pid, sig)

    def close(self) -> None:
        for key in list(self._tasks):
            self.kill(key, force=True)
        for server in self._servers:  # all hang up first: they exit side by side, not in turn
            with contextlib.suppress(OSError):
                server.hang_up()
        for server in self._servers:
            server.wait()
        if self._routes is not None:
            self._routes.close()
        self._poller.close()


class _Poller:
    """What ``selectors`` gave this loop, on ``select.poll`` (no system call to watch or forget a
    descriptor): the descriptors ready to read, each with the object watched and its owner."""

    def __init__(self) -> None:
        self._poll = select.poll()
        self._watched: dict[int, tuple[Any, Any]] = {}  # fd -> (object watched, its owner)

    def register(self, fd: int, watched: Any, owner: Any) -> None:
        self._poll.register(fd, select.POLLIN)
        self._watched[fd] = (watched, owner)

    def unregister(self, fd: int) -> None:
        del self._watched[fd]
        self._poll.unregister(fd)

    def ready(self, timeout: float | None) -> list[tuple[int, Any, Any]]:
        """(fd, object, owner) of each descriptor readable (or closed, or in error) within
        ``timeout`` seconds (None: wait for one), looked up before the caller handles any."""
        if timeout is not None:  # poll takes milliseconds (and rounds them up, as selectors did)
            timeout = max(0.0, timeout * 1000)
        watched = self._watched
        return [(fd, *watched[fd]) for fd, _ in self._poll.poll(timeout) if fd in watched]

    def close(self) -> None:
        self._watched.clear()


def _decode_result(task: _Running) -> TaskResult:
    code = os.waitstatus_to_exitcode(task.status or 0)
    if task.result_bytes:
        try:
            result: TaskResult = pickle.loads(bytes(task.result_bytes))
        except Exception as err:  # noqa: BLE001 - a truncated result is a crash
            return TaskResult(failure=TaskFailure("TaskCrashed", f"unreadable task result ({err})"))
        if code < 0 and result.ok:
            result.failure = TaskFailure("TaskKilled", f"killed by {_signal_name(-code)}")
        return result
    if code < 0:
        msg = f"the task's process was killed by {_signal_name(-code)} before the step finished"
    else:
        msg = (f"the task's process exited with code {code} before the step finished "
               "(os._exit() or a crash in native code?)")
    return TaskResult(failure=TaskFailure("TaskCrashed", msg))


# Signals whose name alone does not say what happened to someone reading a task's log.
_SIGNAL_MEANING = {"SIGSEGV": "segmentation fault", "SIGBUS": "bus error",
                   "SIGILL": "illegal instruction", "SIGFPE": "arithmetic error",
                   "SIGABRT": "abort"}


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    meaning = _SIGNAL_MEANING.get(name)
    return f"{name} ({meaning})" if meaning else name
