"""Runs a flow file (a resume) with tracemalloc on: prints what is traced once the resume plan
is made, and the peak when ``Scheduler.run`` returns.

Usage: ``python resprobe.py flow.py resume``. Tracing starts before headwater is imported, so
the import below is deliberately late.
"""

import resource
import runpy
import sys
import tracemalloc

tracemalloc.start()

from headwater.runtime import resume, scheduler  # noqa: E402  (traced from the start)

_plan_init = resume.ResumePlan.__init__
_run = scheduler.Scheduler.run


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}MB"


def traced_plan_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``ResumePlan.__init__``, then what is traced once the plan is made."""
    _plan_init(self, *args, **kwargs)
    now, peak = tracemalloc.get_traced_memory()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stderr.write(f"PROBE after plan init: traced {_mb(now)} peak {_mb(peak)} "
                     f"rss {rss:.0f}MB\n")


def traced_run(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``Scheduler.run``, then the traced peak."""
    try:
        return _run(self, *args, **kwargs)
    finally:
        now, peak = tracemalloc.get_traced_memory()
        sys.stderr.write(f"PROBE end: traced {_mb(now)} peak {_mb(peak)}\n")


if __name__ == "__main__":
    resume.ResumePlan.__init__ = traced_plan_init
    scheduler.Scheduler.run = traced_run
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
