"""Phase B: run the join task of FeFlow with its 100,000 stored parents, in this process.

Prints wall, CPU and this process's peak RSS; ``JPROF=FILE`` saves a cProfile of the task.
Run it in the folder where ``join_prep.py`` wrote ``join-keys.json``.
"""

import cProfile
import json
import os
import resource
import runpy
import sys
import time

from headwater.graph import check_flow
from headwater.meta.codec import load_manifest
from headwater.records import TaskSpec
from headwater.runtime.join_parents import PARENTS_KEYS
from headwater.runtime.task import execute_task
from headwater.store import open_datastore


def main() -> None:
    sys.argv = ["fe.py"]
    flow_class = runpy.run_path("fe.py", run_name="fe")["FeFlow"]
    graph = check_flow(flow_class)
    with open("join-keys.json", encoding="utf-8") as keys:
        info = json.load(keys)
    spec = TaskSpec("FeFlow", "1", "join", "100003", 0, [], load_manifest(info["params"]), (),
                    is_join=True, extra={PARENTS_KEYS: info["keys"]})
    profile = cProfile.Profile() if os.environ.get("JPROF") else None
    with open_datastore(os.path.abspath(".headwater")) as store:
        wall, cpu = time.time(), time.process_time()
        if profile:
            profile.enable()
        result = execute_task(flow_class, graph, spec, store)
        if profile:
            profile.disable()
            profile.dump_stats(os.environ["JPROF"])
        wall, cpu = time.time() - wall, time.process_time() - cpu
    assert result.ok, result.failure
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"join task: {wall:.2f} s wall, {cpu:.2f} s cpu, maxrss {peak:.0f} MB, "
          f"{len(result.manifest)} artifacts")


if __name__ == "__main__":
    main()
