"""One command-line process started by the Runner: its own process group, its output kept.

Output goes through pipes into log files (so memory stays flat, however chatty the run) and, when
asked, is echoed live to this process's ``sys.stdout``/``sys.stderr`` (which may be a notebook's).
Nothing here polls: reader threads wake waiters through a :class:`Signal`, which serves both
threads (a condition variable) and asyncio tasks (futures resolved thread-safely), so the async API
never parks a blocked thread in an executor that would hold up interpreter exit.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import IO

STREAMS = ("stdout", "stderr")
KEPT_BYTES = 1 << 20  # output kept in memory once the temporary files are removed
_CHUNK = 65536


class Signal:
    """A change counter that threads and coroutines can wait on without missing a change."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.version = 0

    def notify(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()
            futures, self._futures = self._futures, []
        for loop, future in futures:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass

    def wait(self, seen: int, timeout: float | None = None) -> int:
        """Block until the version differs from ``seen`` (or ``timeout``); return the version."""
        with self._cond:
            if self.version == seen:
                self._cond.wait(timeout)
            return self.version

    async def wait_async(self, seen: int, timeout: float | None = None) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self.version != seen:
                return self.version
            self._futures.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            pass
        return self.version


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Log:
    """One output stream of the process, appended to a file as it arrives."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close() at EOF
        self.size = 0
        self.closed = False
        self._kept: str | None = None

    def append(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()
        self.size += len(data)

    def close(self) -> None:
        self._file.close()
        self.closed = True

    def text(self) -> str:
        """Everything captured so far (after :meth:`keep_tail`, what it kept)."""
        if self._kept is not None:
            return self._kept
        try:
            with open(self.path, "rb") as handle:
                return handle.read(self.size).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def keep_tail(self, limit: int = KEPT_BYTES) -> None:
        """Hold the last ``limit`` bytes in memory before the file is removed: the closing line
        and any error stay readable after cleanup, while a huge log does not fill memory."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(max(self.size - limit, 0))
                self._kept = handle.read(limit).decode("utf-8", errors="replace")
        except FileNotFoundError:
            self._kept = ""

    def lines_from(self, position: int) -> tuple[list[tuple[int, str]], int]:
        """Whole lines from byte ``position`` (plus a final partial line once the stream ended).

        Returns ``[(position_of_line, line_without_newline), ...]`` and the position after them.
        """
        end = self.size
        if end <= position:
            return [], position
        try:
            with open(self.path, "rb") as handle:
                handle.seek(position)
                data = handle.read(end - position)
        except FileNotFoundError:  # removed by cleanup: nothing more to read
            return [], end
        lines: list[tuple[int, str]] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                break
            lines.append((position + start, data[start:newline].decode("utf-8", "replace")))
            start = newline + 1
        if start < len(data) and self.closed and end == self.size:
            lines.append((position + start, data[start:].decode("utf-8", "replace")))
            start = len(data)
        return lines, position + start


class LoggedProcess:
    """A child process in its own process group whose stdout and stderr are captured."""

    def __init__(self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
                 log_paths: Mapping[str, str], echo: bool) -> None:
        self.argv = list(argv)
        self.signal = Signal()
        self.logs = {name: Log(log_paths[name]) for name in STREAMS}
        self.done = threading.Event()
        try:
            self.popen = subprocess.Popen(  # noqa: S603 - the user's own interpreter and flow
                self.argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **_own_group(),
            )
        except OSError:  # never started (a command line too long): nothing will close the logs
            for log in self.logs.values():
                log.close()
            raise
        self._pumps = [
            threading.Thread(target=self._pump, args=(name, getattr(self.popen, name), echo),
                             name=f"headwater-runner-{name}", daemon=True)
            for name in STREAMS
        ]
        for thread in self._pumps:
            thread.start()
        threading.Thread(target=self._reap, name="headwater-runner-wait", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has ended and its output is in, else None."""
        return self.popen.returncode if self.done.is_set() else None

    def _pump(self, name: str, pipe: IO[bytes], echo: bool) -> None:
        log = self.logs[name]
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while True:
                data = pipe.read1(_CHUNK)  # type: ignore[attr-defined]
                if not data:
                    break
                log.append(data)
                if echo:
                    _echo(name, decoder.decode(data))
                self.signal.notify()
        finally:
            pipe.close()
            log.close()
            self.signal.notify()

    def _reap(self) -> None:
        self.popen.wait()
        for thread in self._pumps:
            # The pipes close when the process exits, unless something it started keeps them
            # open; its output is then cut off rather than the wait never ending.
            thread.join(timeout=2.0)
        self.done.set()
        self.signal.notify()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the process ended; False if ``timeout`` passed first."""
        return self.done.wait(timeout)

    async def wait_async(self, timeout: float | None = None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        seen = self.signal.version
        while not self.done.is_set():
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            seen = await self.signal.wait_async(seen, left)
        return True

    def follow(self, stream: str, position: int = 0,
               timeout: float | None = None) -> Iterator[tuple[int, str]]:
        """``(position, line)`` of ``stream`` from byte ``position`` as lines arrive, until the
        process has ended (or ``timeout`` seconds passed)."""
        log = self.logs[stream]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            seen = self.signal.version
            lines, position = log.lines_from(position)
            yield from lines
            if position >= log.size and self.done.is_set():
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            if not lines:
                self.signal.wait(seen, left)

    async def follow_async(self, stream: str, position: int = 0,
                           timeout: float | None = None) -> AsyncIterator[tuple[int, str]]:
        """:meth:`follow` for asyncio: waiting never blocks the event loop."""
        log = self.logs[stream]
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            seen = self.signal.version
            lines, position = log.lines_from(position)
            for line in lines:
                yield line
            if position >= log.size and self.done.is_set():
                return
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return
            if not lines:
                await self.signal.wait_async(seen, left)

    def kill(self, grace: float = 5.0) -> None:
        """Stop a still-running process group: SIGTERM (the run is recorded as stopped), then
        SIGKILL once the leader has exited or after ``grace`` seconds, so that nothing it started
        outlives it. (The group id cannot be reused while any member remains.)"""
        if self.popen.poll() is not None:
            return
        _signal_group(self.popen, terminate=True)
        self.done.wait(grace)
        _signal_group(self.popen, terminate=False)
        self.done.wait(grace)


def _own_group() -> dict:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return {"start_new_session": True}


def _signal_group(popen: subprocess.Popen, *, terminate: bool) -> None:
    try:
        if sys.platform == "win32":
            if terminate:
                popen.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            else:
                popen.kill()
        else:
            os.killpg(popen.pid, signal.SIGTERM if terminate else signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass  # already gone


def _echo(name: str, text: str) -> None:
    if not text:
        return
    target = sys.stdout if name == "stdout" else sys.stderr
    try:
        target.write(text)
        target.flush()
    except (ValueError, OSError):  # the caller closed its stream; keep capturing regardless
        pass
