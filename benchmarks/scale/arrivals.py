"""The scheduler's side of a wide join: ``Arrivals`` storing the 100,000 parents of
FeFlow/1/join (read from the run's metadata first). Prints CPU time only."""

import os
import time

from headwater.meta import open_metadata
from headwater.records import ParentRef
from headwater.runtime.join_parents import Arrivals
from headwater.store import open_datastore


def main() -> None:
    root = os.path.abspath(".headwater")
    meta = open_metadata(os.path.join(root, "meta.sqlite"))
    manifests = meta.get_step_artifacts("FeFlow", "1", "work")
    parents = [ParentRef("work", row.task_id, dict(manifests[row.task_id]), row.frames)
               for row in meta.list_tasks("FeFlow", "1", "work")]
    with open_datastore(root) as store:
        began = time.process_time()
        arrivals = Arrivals(store)
        for parent in parents:
            arrivals.add(parent.frames[-1].index, parent)
        arrivals.parents()
        print(f"Arrivals of {len(parents):,} parents: {time.process_time() - began:.2f} s cpu")


if __name__ == "__main__":
    main()
