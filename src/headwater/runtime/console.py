"""What a run prints: a header, one timestamped line per task event, task output, a closing line.

The format follows what Metaflow users read every day::

    2026-11-23 10:00:00.123 [3/start/1 (pid 4242)] Task is starting.
    2026-11-23 10:00:00.150 [3/start/1 (pid 4242)] hello from the step
    2026-11-23 10:00:00.170 [3/start/1 (pid 4242)] Task finished successfully.

Task output is split into whole lines as it arrives (a partial line waits for its newline, or for
the task's end), so lines from parallel tasks never interleave mid-line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"


class Console:
    """Writes run progress; ``quiet`` keeps only errors and the closing line."""

    def __init__(self, out: TextIO | None = None, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.quiet = quiet
        self._partial: dict[tuple[str, str], bytes] = {}

    def say(self, text: str = "", *, always: bool = False) -> None:
        if always or not self.quiet:
            self.out.write(text + "\n")
            self.out.flush()

    def task_line(self, prefix: str, text: str, *, always: bool = False) -> None:
        if always or not self.quiet:
            self.say(f"{_stamp()} [{prefix}] {text}", always=True)

    def task_output(self, prefix: str, key: str, stream: str, data: bytes, *,
                    always: bool = False) -> None:
        """Print the complete lines in ``data``; keep a trailing partial line for later."""
        buffered = self._partial.pop((key, stream), b"") + data
        *lines, rest = buffered.split(b"\n")
        if rest:
            self._partial[(key, stream)] = rest
        if self.quiet and not always:
            return
        stamp = _stamp()
        chunk = "".join(
            f"{stamp} [{prefix}] {line.decode('utf-8', 'replace').rstrip(chr(13))}\n"
            for line in lines
        )
        if chunk:
            self.out.write(chunk)
            self.out.flush()

    def flush_task(self, prefix: str, key: str) -> None:
        """Print what is left of a task's partial lines once it has exited."""
        for stream in ("stdout", "stderr"):
            rest = self._partial.pop((key, stream), b"")
            if rest:
                self.task_output(prefix, key, stream, rest + b"\n")
