"""A warm process that forks one child per task.

The scheduler forks this server once, early, while the process holds the imported flow module and
nothing else (no database connection, no threads). For each task the scheduler sends three file
descriptors over a Unix socket: the task's stdout pipe, its stderr pipe, and a socket that carries
the TaskSpec in and the TaskResult out. The server forks a child (copy-on-write: milliseconds),
which becomes its own process group leader, wires fds 1 and 2 to the pipes and runs the task.
The server reaps children and reports ``started``/``exited`` with the raw wait status; when a
task's process exits, anything it left running in its process group is killed with it.

Should the scheduler and its servers die together (``kill -9`` of the run's process group, an
out-of-memory kill of both), nobody is left to stop the tasks: each task therefore ties its
process group to a *lifeline*, a pipe whose write end only the scheduler holds. On Linux the
kernel sends the task's group SIGKILL the moment that end closes (``O_ASYNC`` with ``F_SETSIG``
on the task's own open of the read end): no thread, no polling, and a step running for hours
under a dead run does not go on (docs/reliability.md, the chaos round).

Because the child is a fresh fork of a clean process, each task keeps full process isolation
(a crash, a leak or ``os._exit`` cannot harm the scheduler) without paying interpreter start-up.
"""

from __future__ import annotations

import _signal  # ``signal`` without its enum conversions: what a task calls touches less
import _socket  # ``socket``'s C core: all a run needs, without selectors, array and enums
import fcntl
import gc
import io
import os
import pickle
import select
import signal
import struct
import sys
from collections.abc import Callable

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# This scheduler's lifeline (read end, write end), made with its first server; keyed by pid so a
# forked process never takes its parent's for its own.
_LIFELINES: dict[int, tuple[int, int]] = {}
_IGNORED_AT_LAUNCH: set[int] = set()  # e.g. SIGHUP under nohup: tasks keep ignoring those
# A task's sys.stdout and sys.stderr, made by ``serve`` (see ``_make_task_streams``).
_TASK_STREAMS: list[io.TextIOWrapper] = []
# What a task resets each stop signal to (those ignored at launch left out), set by ``serve``.
_TASK_HANDLERS: list[tuple[int, object]] = []

TaskMain = Callable[[_socket.socket], int]  # runs in the child: read spec, run, write result
# A server rehearses the code around a step (``task_main.rehearse``, a few milliseconds) only
# once it has forked this many tasks: it then pays for itself over the tasks of a fan-out, and
# a short run (a linear flow, a resume, a small branch) does not pay for it at all.
REHEARSE_AFTER = 8


class ForkServer:
    """Handle on the server process, held by the scheduler side."""

    def __init__(self, pid: int, sock: _socket.socket) -> None:
        self.pid = pid
        self.sock = sock

    @classmethod
    def start(cls, task_main: TaskMain, siblings: list[ForkServer] = ()) -> ForkServer:
        """Fork a server. ``siblings``: servers started before, whose scheduler-side sockets the
        new one must not keep open (or they would never see their scheduler hang up)."""
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        lifeline = scheduler_lifeline()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked server
            ours.close()
            for sibling in siblings:
                sibling.sock.close()
            if lifeline is not None:
                os.close(lifeline[1])  # the scheduler's alone: its death is what the tasks see
            code = 0
            try:
                serve(theirs, task_main, lifeline[0] if lifeline is not None else None)
            except BaseException:  # noqa: BLE001
                code = 70
            os._exit(code)
        theirs.close()
        return cls(pid, ours)

    def launch(self, key: str, fds: list[int]) -> None:
        # What ``socket.send_fds`` sends: the descriptors as an array of C ints (SCM_RIGHTS).
        rights = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))
        self.sock.sendmsg([pickle.dumps(("run", key))], [rights])

    def read_message(self) -> tuple | None:
        data = self.sock.recv(65536)
        return pickle.loads(data) if data else None

    def stop(self) -> None:
        try:
            self.hang_up()
        finally:
            self.wait()

    def hang_up(self) -> None:
        """Close our end: the server sees it, ends its loop and exits."""
        self.sock.close()

    def wait(self) -> None:
        """Reap the server once it has exited."""
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def scheduler_lifeline() -> tuple[int, int] | None:
    """The pipe each task ties its process group to (see the module docstring); None where the
    kernel cannot signal a pipe's hangup to a process group of our choosing (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    pid = os.getpid()
    if pid not in _LIFELINES:
        _LIFELINES.clear()  # a forked child's copy of its parent's: not its own to hold
        _LIFELINES[pid] = os.pipe()  # not inherited by programs the scheduler executes
    return _LIFELINES[pid]


def serve(sock: _socket.socket, task_main: TaskMain, lifeline: int | None = None) -> None:
    """The server loop: fork on request, report exits. Ends when the scheduler hangs up.

    ``lifeline``: the read end of the scheduler's lifeline, which every task ties itself to.
    Also the loop of the Dask workers' fork servers (:mod:`.dask.worker_forks`)."""
    # Ctrl-C, SIGTERM and a closed terminal's SIGHUP are the scheduler's to handle, even when sent
    # to the whole process group (a shell's ``kill %1``): it stops the tasks and then hangs up,
    # which ends this server. Should the scheduler die instead, the hangup still reaches us here.
    for signum in _STOP_SIGNALS:
        if signal.signal(signum, signal.SIG_IGN) is signal.SIG_IGN:
            _IGNORED_AT_LAUNCH.add(signum)
    _TASK_HANDLERS[:] = [
        (int(signum), signal.default_int_handler if signum == signal.SIGINT else int(signal.SIG_DFL))
        for signum in _STOP_SIGNALS if signum not in _IGNORED_AT_LAUNCH
    ]
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    warm = getattr(task_main, "warm", None)  # what every task would otherwise work out itself
    if warm is not None:
        warm()
    try:
        _make_task_streams()
    except OSError:  # tasks make their own streams, as they did before
        _TASK_STREAMS.clear()
    # Objects alive now are shared with every child; freezing them keeps the collector from
    # touching (and so copying) their pages in each child.
    gc.freeze()
    # The loop touches as few objects as it can: after each fork every page of this process is
    # shared with the child, so each page the loop writes afterwards is copied again.
    children: dict[int, str] = {}
    rehearse = getattr(task_main, "rehearse", None)
    forked = 0
    sock_fd = sock.fileno()
    close = [sock_fd, wake_r, wake_w]
    poller = select.poll()
    poller.register(sock_fd, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    try:
        while True:
            for fd, _ in poller.poll():
                if fd == sock_fd:
                    msg, fds = _recv_fds(sock)
                    if not msg:  # the scheduler is gone: leave no orphans behind
                        _kill_groups(children)
                        return
                    _, task_key = pickle.loads(msg)
                    forked += 1
                    if forked == REHEARSE_AFTER and rehearse is not None:
                        rehearse()
                        gc.freeze()  # what the rehearsal left alive is shared from now on too
                    pid = _fork_task(fds, task_main, close, lifeline)
                    children[pid] = task_key
                    sock.send(pickle.dumps(("started", task_key, pid)))
                else:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
            _reap(children, sock)
    except BaseException:
        # A report the scheduler is no longer there to read (EPIPE: it died after sending a
        # launch, or as another task exited), or a fork that failed: this server ends, and its
        # tasks with it, not left running under a run nobody watches (the chaos round).
        _kill_groups(children)
        raise


_FDS_SPACE = _socket.CMSG_SPACE(3 * 4)  # room for the three descriptors of a launch


def _recv_fds(sock: _socket.socket) -> tuple[bytes, list[int]]:
    """One launch message and the descriptors that came with it (``socket.recv_fds``, inlined)."""
    msg, ancdata, _flags, _addr = sock.recvmsg(65536, _FDS_SPACE)
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.extend(memoryview(data).cast("i"))
    return msg, fds


_SIGKILL = int(signal.SIGKILL)


def _kill_groups(children: dict[int, str]) -> None:
    for pid in children:
        try:
            os.killpg(pid, _SIGKILL)
        except OSError:
            pass


def _reap(children: dict[int, str], sock: _socket.socket) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        task_key = children.pop(pid, None)
        if task_key is not None:
            # A task's processes end with it: whatever it started and left running in its
            # process group (a `sleep`, a worker pool) would otherwise be orphaned.
            try:
                os.killpg(pid, _SIGKILL)
            except OSError:
                pass
            sock.send(pickle.dumps(("exited", task_key, pid, status)))


def _fork_task(fds: list[int], task_main: TaskMain, close: list[int],
               lifeline: int | None = None) -> int:
    pid = os.fork()
    if pid:
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first wins the race
        except OSError:
            pass
        for fd in fds:
            os.close(fd)
        return pid
    code = 70  # pragma: no cover - the rest runs in the task's own process
    try:
        code = _run_child(fds, task_main, close, lifeline)
    finally:
        os._exit(code)


def _tie_to_lifeline(lifeline: int) -> None:  # pragma: no cover - in the task's process
    """Have the kernel SIGKILL this task's process group once the scheduler is gone.

    The task opens the pipe's read end anew (``/proc/self/fd``): the owner and signal of
    ``O_ASYNC`` belong to an open file description, which the server's descriptor shares with
    every task. A scheduler already gone before this is set is seen by a look at the pipe."""
    try:
        own = os.open(f"/proc/self/fd/{lifeline}", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:  # no /proc: the task runs without a lifeline, as it did before
        return
    finally:
        try:
            os.close(lifeline)
        except OSError:
            pass
    fcntl.fcntl(own, fcntl.F_SETOWN, -os.getpid())  # negative: the whole process group
    fcntl.fcntl(own, getattr(fcntl, "F_SETSIG", 10), _SIGKILL)
    fcntl.fcntl(own, fcntl.F_SETFL, fcntl.fcntl(own, fcntl.F_GETFL) | os.O_ASYNC)
    if select.select([own], [], [], 0)[0]:  # readable: no writer is left, the scheduler died
        os.killpg(0, _SIGKILL)


def _run_child(fds: list[int], task_main: TaskMain, close: list[int],
               lifeline: int | None = None) -> int:  # pragma: no cover
    os.setpgid(0, 0)
    if lifeline is not None:
        _tie_to_lifeline(lifeline)
    _signal.set_wakeup_fd(-1)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    for signum, handler in _TASK_HANDLERS:  # ignored by the server; a task must die of them
        _signal.signal(signum, handler)
    for fd in close:
        os.close(fd)
    out_fd, err_fd, task_fd = fds
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    if _TASK_STREAMS:
        sys.stdout, sys.stderr = _TASK_STREAMS
    else:
        sys.stdout = _line_stream(1)
        sys.stderr = _line_stream(2)
    _reseed_random()
    try:
        return task_main(_socket.socket(fileno=task_fd))
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed pipe must not mask the exit code
                pass


def read_to_end(sock: _socket.socket, chunk: int = 1 << 16) -> bytes:
    """Everything the other end sends until it shuts its side: a task's spec or payload."""
    chunks = []
    while True:
        data = sock.recv(chunk)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _line_stream(fd: int) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", line_buffering=True)


def _make_task_streams() -> None:
    """Make, once, the ``sys.stdout`` and ``sys.stderr`` every task uses on its fds 1 and 2,
    while those are a pipe like a task's (each task would otherwise make its own: ~50 pages
    copied). The server's own fds 1 and 2 are put back at once; it writes nothing meanwhile.
    Should either be closed, or another thread run here (one could write to fd 1 or 2 in that
    moment: a flow's imports in an environment's server), tasks make their streams themselves."""
    if not _single_threaded():
        return
    saved: list[int] = []
    try:
        for fd in (1, 2):
            saved.append(os.dup(fd))
    except OSError:
        for fd in saved:
            os.close(fd)
        return
    r, w = os.pipe()
    try:
        os.dup2(w, 1)
        os.dup2(w, 2)
        _TASK_STREAMS[:] = [_line_stream(1), _line_stream(2)]
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, r, w):
            os.close(fd)


def _single_threaded() -> bool:
    """True when this process runs one thread only; False where that cannot be known."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _reseed_random() -> None:
    """Forked children share the parent's RNG state; give each task its own, as a new process has.

    ``random`` reseeds itself in a forked child (``os.register_at_fork``) and, when the flow has
    not imported it, is seeded afresh on first import: only numpy's generator needs it here."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed()
        except Exception:  # noqa: BLE001
            pass
