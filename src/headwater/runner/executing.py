"""ExecutingRun: a run the Runner started, finished or not.

It works from plain code and from asyncio alike. ``wait()`` blocks when called outside an event
loop and returns a coroutine inside one (so ``await running.wait()``, Metaflow's async form, works
unchanged), as ``Runner.async_run`` does; ``stream_log()`` returns an object that is both iterable
and async-iterable; and the object itself is awaitable, yielding itself once the run id is known.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from headwater.exceptions import HeadwaterException
from headwater.runner.locate import find_run, flow_class_candidates
from headwater.runner.process import STREAMS, LoggedProcess
from headwater.settings import Settings

if TYPE_CHECKING:
    from headwater.client import Run

_Self = TypeVar("_Self", bound="ExecutingProcess")  # `with runner.run() as running`: its own type

# How much of each output stream an error about a run that did not start quotes.
_QUOTED_LINES = 200


class RunNotStartedError(HeadwaterException, RuntimeError):
    """The command ended before registering a run (a bad parameter, a flow that does not import).

    Also a RuntimeError, as the error Metaflow's Runner raises in this case: code written for it
    (``except RuntimeError``) keeps working. The message quotes the command's output, which is
    where the reason is.
    """

    headline = "The run did not start"


class RunnerArgumentTypeError(RunNotStartedError, TypeError):
    """A parameter was given a Python value of a type it does not take (``n="abc"`` for an
    ``int``): a ``TypeError``, as Metaflow's Runner raises, and a RunNotStartedError."""

    headline = "Invalid Runner argument"


class RunnerArgumentValueError(RunNotStartedError, ValueError):
    """A required parameter was not given, or an argument names no parameter of the flow: a
    ``ValueError``, as Metaflow's Runner raises, and a RunNotStartedError."""

    headline = "Invalid Runner argument"


_REFUSALS = {"TypeError": RunnerArgumentTypeError, "ValueError": RunnerArgumentValueError}


class LogStream:
    """``(position, line)`` pairs of one output stream, live until the process ends.

    ``for position, line in ...`` and ``async for position, line in ...`` both work; pass a
    position back to :meth:`ExecutingRun.stream_log` to continue where a reader stopped.
    """

    def __init__(self, process: LoggedProcess, stream: str, position: int) -> None:
        self._process, self._stream, self._position = process, stream, position

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self._process.follow(self._stream, self._position)

    def __aiter__(self) -> AsyncIterator[tuple[int, str]]:
        return self._process.follow_async(self._stream, self._position)


class ExecutingProcess:
    """A command the Runner started (``run``, ``resume``, ``spin``): its process and output.

    :class:`ExecutingRun` and :class:`~headwater.runner.executing_task.ExecutingTask` add what
    the command made (a client Run, a client Task), as Metaflow's classes of the same names do.
    """

    def __init__(self, runner: Any, process: LoggedProcess) -> None:
        self._runner = runner
        self._process = process

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, pid={self._process.pid})"

    # -- state -----------------------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        """The command line that was started."""
        return list(self._process.argv)

    @property
    def returncode(self) -> int | None:
        """The command's exit code; None while it runs."""
        return self._process.returncode

    @property
    def status(self) -> str:
        """'running', 'successful' or 'failed', from the command's exit.

        Metaflow's words, kept as they are: the client's ``Run.status`` says 'succeeded' for the
        same run (Metaflow's client does too). Compare ``executing_run.run.successful`` to be safe.
        """
        code = self.returncode
        if code is None:
            return "running"
        return "successful" if code == 0 else "failed"

    @property
    def stdout(self) -> str:
        """What the command printed on stdout so far (after cleanup, its last MiB)."""
        return self._process.logs["stdout"].text()

    @property
    def stderr(self) -> str:
        return self._process.logs["stderr"].text()

    # -- waiting ---------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None, stream: str | None = None) -> Any:
        """Wait for the run to end (at most ``timeout`` seconds), echoing ``stream`` meanwhile.

        Returns this object; after a timeout the run goes on (``status`` is still 'running';
        :meth:`kill` stops it). Inside a running event loop this returns a coroutine instead, to
        be awaited, as Metaflow's asynchronous ``wait``.
        """
        if loop_running():
            return self._wait_async(timeout, stream)
        _check_stream(stream)
        if stream is None:
            self._process.wait(timeout)
        else:
            for _, line in self._process.follow(stream, 0, timeout):
                print(line, flush=True)
        return self

    async def _wait_async(self, timeout: float | None, stream: str | None) -> Any:
        _check_stream(stream)
        if stream is None:
            await self._process.wait_async(timeout)
        else:
            async for _, line in self._process.follow_async(stream, 0, timeout):
                print(line, flush=True)
        return self

    def stream_log(self, stream: str, position: int | None = None) -> LogStream:
        """Lines of 'stdout' or 'stderr' as they are printed, from byte ``position`` (default 0)."""
        _check_stream(stream)
        return LogStream(self._process, stream, position or 0)

    def kill(self) -> None:
        """Stop the run if it is still going (it is recorded as failed and can be resumed)."""
        self._process.kill()

    # -- context management ----------------------------------------------------------------------

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.cleanup()

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._runner.cleanup()


class ExecutingRun(ExecutingProcess):
    """One run started by a :class:`~headwater.runner.Runner`: its process, output and client Run."""

    def __init__(self, runner: Any, process: LoggedProcess, *, flow_file: str, run_id_file: str,
                 settings: Settings, start_timeout: float, refusal_file: str | None = None) -> None:
        super().__init__(runner, process)
        self._flow_file = flow_file
        self._refusal_file = refusal_file
        self._run_id_file = run_id_file
        self._settings = settings
        self._start_timeout = start_timeout
        self._run: Run | None = None
        self._run_id: str | None = None

    @property
    def run(self) -> Run | None:
        """The client Run, read from the datastore the run writes to.

        Waits (briefly) for the run to be registered. None if the command ended without starting
        a run (a bad parameter, say: ``stderr`` tells why). Reading it makes the process-wide
        client read that datastore, as Metaflow's Runner does.
        """
        if self._run is None:
            self._run = self._load_run(self._wait_for_run_id())
        return self._run

    def __await__(self) -> Generator[Any, None, ExecutingRun]:
        return self._started().__await__()

    async def _started(self) -> ExecutingRun:
        if self._run is None:
            self._run = self._load_run(await self._wait_for_run_id_async())
        if self._run is None and self._process.done.is_set():
            return self._started_or_raise()
        return self

    # -- finding the run -------------------------------------------------------------------------

    def _read_run_id(self) -> str | None:
        """The id once the child wrote it; kept, so ``.run`` works after the files are removed."""
        if self._run_id is None:
            try:
                with open(self._run_id_file, encoding="utf-8") as handle:
                    self._run_id = handle.read().strip() or None
            except FileNotFoundError:
                pass
        return self._run_id

    def _wait_for_run_id(self) -> str | None:
        # Output lines and the process's end wake this at once; the short, growing timeout only
        # covers a --quiet run that registers without printing.
        deadline = time.monotonic() + self._start_timeout
        delay = 0.002
        while True:
            seen = self._process.signal.version
            run_id = self._read_run_id()
            if run_id or self._process.done.is_set() or time.monotonic() > deadline:
                return run_id or self._read_run_id()
            self._process.signal.wait(seen, delay)
            delay = min(delay * 2, 0.05)

    async def _wait_for_run_id_async(self) -> str | None:
        deadline = time.monotonic() + self._start_timeout
        delay = 0.002
        while True:
            seen = self._process.signal.version
            run_id = self._read_run_id()
            if run_id or self._process.done.is_set() or time.monotonic() > deadline:
                return run_id or self._read_run_id()
            await self._process.signal.wait_async(seen, delay)
            delay = min(delay * 2, 0.05)

    def _started_or_raise(self) -> ExecutingRun:
        """This object once its run is registered; :class:`RunNotStartedError` if the command
        ended without one."""
        if self._read_run_id() is None and self.returncode is not None:
            refusal = _read_refusal(self._refusal_file)
            if refusal is not None:  # the child checked an argument as Metaflow's Runner does
                raise _REFUSALS[refusal[0]](refusal[1])
            raise RunNotStartedError(_not_started_message(self), fix=(
                "the reason is in the output quoted above: correct the flow or the argument it "
                "names, then run again"))
        return self

    def _load_run(self, run_id: str | None) -> Run | None:
        if run_id is None:
            return None
        from headwater.client import run_found_by

        candidates = flow_class_candidates(self._flow_file)
        return run_found_by(self._settings, lambda meta: find_run(meta, candidates, run_id,
                                                                  self._process.pid))


def _read_refusal(path: str | None) -> tuple[str, str] | None:
    """(exception kind, message) the child wrote when it refused an argument, else None."""
    if not path:
        return None
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            refusal = json.load(handle)
    except (OSError, ValueError):
        return None
    kind, message = refusal.get("kind"), refusal.get("message")
    return (kind, str(message)) if kind in _REFUSALS and message else None


def _not_started_message(running: ExecutingProcess, missing: str = "starting a run") -> str:
    command = " ".join(running.command)
    parts = [f"`{command}` exited with code {running.returncode} before {missing}"]
    for name, text in (("stdout", running.stdout), ("stderr", running.stderr)):
        lines = text.rstrip().splitlines()[-_QUOTED_LINES:]
        if lines:
            parts.append(f"{name}:\n" + "\n".join(lines))
    return "\n".join(parts)


def loop_running() -> bool:
    """True inside a running asyncio event loop (async code, or a notebook cell)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _check_stream(stream: str | None) -> None:
    if stream is not None and stream not in STREAMS:
        raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
