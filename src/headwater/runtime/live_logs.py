"""A running task's output, kept in the datastore while it runs, so a reader elsewhere (the web
UI, on this machine or another) can follow it before the task ends.

The scheduler holds each running task's output in memory and stores it as a blob when the task
ends. Only tasks that have run for a while are worth following, so nothing is written for a task
younger than ``FIRST_AFTER_S``: a short task (most of a big foreach) costs nothing here. After
that, its output so far is rewritten under a scratch key at most every ``EVERY_S`` seconds while
it grows, and the key is deleted when the attempt's log is final.

Layout: ``logs/live/<flow>/<run_id>/<step>/<task_id>/<attempt>.<stdout|stderr>``
(:func:`headwater.store.datastore.live_log_key`, which readers use too).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from headwater.exceptions import HeadwaterException
from headwater.store.datastore import live_log_key

FIRST_AFTER_S = 1.0
EVERY_S = 0.5


class _Follow:
    __slots__ = ("started", "written", "last_write", "keys")

    def __init__(self, started: float) -> None:
        self.started = started
        self.written = {"stdout": 0, "stderr": 0}  # bytes of each stream already stored
        self.last_write = 0.0
        self.keys: set[str] = set()


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
            if now - follow.last_write < EVERY_S:
                continue
            for stream in ("stdout", "stderr"):
                data = live.stdout if stream == "stdout" else live.stderr
                if len(data) == follow.written[stream]:
                    continue
                spec = live.spec
                target = live_log_key(self.flow, self.run_id, spec.step, spec.task_id,
                                      spec.attempt, stream)
                try:
                    self.storage.put(target, [bytes(data)])
                except (HeadwaterException, OSError):
                    self._broken = True
                    return
                follow.keys.add(target)
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
