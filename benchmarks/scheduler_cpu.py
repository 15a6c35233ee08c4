"""The scheduler's own CPU on a foreach over 100 items, headwater trees side by side.

    python benchmarks/scheduler_cpu.py ROUNDS NAME=SRC [NAME=SRC ...]

As ``task_faults.py`` (same flow and arguments, a fresh folder per run, the order of the trees
reversed every other round, one untimed warm-up each, ``HWBENCH_HEADWATER_PYTHON``), but it
measures only the scheduler process, not its fork servers and tasks: ``Scheduler.run``'s CPU
(``time.process_time`` around it: the per-task work, start-up excluded) and the whole
process's CPU and minor faults (``RUSAGE_SELF`` at exit). Printed per tree: the medians.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from task_faults import ARGS, FLOW

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
    folder = tempfile.mkdtemp(prefix="hw-sched-")
    shutil.copy(FLOW, folder)
    out = os.path.join(folder, "probe")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHON"))}
    env.update(PYTHONPATH=src, METAFLOW_DATASTORE_SYSROOT_LOCAL=folder, USERNAME="bench",
               METAFLOW_USER="bench", METAFLOW_HOME=folder, HWBENCH_OUT=out)
    with open(os.path.join(folder, "log"), "wb") as log:
        done = subprocess.run([python, "-c", _PROBE, *ARGS], cwd=folder, env=env,
                              stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        with open(os.path.join(folder, "log")) as f:
            sys.exit(f"run of {src} failed, its output:\n{f.read()}")
    with open(out) as f:
        run_cpu, cpu, faults = f.read().split()
    shutil.rmtree(folder)
    return float(run_cpu), float(cpu), int(faults)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not all("=" in a for a in argv[1:]):
        sys.exit(__doc__)
    rounds = int(argv[0])
    trees = {name: os.path.abspath(src) for name, src in (a.split("=", 1) for a in argv[1:])}
    python = os.environ.get("HWBENCH_HEADWATER_PYTHON", sys.executable)
    samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in trees}
    for src in trees.values():
        run_once(python, src)
    for n in range(rounds):
        order = list(trees.items())
        for name, src in order if n % 2 == 0 else reversed(order):
            samples[name].append(run_once(python, src))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    for name, runs in samples.items():
        run_cpu, cpu, faults = (statistics.median(col) for col in zip(*runs, strict=True))
        print(f"{name}: Scheduler.run CPU {run_cpu:.4f} s, scheduler process CPU {cpu:.3f} s, "
              f"minor faults {faults:.0f} ({len(runs)} runs)")


if __name__ == "__main__":
    main(sys.argv[1:])
