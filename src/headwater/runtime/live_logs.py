"""A running task's output, kept in the datastore while it runs, so a reader elsewhere (the web
UI, on this machine or another) can follow it before the task ends.

The scheduler holds each running task's output in memory and stores it as a blob when the task
ends. Only tasks that have run for a while are worth following, so nothing is written for a task
younger than ``FIRST_AFTER_S``: a short task (most of a big foreach) costs nothing here. After
that, what it printed since the last write is stored as the next scratch *segment* at most every
``EVERY_S`` seconds while it grows, and the segments are deleted when the attempt's log is final.
Each byte is written once: rewriting the whole output so far each time (as this module first did)
made a task that prints steadily cost writes that grow with the square of its output (an hour of
a 10 MB log was ~36 GB written). Object stores cannot append, so segments it is; the wait between
two segments grows with their number (``_wait``), keeping a task that prints for a day to a few
thousand keys.

Layout: ``logs/live/<flow>/<run_id>/<step>/<task_id>/<attempt>.<stdout|stderr>.<n>``
(:func:`headwater.store.datastore.live_log_segment_key`; readers join them with
:func:`headwater.store.datastore.read_live_log`).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from headwater.exceptions import HeadwaterException
from headwater.store.datastore import live_log_key, live_log_segment_key

FIRST_AFTER_S = 1.0
EVERY_S = 0.5


SLOWER_EVERY = 64  # segments: after each this many, the wait between two grows by EVERY_S


def _wait(segments: int) -> float:
    """Seconds between two writes once ``segments`` are stored: ``EVERY_S`` for the first
    ``SLOWER_EVERY``, then a little longer with each further group, so the count grows with the
    square root of the time a task prints (~4,000 after a day) rather than with the time."""
    return EVERY_S * (1 + segments // SLOWER_EVERY)


class _Follow:
    __slots__ = ("started", "written", "last_write", "keys", "segments")

    def __init__(self, started: float) -> None:
        self.started = started
        self.written = {"stdout": 0, "stderr": 0}  # bytes of each stream already stored
        self.last_write = 0.0
        self.keys: set[str] = set()
        self.segments = 0  # written so far, both streams


class LiveLogs:
    """Writes the output of long-running tasks to scratch keys; best effort, never fatal."""

    def __init__(self, storage: Any, flow: str, run_id: str) -> None:
        self.storage = storage
        self.flow, self.run_id = flow, run_id
        self._tasks: dict[str, _Follow] = {}
        self._broken = False  # the storage refused a write: stop trying for this run

    def started(self, key: str) -> None:
        self._tasks[key] = _Follow(time.monotonic())

    def flush(self, running: dict[str, Any]) -> None:
        """Store the new output of every task old enough and not written too recently.

        ``running`` maps task key -> the scheduler's record (``spec``, ``stdout``, ``stderr``).
        """
        if self._broken:
            return
        now = time.monotonic()
        for key, live in running.items():
            follow = self._tasks.get(key)
            if follow is None or now - follow.started < FIRST_AFTER_S:
                continue
            if now - follow.last_write < _wait(follow.segments):
                continue
            for stream in ("stdout", "stderr"):
                data = live.stdout if stream == "stdout" else live.stderr
                done = follow.written[stream]
                if len(data) <= done:
                    continue
                spec = live.spec
                stem = live_log_key(self.flow, self.run_id, spec.step, spec.task_id,
                                    spec.attempt, stream)
                target = live_log_segment_key(stem, follow.segments + 1)
                try:
                    self.storage.put(target, [bytes(memoryview(data)[done:])])  # a copy: data grows
                except (HeadwaterException, OSError):
                    self._broken = True
                    return
                follow.keys.add(target)
                follow.segments += 1
                follow.written[stream] = len(data)
                follow.last_write = now

    def finished(self, key: str) -> None:
        """The attempt's log is final (stored as a blob): drop its scratch copies."""
        follow = self._tasks.pop(key, None)
        if follow is None:
            return
        for target in follow.keys:
            with contextlib.suppress(HeadwaterException, OSError):
                self.storage.delete(target)
