"""The scheduler's own CPU on a foreach over 100 items, headwater trees side by side.

    python benchmarks/scheduler_cpu.py ROUNDS NAME=SRC [NAME=SRC ...]

As ``task_faults.py`` (same flow and arguments, a fresh folder per run, the order of the trees
reversed every other round, one untimed warm-up each, ``HWBENCH_HEADWATER_PYTHON``), but it
measures only the scheduler process, not its fork servers and tasks: ``Scheduler.run``'s CPU
(``time.process_time`` around it: the per-task work, start-up excluded) and the whole
process's CPU and minor faults (``RUSAGE_SELF`` at exit). Printed per tree: the medians.
"""

from __future__ import annotations

import sys

from task_faults import interleaved_medians, probed_run

# Run in the scheduler's interpreter: time Scheduler.run, then report at exit.
_PROBE = """
import atexit, os, resource, runpy, sys, time
from headwater.runtime import scheduler
me, spent, run = os.getpid(), [0.0], scheduler.Scheduler.run
def timed(self, *args, **kwargs):
    began = time.process_time()
    try:
        return run(self, *args, **kwargs)
    finally:
        spent[0] = time.process_time() - began
def report():
    if os.getpid() == me:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(os.environ["HWBENCH_OUT"], "w") as out:
            out.write(f"{spent[0]} {usage.ru_utime + usage.ru_stime} {usage.ru_minflt}")
scheduler.Scheduler.run = timed
atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_once(python: str, src: str) -> tuple[float, float, int]:
    """One run in a fresh folder: (Scheduler.run CPU, process CPU, minor faults)."""
    run_cpu, cpu, faults = probed_run(python, src, _PROBE, "hw-sched-")
    return float(run_cpu), float(cpu), int(faults)


def main(argv: list[str]) -> None:
    for name, (run_cpu, cpu, faults) in interleaved_medians(argv, __doc__, run_once).items():
        print(f"{name}: Scheduler.run CPU {run_cpu:.4f} s, scheduler process CPU {cpu:.3f} s, "
              f"minor faults {faults:.0f} ({int(argv[0])} runs)")


if __name__ == "__main__":
    main(sys.argv[1:])
