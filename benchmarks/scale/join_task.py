"""Phase B: run the join task of FeFlow with its 100,000 stored parents, in this process.
Prints wall, CPU and this process's peak RSS; JPROF=FILE saves a cProfile of the task."""
import json, os, resource, sys, time
sys.argv = ["fe.py"]
import runpy
ns = runpy.run_path("fe.py", run_name="fe")
from headwater.graph import check_flow
from headwater.meta.codec import load_manifest
from headwater.records import TaskSpec
from headwater.runtime.join_parents import PARENTS_KEYS
from headwater.runtime.task import execute_task
from headwater.store import open_datastore
cls = ns["FeFlow"]
graph = check_flow(cls)
info = json.load(open("join-keys.json"))
spec = TaskSpec("FeFlow", "1", "join", "100003", 0, [], load_manifest(info["params"]), (),
                is_join=True, extra={PARENTS_KEYS: info["keys"]})
prof = None
if os.environ.get("JPROF"):
    import cProfile; prof = cProfile.Profile()
with open_datastore(os.path.abspath(".headwater")) as store:
    w, c = time.time(), time.process_time()
    if prof: prof.enable()
    result = execute_task(cls, graph, spec, store)
    if prof: prof.disable(); prof.dump_stats(os.environ["JPROF"])
    w, c = time.time() - w, time.process_time() - c
assert result.ok, result.failure
print(f"join task: {w:.2f} s wall, {c:.2f} s cpu, maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB, {len(result.manifest)} artifacts")
