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


async def run_events(request: Request) -> Response:
    """``run`` (summary and step states) and ``tasks`` (changed task summaries) events."""
    reader = request.app.state.reader
    flow, run_id = request.path_params["flow"], request.path_params["run_id"]
    started = time.time()
    opened = started - FIRST_LOOKBACK_S
    first = await run_in_threadpool(reader.call, reader.snapshot, flow, run_id, opened)

    async def source() -> AsyncIterator[bytes]:
        head, changed = first
        sent: dict[str, dict] = {}
        # tasks left over from a full event: looked for again from the same point next poll
        behind = opened if len(changed) > TASKS_PER_EVENT else None
        changed = changed[:TASKS_PER_EVENT]
        sent.update((t["pathspec"], t) for t in changed)
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
            changed = [t for t in candidates if sent.get(t["pathspec"]) != t]
            behind = since if len(changed) > TASKS_PER_EVENT else None
            changed = changed[:TASKS_PER_EVENT]
            sent.update((t["pathspec"], t) for t in changed)
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


async def log_events(request: Request) -> Response:
    """``log`` events carrying the new text of the stream, ``reset`` when a retry starts
    over, and ``end`` once the attempt's log is final."""
    reader = request.app.state.reader
    p = request.path_params
    args = (p["flow"], p["run_id"], p["step"], p["task_id"], p["stream"])
    first = await run_in_threadpool(reader.call, reader.log, *args)

    async def source() -> AsyncIterator[bytes]:
        data, final, attempt = first
        sent = 0
        # A poll may end inside a UTF-8 character (the task's output is read as it comes): the
        # decoder keeps such a piece for the next poll instead of sending U+FFFD for each half.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        if len(data) > LOG_TAIL_BYTES:  # a big log so far: its end, and how much was left out
            sent = len(data) - len(log_tail(data, LOG_TAIL_BYTES))
            yield _message("skipped", {"attempt": attempt, "bytes": sent, "size": len(data)})
        while True:
            if len(data) < sent:  # cannot happen within an attempt; be safe anyway
                sent = 0
                decoder.reset()
                yield _message("reset", {"attempt": attempt})
            if len(data) > sent or final:
                text = decoder.decode(data[sent:], final=final)
                if text:
                    yield _message("log", {"attempt": attempt, "text": text})
                sent = len(data)
            if final:
                yield _message("end", {"attempt": attempt})
                return
            await asyncio.sleep(POLL_S)
            if await request.is_disconnected():
                return
            new_data, final, new_attempt = await run_in_threadpool(reader.call, reader.log, *args)
            if new_attempt != attempt:
                sent = 0
                decoder.reset()
                yield _message("reset", {"attempt": new_attempt})
            data, attempt = new_data, new_attempt

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
