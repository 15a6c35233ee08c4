"""Run one command as a fresh process; measure its wall time and its memory.

Two memory figures are taken for every process, because neither alone answers "how much memory
did the scheduler need":

* ``scheduler_peak_kb``: the ``VmHWM`` (peak resident set) of the launched process itself, read
  from ``/proc/<pid>/status`` every 20 ms by a sampler thread. For ``python flow.py run`` that
  process is the scheduler of both systems; its tasks are other processes and are not included.
  VmHWM is a high-water mark, so sampling only misses growth in the last 20 ms before exit.
* ``tree_max_rss_kb``: ``ru_maxrss`` from ``wait4()`` of that process, which Linux defines as the
  largest peak RSS of the process *or any one descendant it reaped*. It is the biggest single
  process of the run, not the sum of all of them.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_EVERY_S = 0.02


@dataclass(frozen=True)
class Sample:
    """One measured process."""

    seconds: float
    returncode: int
    scheduler_peak_kb: int | None
    tree_max_rss_kb: int | None
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _read_hwm_kb(pid: int) -> int | None:
    """The VmHWM of ``pid`` in KiB, or None once the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return None


class _PeakSampler(threading.Thread):
    """Polls one process's VmHWM until told to stop; keeps the last (largest) value."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb: int | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            value = _read_hwm_kb(self.pid)
            if value is not None:
                self.peak_kb = max(value, self.peak_kb or 0)
            self._stop_event.wait(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def measure(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path) -> Sample:
    """Run ``argv`` to completion with stdout and stderr in ``log``; time and measure it."""
    with open(log, "ab") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        sampler = _PeakSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, not by Popen
    return Sample(seconds, proc.returncode, sampler.peak_kb, usage.ru_maxrss, log)


class LoadWatch(threading.Thread):
    """Samples the 1-minute load average every ``every_s`` seconds while the benchmarks run,
    to show in the report how busy the machine was (other jobs make every figure slower)."""

    def __init__(self, every_s: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.every_s = every_s
        self.values: list[float] = [os.getloadavg()[0]]
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            self.values.append(os.getloadavg()[0])

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def summary(self) -> str:
        ordered = sorted(self.values)
        median = ordered[len(ordered) // 2]
        return (f"{ordered[0]:.1f} min, {median:.1f} median, {ordered[-1]:.1f} max "
                f"(1-minute load average, sampled every {self.every_s:.0f} s)")


def run_quietly(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                log: Path) -> int:
    """Run a setup command (not measured) with its output in ``log``; return its exit code."""
    with open(log, "ab") as out:
        return subprocess.run(list(argv), cwd=cwd, env=dict(env), stdout=out,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              check=False).returncode


def tail(path: Path | None, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])
