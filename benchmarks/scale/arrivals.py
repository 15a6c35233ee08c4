"""The scheduler's side of a wide join: `Arrivals` storing the 100,000 parents of FeFlow/1/join
(read from the run's metadata first), CPU time only."""
import os, time
from headwater.meta import open_metadata
from headwater.store import open_datastore
from headwater.records import ParentRef
from headwater.runtime.join_parents import Arrivals
root = os.path.abspath(".headwater")
meta = open_metadata(os.path.join(root, "meta.sqlite"))
manifests = meta.get_step_artifacts("FeFlow", "1", "work")
parents = [ParentRef("work", r.task_id, dict(manifests[r.task_id]), r.frames) for r in meta.list_tasks("FeFlow", "1", "work")]
with open_datastore(root) as store:
    c = time.process_time()
    a = Arrivals(store)
    for p in parents: a.add(p.frames[-1].index, p)
    a.parents()
    print(f"Arrivals of 100,000 parents: {time.process_time()-c:.2f} s cpu")
