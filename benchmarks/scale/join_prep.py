"""Phase A: store the 100,000 parents of FeFlow/1/join as the scheduler does (Arrivals)."""
import json
import os

from headwater.meta import open_metadata
from headwater.records import ParentRef
from headwater.runtime.join_parents import Arrivals
from headwater.store import open_datastore

root = os.path.abspath(".headwater")
meta = open_metadata(os.path.join(root, "meta.sqlite"))
manifests = meta.get_step_artifacts("FeFlow", "1", "work")
with open_datastore(root) as store:
    arrivals = Arrivals(store)
    for row in meta.list_tasks("FeFlow", "1", "work"):
        arrivals.add(row.frames[-1].index, ParentRef("work", row.task_id, manifests[row.task_id], row.frames))
    stubs, keys = arrivals.parents()
run = meta.get_run("FeFlow", "1")
json.dump({"keys": keys, "params": run.params_json}, open("join-keys.json", "w"))
print(len(stubs), len(keys))
