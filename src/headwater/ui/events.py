"""Server-sent events: a run's task states and a task's log lines, as they change.

The server polls the metadata database (and the running task's scratch log) every
``POLL_S`` and sends only what changed since the last message: step states come from one
aggregate query, tasks from those running or changed lately, so a page open on a 10,000-task
foreach never reads every task again.
A stream ends with an ``end`` event once its run (or attempt) is over, or, carrying ``error``,
when reading it fails (a damaged log blob, a database gone): the page says so instead of retrying.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from headwater.exceptions import HeadwaterException

POLL_S = 0.5
LOG_TAIL_BYTES = 1 << 20  # a log stream opens on at most its last MiB (the page says so)
LINE_SEARCH_BYTES = 4096  # a cut moves forward to the next line's start if one is this near
KEEPALIVE_S = 15.0
# Tasks changed this long before the previous poll are looked for again (and sent unless
# unchanged): room for a scheduler whose clock is a little behind. The window is counted from
# the previous poll, not from now: a poll that comes late (a loaded machine, a slow query, a
# server paused or a laptop asleep) still finds every task that changed since the last one.
LOOKBACK_S = 5.0
FIRST_LOOKBACK_S = 30.0
# A ``tasks`` event carries at most this many tasks: a page opened on a foreach finishing
# hundreds of tasks a second would otherwise get thousands in its first event. The rest follow
# in the next polls (the window they are looked for in is held back until they are all sent).
TASKS_PER_EVENT = 500


def _message(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _stream(source: AsyncIterator[bytes]) -> Response:
    return StreamingResponse(source, media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


class TaskDiff:
    """Which tasks of a poll changed since they were last sent, remembering only the tasks the
    last poll found: a stream open on a run of 100,000 tasks keeps what a few polls bring back
    (the running tasks and those changed in the look-back window), never a copy of every task
    it ever sent. A task that left the window comes back only when it changed again (its
    registration or end moved into it), so forgetting it resends nothing.
    Each task is kept as a 16-byte digest of its summary, not the summary itself."""

    def __init__(self) -> None:
        self.sent: dict[str, bytes] = {}

    @staticmethod
    def _digest(task: dict) -> bytes:
        text = json.dumps(task, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def changed(self, candidates: list[dict], limit: int) -> tuple[list[dict], bool]:
        """The first ``limit`` of ``candidates`` not sent as they are now (marked sent), and
        whether more are left for the next poll."""
        digests = {t["pathspec"]: self._digest(t) for t in candidates}
        changed = [t for t in candidates if self.sent.get(t["pathspec"]) != digests[t["pathspec"]]]
        picked = changed[:limit]
        kept = {p: d for p, d in self.sent.items() if p in digests}
        kept.update((t["pathspec"], digests[t["pathspec"]]) for t in picked)
        self.sent = kept
        return picked, len(changed) > limit


async def run_events(request: Request) -> Response:
    """``run`` (summary and step states) and ``tasks`` (changed task summaries) events."""
    reader = request.app.state.reader
    flow, run_id = request.path_params["flow"], request.path_params["run_id"]
    started = time.time()
    opened = started - FIRST_LOOKBACK_S
    first = await run_in_threadpool(reader.call, reader.snapshot, flow, run_id, opened)
    diff = TaskDiff()

    async def source() -> AsyncIterator[bytes]:
        head, candidates = first
        changed, left = diff.changed(candidates, TASKS_PER_EVENT)
        # tasks left over from a full event: looked for again from the same point next poll
        behind = opened if left else None
        yield _message("run", head)
        yield _message("tasks", changed)
        idle = 0.0
        last_poll = started
        while head["status"] == "running" or behind is not None:
            await asyncio.sleep(POLL_S)
            if await request.is_disconnected():
                return
            window, last_poll = last_poll - LOOKBACK_S, time.time()
            since = window if behind is None else min(behind, window)
            new_head, candidates = await run_in_threadpool(reader.call, reader.snapshot, flow,
                                                           run_id, since)
            changed, left = diff.changed(candidates, TASKS_PER_EVENT)
            behind = since if left else None
            if new_head != head:
                yield _message("run", new_head)
            if changed:
                yield _message("tasks", changed)
            idle = 0.0 if changed or new_head != head else idle + POLL_S
            if idle >= KEEPALIVE_S:
                yield b": keepalive\n\n"
                idle = 0.0
            head = new_head
        yield _message("end", {"status": head["status"]})

    return _stream(_ending_on_errors(source()))


class _LogFollower:
    """One log of a task (``stdout`` or ``stderr``) as it grows: the messages to send for what
    was read since the last call. ``tag`` puts the stream's name in each message, for a
    response carrying both logs."""

    def __init__(self, stream: str, tag: bool) -> None:
        self.stream, self.tag = stream, tag
        self.sent, self.attempt, self.done = 0, None, False
        # A poll may end inside a UTF-8 character (the task's output is read as it comes): the
        # decoder keeps such a piece for the next poll instead of sending U+FFFD for each half.
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def message(self, event: str, data: dict[str, Any]) -> bytes:
        return _message(event, {"stream": self.stream, **data} if self.tag else data)

    def restart(self, attempt: int) -> bytes:
        self.sent, self.attempt = 0, attempt
        self.decoder.reset()
        return self.message("reset", {"attempt": attempt})

    def first(self, data: bytes, attempt: int) -> list[bytes]:
        self.attempt = attempt
        if len(data) <= LOG_TAIL_BYTES:
            return []
        # a big log so far: its end, and how much was left out
        self.sent = len(data) - len(log_tail(data, LOG_TAIL_BYTES))
        return [self.message("skipped", {"attempt": attempt, "bytes": self.sent,
                                          "size": len(data)})]

    def read(self, data: bytes, final: bool, attempt: int) -> list[bytes]:
        """The messages for the log as read now; ``done`` once it is final."""
        out = []
        if attempt != self.attempt or len(data) < self.sent:  # a retry started over
            out.append(self.restart(attempt))
        if len(data) > self.sent or final:
            text = self.decoder.decode(data[self.sent:], final=final)
            if text:
                out.append(self.message("log", {"attempt": attempt, "text": text}))
            self.sent = len(data)
        if final:
            self.done = True
            out.append(self.message("end" if not self.tag else "done", {"attempt": attempt}))
        return out


async def log_events(request: Request) -> Response:
    """``log`` events carrying the new text of the stream, ``reset`` when a retry starts
    over, and ``end`` once the attempt's log is final."""
    reader = request.app.state.reader
    p = request.path_params
    args = (p["flow"], p["run_id"], p["step"], p["task_id"], p["stream"])
    first = await run_in_threadpool(reader.call, reader.log, *args)

    async def source() -> AsyncIterator[bytes]:
        follower = _LogFollower(p["stream"], tag=False)
        data, final, attempt = first
        for message in follower.first(data, attempt):
            yield message
        while True:
            for message in follower.read(data, final, attempt):
                yield message
            if follower.done:
                return
            await asyncio.sleep(POLL_S)
            if await request.is_disconnected():
                return
            data, final, attempt = await run_in_threadpool(reader.call, reader.log, *args)

    return _stream(_ending_on_errors(source()))


async def task_log_events(request: Request) -> Response:
    """Both logs of a task in one response (what a task's page follows: one connection, not
    two, of the six a browser opens to one server): the events of :func:`log_events`, each
    carrying its ``stream``; ``done`` (``{"stream", "attempt"}``, or with ``error`` and ``fix``
    for a log that cannot be read) when one log is final, and ``end`` once both are."""
    reader = request.app.state.reader
    p = request.path_params
    task = (p["flow"], p["run_id"], p["step"], p["task_id"])
    await run_in_threadpool(reader.call, reader.task_row, *task)  # no such task: a 404
    followers = [_LogFollower(stream, tag=True) for stream in ("stdout", "stderr")]

    async def read(follower: _LogFollower, opening: bool) -> list[bytes]:
        try:
            data, final, attempt = await run_in_threadpool(reader.call, reader.log, *task,
                                                           follower.stream)
        except HeadwaterException as err:  # this log cannot be read (the other may be)
            follower.done = True
            return [follower.message("done", {"error": err.msg, "fix": err.fix})]
        opened = follower.first(data, attempt) if opening else []
        return opened + follower.read(data, final, attempt)

    async def source() -> AsyncIterator[bytes]:
        opening = True
        while True:
            for follower in followers:
                if not follower.done:
                    for message in await read(follower, opening):
                        yield message
            opening = False
            if all(f.done for f in followers):
                yield _message("end", {})
                return
            await asyncio.sleep(POLL_S)
            if await request.is_disconnected():
                return

    return _stream(_ending_on_errors(source()))


def log_tail(data: bytes, limit: int) -> bytes:
    """The last ``limit`` bytes of ``data``, starting at a line's start if one is within
    :data:`LINE_SEARCH_BYTES` (so no line, nor a UTF-8 character, is shown cut in half)."""
    if len(data) <= limit:
        return data
    cut = len(data) - limit
    newline = data.find(b"\n", cut, cut + LINE_SEARCH_BYTES)
    if newline != -1:
        return data[newline + 1:]
    while cut < len(data) and data[cut] & 0xC0 == 0x80:  # inside a UTF-8 character
        cut += 1
    return data[cut:]


async def _ending_on_errors(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``source``'s messages; a headwater error while reading ends the stream with an ``end``
    event that names it (the response has started: its status can no longer say so)."""
    try:
        async for message in source:
            yield message
    except HeadwaterException as err:
        yield _message("end", {"error": err.msg, "fix": err.fix})
