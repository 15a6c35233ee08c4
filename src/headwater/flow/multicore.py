"""``parallel_map`` / ``parallel_imap_unordered``: call a function on many items in forked processes.

A helper steps call to use every core of the machine a task runs on (Metaflow's
``metaflow.multicore_utils``). Each call runs in a child made with ``fork``, so the function may
be a lambda or a closure over the step's data (nothing is pickled on the way in); only results
come back, pickled into a temporary file (in ``dir`` when given), so a large result never
passes through a pipe. At most ``max_parallel`` children run at once (default: the CPU count).

A call that raises makes the whole map raise :class:`MulticoreException`, naming the item and
carrying the child's traceback; the other children are stopped and nothing is left behind
(processes or files), also when the caller stops reading results early.

Only for POSIX systems (``os.fork``). Imports beyond ``os`` happen on the first call: steps that
never call it pay nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["MulticoreException", "parallel_imap_unordered", "parallel_map"]

A = TypeVar("A")
R = TypeVar("R")


class MulticoreException(Exception):
    """A call of ``parallel_map`` / ``parallel_imap_unordered`` failed in its child process."""


class _Child:
    """One forked call: its process, the file its result lands in, and the item's position."""

    def __init__(self, pid: int, path: str, index: int) -> None:
        self.pid, self.path, self.index = pid, path, index
        self.waiter: Any = None  # a pidfd (Linux), readable once the child has exited
        self.status = 0  # its wait status, once reaped


def _spawn(func: Callable[[Any], Any], arg: Any, index: int, folder: str | None) -> _Child:
    import sys
    import tempfile

    fd, path = tempfile.mkstemp(prefix="parallel_map_", dir=folder)
    os.close(fd)
    sys.stdout.flush()  # or the child would print what the parent had buffered, again
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _run_child(func, arg, path)
    return _Child(pid, path, index)


def _run_child(func: Callable[[Any], Any], arg: Any, path: str) -> None:
    """In the child: call, write ``(ok, value)`` to ``path``, and leave without running any of
    the parent's cleanup (``os._exit``: no atexit handlers, no ``finally`` of the caller)."""
    import pickle
    import sys
    import traceback

    code = 1
    try:
        try:
            outcome: tuple[bool, Any] = (True, func(arg))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            outcome = (False, "".join(traceback.format_exception(type(exc), exc,
                                                                 exc.__traceback__)))
        with open(path, "wb") as handle:
            pickle.dump(outcome, handle, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0 if outcome[0] else 1
    except BaseException:  # noqa: BLE001 - e.g. a result that cannot be pickled
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def parallel_imap_unordered(func: Callable[[A], R], iterable: Iterable[A],
                            max_parallel: int | None = None,
                            dir: str | None = None) -> Iterator[R]:  # noqa: A002 - Metaflow's name
    """Yield ``func(item)`` for each item of ``iterable`` as each call finishes (in no set
    order), each call in a forked process, at most ``max_parallel`` at once (default: the number
    of CPUs). ``dir`` is where the results' temporary files go. A failed call raises
    :class:`MulticoreException`."""
    limit = max_parallel if max_parallel is not None else (os.cpu_count() or 1)
    if limit < 1:
        raise ValueError(f"parallel map: max_parallel must be 1 or more, not {max_parallel}")
    items = enumerate(iterable)
    running: list[_Child] = []
    try:
        for index, arg in items:
            running.append(_start(func, arg, index, dir))
            if len(running) >= limit:
                break
        while running:
            child = _wait_any(running)
            running.remove(child)
            result = _collect(child)
            for index, arg in items:
                running.append(_start(func, arg, index, dir))
                break
            yield result
    finally:
        _stop(running)


def parallel_map(func: Callable[[A], R], iterable: Iterable[A], max_parallel: int | None = None,
                 dir: str | None = None) -> list[R]:  # noqa: A002 - Metaflow's name
    """``[func(item) for item in iterable]``, each call in a forked process, at most
    ``max_parallel`` at once (default: the number of CPUs); the results in the items' order.
    A failed call raises :class:`MulticoreException`."""
    indexed = parallel_imap_unordered(lambda pair: (pair[0], func(pair[1])), enumerate(iterable),
                                      max_parallel=max_parallel, dir=dir)
    return [value for _, value in sorted(indexed, key=lambda pair: pair[0])]


def _start(func: Callable[[Any], Any], arg: Any, index: int, folder: str | None) -> _Child:
    child = _spawn(func, arg, index, folder)
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            child.waiter = pidfd_open(child.pid)
        except OSError:  # a kernel without pidfds: polled instead
            child.waiter = None
    return child


def _wait_any(running: list[_Child]) -> _Child:
    """The first child of ``running`` to exit, reaped. Waits on pidfds where the kernel has
    them; otherwise polls, backing off up to 50 ms between looks."""
    import time

    delay = 0.001
    while True:
        for child in running:
            if _reaped(child, block=False):
                return child
        waiters = [child.waiter for child in running if child.waiter is not None]
        if len(waiters) == len(running):
            import select

            ready, _, _ = select.select(waiters, [], [])
            for child in running:
                if child.waiter in ready and _reaped(child, block=True):
                    return child
        else:
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _reaped(child: _Child, *, block: bool) -> bool:
    pid, status = os.waitpid(child.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return False
    child.status = status
    if child.waiter is not None:
        os.close(child.waiter)
        child.waiter = None
    return True


def _collect(child: _Child) -> Any:
    """The result of a finished child (its file removed), or MulticoreException."""
    import pickle

    try:
        with open(child.path, "rb") as handle:
            ok, value = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError):
        ok, value = False, None
    finally:
        _remove(child.path)
    if ok:
        return value
    status = child.status
    how = (f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
           else f"exited with status {os.waitstatus_to_exitcode(status)}")
    detail = (f":\n{value}" if value else
              f" (it {how} before returning a result; a result must be picklable)")
    raise MulticoreException(f"parallel map: the call on item {child.index} failed in process "
                             f"{child.pid}{detail}")


def _stop(running: list[_Child]) -> None:
    """Stop and reap children still running (after a failure, or when the caller stopped
    reading early), and remove their files."""
    import signal

    for child in running:
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for child in running:
        try:
            os.waitpid(child.pid, 0)
        except ChildProcessError:
            pass
        if child.waiter is not None:
            os.close(child.waiter)
        _remove(child.path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
