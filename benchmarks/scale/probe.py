"""Runs a flow file as ``python flow.py ...`` would, and reports the CPU time and peak RSS of
the scheduler (``Scheduler.run``) when it returns; ``PROBE_PROF=FILE`` saves a cProfile of it.

Usage: ``python probe.py flow.py run --n 10000``.
"""

import cProfile
import os
import resource
import runpy
import sys
import time

from headwater.runtime import scheduler

_run = scheduler.Scheduler.run
PROFILE_FILE = os.environ.get("PROBE_PROF")


def timed_run(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``Scheduler.run``, measured."""
    cpu, wall = time.process_time(), time.time()
    profile = cProfile.Profile() if PROFILE_FILE else None
    if profile:
        profile.enable()
    try:
        return _run(self, *args, **kwargs)
    finally:
        if profile:
            profile.disable()
            profile.dump_stats(PROFILE_FILE)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sys.stderr.write(f"PROBE Scheduler.run cpu {time.process_time() - cpu:.2f}s "
                         f"wall {time.time() - wall:.2f}s sched maxrss {peak:.1f} MB\n")


if __name__ == "__main__":
    scheduler.Scheduler.run = timed_run
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
