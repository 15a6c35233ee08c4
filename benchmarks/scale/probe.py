"""Runs a flow file as `python flow.py ...` would, and reports the CPU time and peak RSS of
the scheduler (`Scheduler.run`) when it returns; PROBE_PROF=FILE saves a cProfile of it."""
import cProfile, os, resource, runpy, sys, time, pstats
from headwater.runtime import scheduler
run = scheduler.Scheduler.run
PROF = os.environ.get("PROBE_PROF")
def timed(self, *args, **kwargs):
    began = time.process_time(); w0 = time.time()
    prof = cProfile.Profile() if PROF else None
    if prof: prof.enable()
    try:
        return run(self, *args, **kwargs)
    finally:
        if prof:
            prof.disable(); prof.dump_stats(PROF)
        u = resource.getrusage(resource.RUSAGE_SELF)
        sys.stderr.write(f"PROBE Scheduler.run cpu {time.process_time()-began:.2f}s wall {time.time()-w0:.2f}s sched maxrss {u.ru_maxrss/1024:.1f} MB\n")
scheduler.Scheduler.run = timed
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
