"""Lists every task of step `work` of FeFlow/1 through the client (run in the folder of a
100,000-item `fe.py` run); prints wall and CPU time of the listing and the peak RSS."""
import resource, sys, time
t0 = time.time()
from headwater import Flow, namespace
namespace(None)
step = Flow("FeFlow")["1"]["work"]
t = time.time(); c = time.process_time()
tasks = list(step.tasks())
print(f"list {len(tasks)} tasks: {time.time()-t:.2f} s wall, {time.process_time()-c:.2f} s cpu, maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB")
