"""Task processes on this machine, as the scheduler sees them: each task's stdout and stderr
pipes and its result socket, read by one poll loop, and its process group to stop.

Shared by the executors that start tasks here: ``local`` (forked from a warm server) and
``spawn`` (a new interpreter per task). A task is finished when its process has exited *and*
its result socket is drained; a process that exits without a result is reported as a crash
that names the exit code or the signal.
"""

from __future__ import annotations

import _socket  # see forkserver.py: `socket` and `selectors` are more than this loop needs
import os
import pickle
import select
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from headwater.records import Factory, Record, TaskFailure, TaskResult, TaskSpec
from headwater.runtime.executors.base import Event, Executor, TaskExited, TaskOutput, TaskStarted

_CHUNK = 1 << 16


class TaskChannels(NamedTuple):
    """A task's stdout and stderr pipes and its spec/result socket: the ends that stay here,
    and ``child_fds``, the ends the task's process gets (stdout, stderr, socket)."""

    out_r: int
    err_r: int
    ours: _socket.socket
    child_fds: list[int]


@contextmanager
def task_channels() -> Iterator[TaskChannels]:
    """Make a task's channels for the ``with`` block that starts its process. The task's ends
    are closed here when the block ends (the process holds its own copies by then); ours are
    closed too if the block raises (the task never started)."""
    opened: list[int] = []
    try:  # out of descriptors half way (EMFILE): what was opened is closed, nothing leaks
        out_r, out_w = os.pipe()
        opened += (out_r, out_w)
        err_r, err_w = os.pipe()
        opened += (err_r, err_w)
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    except BaseException:
        for fd in opened:
            os.close(fd)
        raise
    try:
        yield TaskChannels(out_r, err_r, ours, [out_w, err_w, theirs.fileno()])
    except BaseException:
        for fd in (out_r, err_r):
            os.close(fd)
        ours.close()
        raise
    finally:
        for fd in (out_w, err_w):
            os.close(fd)
        theirs.close()


def send_spec(sock: _socket.socket, spec: TaskSpec) -> None:
    """Hand a just-started task its TaskSpec. A task that died before taking it closed its end:
    that is the task's failure, reported when its exit is seen, not the scheduler's.

    With ``--executor spawn``, a Ctrl-C of the run's process group can land between a task's
    fork and its own ``setpgid`` and kill it there (the out-of-memory killer can kill any new
    task). The chaos round found the scheduler dying of the ``BrokenPipeError`` instead, which
    click's standalone mode took for a closed stdout: ``run`` exited 1 without a word."""
    try:
        sock.sendall(pickle.dumps(spec, protocol=5))
        sock.shutdown(_socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass


class Running(Record):
    """One task process while it runs: its pipes still open, what it has sent so far."""

    key: str
    result_sock: _socket.socket
    streams: dict[int, str]  # fd -> "stdout" / "stderr", open ones only
    pid: int | None = None
    status: int | None = None  # wait status once exited
    result_bytes: bytearray = Factory(bytearray)
    result_done: bool = False
    held: list[TaskOutput] = Factory(list)  # output read before 'started' arrived
    server: int = 0  # pid of the fork server that runs it


class PipedTasks(Executor):
    """What every executor of task processes on this machine shares: each task's stdout and
    stderr pipes and its result socket, read by one poll loop, and its process group to stop.

    A subclass starts the processes (``submit``) and learns when each exits: it registers its
    own watched objects with ``self._poller`` and handles them in :meth:`_on_watched`, setting
    ``pid`` (then calling :meth:`_started`) and ``status`` (then :meth:`_exited`).
    """

    # Added to the failure of a task that a native crash ended (SIGSEGV, SIGABRT...).
    crash_hint = ""

    def __init__(self) -> None:
        self._poller = _Poller()
        self._tasks: dict[str, Running] = {}

    @property
    def running(self) -> int:
        return len(self._tasks)

    def _watch_task(self, key: str, result_sock: _socket.socket, out_r: int, err_r: int,
                    server: int = 0) -> Running:
        """Start reading a task's pipes and result socket (``result_sock`` already holds the
        spec, sent and shut for writing)."""
        result_sock.setblocking(False)
        task = Running(key, result_sock, {out_r: "stdout", err_r: "stderr"}, server=server)
        self._tasks[key] = task
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
            self._poller.register(fd, fd, task)
        self._poller.register(result_sock.fileno(), result_sock, task)
        return task

    def poll(self, timeout: float | None) -> list[Event]:
        events: list[Event] = []
        for fd, watched, task in self._poller.ready(timeout):
            if not isinstance(task, Running):
                self._on_watched(task, events)
                continue
            elif watched is task.result_sock:
                if not task.result_done:
                    self._read_result(task)
            elif fd in task.streams:  # an earlier event of this batch may have closed it
                self._read_stream(task, fd, events)
            self._maybe_finish(task, events)
        return events

    def _on_watched(self, owner: Any, events: list[Event]) -> None:
        """A descriptor the subclass registered is ready (a fork server's message...)."""
        raise NotImplementedError

    def _started(self, task: Running, pid: int, events: list[Event]) -> None:
        task.pid = pid
        events.append(TaskStarted(task.key, pid))
        events.extend(task.held)
        task.held.clear()

    def _exited(self, task: Running, status: int, events: list[Event]) -> None:
        task.status = status
        self._drain(task, events)
        self._maybe_finish(task, events)

    def _read_stream(self, task: Running, fd: int, events: list[Event]) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if data:
            self._emit_output(task, TaskOutput(task.key, task.streams[fd], data), events)
        else:
            self._close_stream(task, fd)

    @staticmethod
    def _emit_output(task: Running, output: TaskOutput, events: list[Event]) -> None:
        """Output may be read before the task's start is known (its pid): hold it till then."""
        if task.pid is None:
            task.held.append(output)
        else:
            events.append(output)

    def _read_result(self, task: Running) -> None:
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

    def _drain(self, task: Running, events: list[Event]) -> None:
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

    def _close_stream(self, task: Running, fd: int) -> None:
        self._poller.unregister(fd)
        os.close(fd)
        del task.streams[fd]

    def _maybe_finish(self, task: Running, events: list[Event]) -> None:
        if task.status is None or not task.result_done or task.key not in self._tasks:
            return
        for fd in list(task.streams):
            self._close_stream(task, fd)
        del self._tasks[task.key]
        self._finished(task)
        events.append(TaskExited(task.key, _decode_result(task, self.crash_hint)))

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

    def _finished(self, task: Running) -> None:
        """Called once a task's result and exit are both in."""


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


def _decode_result(task: Running, crash_hint: str = "") -> TaskResult:
    code = os.waitstatus_to_exitcode(task.status or 0)
    if task.result_bytes:
        try:
            result: TaskResult = pickle.loads(bytes(task.result_bytes))
        except Exception as err:  # noqa: BLE001 - a truncated result is a crash
            return TaskResult(failure=TaskFailure("TaskCrashed", f"unreadable task result ({err})"))
        if code < 0 and result.ok:
            return killed_after_finishing(result, -code)
        return result
    if code < 0:
        return died_by_signal(-code, "the task's process", crash_hint)
    msg = (f"the task's process exited with code {code} before the step finished "
           "(os._exit() or a crash in native code?)")
    return TaskResult(failure=TaskFailure("TaskCrashed", msg))


# Signals whose name alone does not say what happened to someone reading a task's log.
_SIGNAL_MEANING = {"SIGSEGV": "segmentation fault", "SIGBUS": "bus error",
                   "SIGILL": "illegal instruction", "SIGFPE": "arithmetic error",
                   "SIGABRT": "abort"}


_NATIVE_CRASHES = {int(getattr(signal, name)) for name in _SIGNAL_MEANING if hasattr(signal, name)}


def killed_after_finishing(result: TaskResult, number: int) -> TaskResult:
    """``result``, sent by a task that was then killed by signal ``number`` before it exited.

    The exit decides: the task failed (``TaskKilled``). Its artifacts and transition are
    dropped, as a task killed a moment earlier would have had none: a failed attempt records no
    artifacts (docs/reliability.md), and @catch's stand-in keeps nothing of a crash. Where and
    when it ran, and its cards, are kept. The chaos round's fault point ``task.sent`` found the
    whole manifest recorded on the failed task."""
    return TaskResult(failure=TaskFailure("TaskKilled", f"killed by {_signal_name(number)}"),
                      started_at=result.started_at, finished_at=result.finished_at,
                      metadata=result.metadata, cards=result.cards)


def died_by_signal(number: int, process: str, crash_hint: str = "") -> TaskResult:
    """The result of a task whose process (``process`` says which, for the message) died of
    signal ``number`` before sending one: a TaskCrashed whose message names the signal and, for
    a native crash (a segfault, ...), what it means plus ``crash_hint``. Every executor reports
    such a death through here, so a crash reads the same wherever the task ran (the scheduler
    adds the message to the task's stderr)."""
    msg = f"{process} was killed by {_signal_name(number)} before the step finished"
    if number in _NATIVE_CRASHES:
        msg += crash_hint
    elif number == signal.SIGKILL:  # nobody says who sent it; the likeliest sender is the kernel
        msg += (". If nobody killed it, the machine ran out of memory and the kernel's "
                "out-of-memory killer stopped it (`dmesg | grep -i oom` says so): give the step "
                "less to hold at once, or run it where there is more memory "
                "(`@resources(memory=...)` with a cluster executor), then resume the run")
    return TaskResult(failure=TaskFailure("TaskCrashed", msg))


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    meaning = _SIGNAL_MEANING.get(name)
    return f"{name} ({meaning})" if meaning else name
