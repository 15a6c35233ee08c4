"""Lists every task of step ``work`` of FeFlow/1 through the client (run in the folder of a
100,000-item ``fe.py`` run); prints wall and CPU time of the listing and the peak RSS."""

import resource
import time

from headwater import Flow, namespace


def main() -> None:
    namespace(None)
    step = Flow("FeFlow")["1"]["work"]
    wall, cpu = time.time(), time.process_time()
    tasks = list(step.tasks())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"list {len(tasks)} tasks: {time.time() - wall:.2f} s wall, "
          f"{time.process_time() - cpu:.2f} s cpu, maxrss {peak:.0f} MB")


if __name__ == "__main__":
    main()
