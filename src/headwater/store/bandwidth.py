"""A cap on the bytes per second one process moves to and from S3.

Object stores answer as fast as the network lets them, and a task pulling a large artifact (or
a step calling ``S3.get_many``) can fill a node's link: on a shared cluster (an HPC node, a
laptop on a video call) that starves everyone else (Metaflow issue 1527 asks for a throttle).
``HEADWATER_S3_MAX_BANDWIDTH`` (e.g. ``50MB/s``) caps every S3 transfer of the process: the
datastore's blobs (artifacts, logs, foreach items) and the ``S3`` client's gets and puts, uploads
and downloads counted together. Unset, nothing here runs.

The cap is a token bucket holding up to one second of transfer: a short burst goes at full
speed, a sustained transfer is held to the rate. A transfer reserves its bytes before it is
sent (uploads, whose size is known) or after each chunk arrives (downloads); a reservation
the bucket cannot cover yet waits for the missing tokens, so transfers running side by side
share the rate. The cap is per process: each task of a run, on this machine or a worker, has
its own, as each has its own connections.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

ENV_VAR = "HEADWATER_S3_MAX_BANDWIDTH"

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:/\s*s(?:ec)?)?", re.IGNORECASE)
_MIN_RATE = 1024  # bytes/s: below this a typo (a missing unit) would stall every transfer
PACED_CHUNK = 2**18
"""Bytes read at a time from a download under a cap: between reads the connection's window
fills and the server holds back, so the pace is kept within a quarter MiB."""


class BandwidthLimit:
    """A thread-safe token bucket of ``rate`` bytes per second, one second of burst.

    ``reserve(n)`` takes ``n`` bytes' tokens (the balance may go below zero) and answers how
    long the caller must wait before moving them; :meth:`wait` and :meth:`wait_async` do the
    waiting. ``moved`` and ``waited`` count what went through, for tests and diagnostics.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.rate = float(rate)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self.rate  # a full bucket: the first second goes at full speed
        self._at = clock()
        self.moved = 0
        self.waited = 0.0

    def reserve(self, nbytes: int) -> float:
        """Seconds to wait before moving ``nbytes`` (0 when the bucket covers them)."""
        if nbytes <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= nbytes
            self.moved += nbytes
            delay = -self._tokens / self.rate if self._tokens < 0 else 0.0
            self.waited += delay
            return delay

    def wait(self, nbytes: int) -> None:
        """Block this thread until ``nbytes`` may be moved."""
        delay = self.reserve(nbytes)
        if delay > 0:
            time.sleep(delay)

    async def wait_async(self, nbytes: int) -> None:
        """The same for a coroutine on an event loop (s3fs's): other transfers go on meanwhile."""
        delay = self.reserve(nbytes)
        if delay > 0:
            await asyncio.sleep(delay)

    async def read_paced(self, body: Any) -> bytes:
        """All of a response ``body`` (aiobotocore's stream), :data:`PACED_CHUNK` at a time,
        each chunk paid for as it arrives."""
        chunks = []
        while chunk := await body.read(PACED_CHUNK):
            chunks.append(chunk)
            await self.wait_async(len(chunk))
        return b"".join(chunks)


def parse_rate(text: str) -> float | None:
    """Bytes per second from ``50MB/s``, ``1.5GiB/s``, ``800kB``, ``2000000`` (decimal units
    are powers of 1,000, binary ones of 1,024); None when ``text`` is no such rate."""
    match = _RATE.fullmatch(text.strip())
    if not match or match.group(2).lower() not in _UNITS:
        return None
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


_limit: list[BandwidthLimit | None] = []  # [] until read: the variable is read once a process


def s3_limit() -> BandwidthLimit | None:
    """This process's cap from ``HEADWATER_S3_MAX_BANDWIDTH``; None when it is unset."""
    if not _limit:
        _limit.append(_from_environment())
    return _limit[0]


def _from_environment() -> BandwidthLimit | None:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    rate = parse_rate(raw)
    if rate is None or rate < _MIN_RATE:
        from headwater.exceptions import SettingError  # lazily: only a bad value needs it

        why = "is below 1 kB/s" if rate is not None else "is not a rate of bytes per second"
        raise SettingError(
            f"{ENV_VAR}={raw[:40]!r} {why}",
            fix=f"set {ENV_VAR} to a rate such as 50MB/s, 1.5GiB/s or 800kB/s (decimal units "
            "count 1,000, binary ones 1,024; a bare number is bytes per second), or unset it "
            "for no cap")
    return BandwidthLimit(rate)


def _forget_in_child() -> None:
    # A forked task starts with a fresh bucket (and a lock no other thread can be holding).
    _limit.clear()


os.register_at_fork(after_in_child=_forget_in_child)
