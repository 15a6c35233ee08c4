"""@timeout: ``slow`` hangs on its first attempt, with a child process of its own, and is stopped.

The first attempt starts ``sleep 1000`` (a grandchild in the task's process group), prints
``READY <pgid>`` and sleeps. The limit stops the whole group; @retry runs the step again and
the second attempt finishes at once. ``SLOW_ATTEMPTS`` (default 1) is how many attempts hang.
"""

import os
import subprocess
import time

from headwater import FlowSpec, current, retry, step, timeout


class TimeoutFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow)

    @timeout(seconds=1)
    @retry(times=1, minutes_between_retries=0)
    @step
    def slow(self):
        if current.retry_count < int(os.environ.get("SLOW_ATTEMPTS", "1")):
            child = subprocess.Popen(["sleep", "1000"])
            print(f"READY pgid={os.getpgid(0)} child={child.pid}", flush=True)
            time.sleep(1000)
        self.finished_on = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        print("slow finished on attempt", self.finished_on)


if __name__ == "__main__":
    TimeoutFlow()
