"""Runs a flow file (a resume) with tracemalloc on: prints what is traced once the resume plan
is made, and the peak when `Scheduler.run` returns."""
import os, runpy, sys, tracemalloc, resource
tracemalloc.start()
from headwater.runtime import resume
R = resume.ResumePlan
init = R.__init__
def mb(x): return f"{x/1e6:.1f}MB"
def i2(self, *a, **k):
    init(self, *a, **k)
    c, p = tracemalloc.get_traced_memory()
    sys.stderr.write(f"PROBE after plan init: traced {mb(c)} peak {mb(p)} rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f}MB\n")
R.__init__ = i2
import atexit
def fin():
    c, p = tracemalloc.get_traced_memory()
    sys.stderr.write(f"PROBE end: traced {mb(c)} peak {mb(p)}\n")
from headwater.runtime import scheduler
run = scheduler.Scheduler.run
def r2(self, *a, **k):
    try: return run(self, *a, **k)
    finally: fin()
scheduler.Scheduler.run = r2
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
