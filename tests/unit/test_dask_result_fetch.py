"""The Dask executor fetches finished tasks' results several at a time.

Dask runs every done-callback on a single thread; a result fetched there waits for the fetch
before it, so one worker slow to answer held back every other worker's results. Here the
executor's own fetch step is driven with stand-in futures (no cluster needed): one fetch that
never ends must not hold back the next.
"""

from __future__ import annotations

import threading

from headwater.runtime.executors.dask.executor import FETCHERS, DaskExecutor

DEADLINE_S = 120.0  # generous: a loaded machine may take long to run a thread


class _Future:
    """What ``_fetched`` reads of a Dask future: its status and its result."""

    status = "finished"

    def __init__(self, value: object, release: threading.Event | None = None) -> None:
        self.value, self.release = value, release

    def result(self) -> object:
        if self.release is not None:
            self.release.wait(DEADLINE_S)
        return self.value


def _bare_executor() -> DaskExecutor:
    """The executor's fetching parts only: its inbox and its fetchers, no client."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    executor = DaskExecutor.__new__(DaskExecutor)
    executor._inbox = queue.SimpleQueue()
    executor._fetchers = ThreadPoolExecutor(FETCHERS)
    return executor


def test_a_result_slow_to_come_does_not_hold_back_the_others() -> None:
    executor = _bare_executor()
    stuck = threading.Event()
    try:
        executor._fetch_soon("slow", _Future("late", release=stuck))  # returns at once
        executor._fetch_soon("quick", _Future("early"))
        kind, (key, fetched) = executor._inbox.get(timeout=DEADLINE_S)
        assert (kind, key, fetched) == ("done", "quick", ("ok", "early"))
        stuck.set()
        kind, (key, fetched) = executor._inbox.get(timeout=DEADLINE_S)
        assert (kind, key, fetched) == ("done", "slow", ("ok", "late"))
    finally:
        stuck.set()
        executor._fetchers.shutdown(wait=True)


def test_a_result_finishing_after_close_is_dropped_quietly() -> None:
    executor = _bare_executor()
    executor._fetchers.shutdown(wait=True)
    executor._fetch_soon("late", _Future("value"))  # no error out of Dask's callback thread
    assert executor._inbox.empty()
