"""A flow whose ``work`` step waits at a gate, so a test can act on the metadata mid-run.

With ``GATE`` set (a file path), ``work`` prints ``READY pid=...`` and waits until that file
exists, then finishes. Without it (as under ``resume``), it runs straight through.
"""

import os
import time

from headwater import FlowSpec, step


class GateFlow(FlowSpec):
    @step
    def start(self):
        self.made = "made by start"
        self.next(self.work)

    @step
    def work(self):
        gate = os.environ.get("GATE")
        if gate:
            print(f"READY pid={os.getpid()}", flush=True)
            deadline = time.monotonic() + 900  # the test opens the gate long before
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.result = "made by work"
        self.next(self.end)

    @step
    def end(self):
        print("end read:", self.made, "/", self.result)


if __name__ == "__main__":
    GateFlow()
