"""A task's stored output, with the time each line was printed.

The scheduler stamps each line when its first byte reaches it (live, as the task prints) and
stores the log as one blob: a short header giving those times, then the output exactly as
printed. Logs stored before the header existed are plain output; :func:`decode` reads both, so
old runs keep their logs (their lines carry no time of their own).

Header: the marker ``\\x00hwlog1\\n``, then one line of JSON ``{"t0": seconds since the epoch,
"ms": [milliseconds after t0, one per line]}``.
"""

from __future__ import annotations

import json

from headwater.records import Factory, Record

MARKER = b"\x00hwlog1\n"


class LineClock(Record):
    """Times of the lines of one stream, fed the chunks as they arrive."""

    times: list[float] = Factory(list)
    _at_line_start: bool = True

    def feed(self, chunk: bytes, now: float) -> None:
        """Stamp each line that begins in ``chunk`` with ``now``."""
        if not chunk:
            return
        starts = chunk.count(b"\n", 0, len(chunk) - 1) + (1 if self._at_line_start else 0)
        self.times.extend([now] * starts)
        self._at_line_start = chunk.endswith(b"\n")


def encode(output: bytes, times: list[float]) -> bytes:
    """The blob to store: the header with ``times``, then ``output`` unchanged."""
    if not times:
        return output
    t0 = times[0]
    header = json.dumps({"t0": t0, "ms": [round((t - t0) * 1000) for t in times]},
                        separators=(",", ":"))
    return MARKER + header.encode() + b"\n" + output


def decode(blob: bytes) -> tuple[bytes, list[float]]:
    """``(output, line times)`` of a stored log; no times for a log stored without them."""
    if not blob.startswith(MARKER):
        return blob, []
    end = blob.find(b"\n", len(MARKER))
    if end < 0:
        return blob, []
    try:
        header = json.loads(blob[len(MARKER):end])
        t0 = float(header["t0"])
        times = [t0 + ms / 1000 for ms in header["ms"]]
    except (ValueError, KeyError, TypeError):
        return blob, []
    return blob[end + 1:], times
