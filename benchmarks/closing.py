"""The end of a foreach run in the scheduler, headwater trees side by side: from the last task's
exit handled to the process leaving, in milliseconds of wall time.

    python benchmarks/closing.py ROUNDS NAME=SRC [NAME=SRC ...]

As ``scheduler_cpu.py`` (same flow and arguments, a fresh folder per run, the order of the trees
reversed every other round, one untimed warm-up each, ``HWBENCH_HEADWATER_PYTHON``), with time
stamps taken in the scheduler: when ``Scheduler._loop`` returns (the last task's exit handled),
around the metadata file's close (its closing checkpoint) and the executor's ``close`` (the
fork servers reaped), and at ``exit_process``. Printed per tree: the medians of the whole end
(loop done -> exit), of the metadata file's close and of the executor's close. The process
runs under ``runpy`` here, so it leaves through ``sys.exit``; only the moments before
``exit_process`` are compared.
"""

from __future__ import annotations

import sys

from task_faults import interleaved_medians, probed_run

# Run in the scheduler's interpreter: time stamps around the end of the run, written at exit.
_PROBE = """
import os, runpy, sys, time
from headwater.cli import process_exit
from headwater.meta import sqlite_conn
from headwater.runtime import scheduler
from headwater.runtime.executors.local import executor
marks = {}
def stamped(owner, name, label):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        marks.setdefault(label + " in", time.perf_counter())
        try:
            return original(*args, **kwargs)
        finally:
            marks.setdefault(label + " out", time.perf_counter())
    setattr(owner, name, wrapper)
stamped(scheduler.Scheduler, "_loop", "loop")
stamped(sqlite_conn.SQLiteConnections, "close", "meta close")
stamped(executor.LocalExecutor, "close", "executor close")
leave = process_exit.exit_process
def exit_process(*args, **kwargs):
    marks["exit"] = time.perf_counter()
    with open(os.environ["HWBENCH_OUT"], "w") as out:
        ms = lambda a, b: (marks[b] - marks[a]) * 1000
        out.write(f"{ms('loop out', 'exit')} {ms('meta close in', 'meta close out')} "
                  f"{ms('executor close in', 'executor close out')}")
    return leave(*args, **kwargs)
process_exit.exit_process = exit_process
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_once(python: str, src: str) -> tuple[float, float, float]:
    """One run in a fresh folder: (loop done -> exit, metadata close, executor close), ms."""
    end, meta, executor = probed_run(python, src, _PROBE, "hw-closing-")
    return float(end), float(meta), float(executor)


def main(argv: list[str]) -> None:
    for name, (end, meta, executor) in interleaved_medians(argv, __doc__, run_once).items():
        print(f"{name}: last task handled -> exit {end:.1f} ms, metadata file closed in "
              f"{meta:.1f} ms, executor closed in {executor:.1f} ms ({int(argv[0])} runs)")


if __name__ == "__main__":
    main(sys.argv[1:])
