"""A flow for the remote backends' faults: ``work`` waits at a gate, then stores a blob.

With ``GATE`` set (a file path), ``work`` prints ``READY pid=...`` and waits until that file
exists; then it stores ``result`` (4 KiB: over the inline limit, so a blob in the datastore).
Without it (as under ``resume``) it runs straight through. ``end`` reads both steps' blobs.
"""

import os
import time

from headwater import FlowSpec, step


class RemoteGateFlow(FlowSpec):
    @step
    def start(self):
        self.made = "made by start|" + "s" * 4096
        self.next(self.work)

    @step
    def work(self):
        gate = os.environ.get("GATE")
        if gate:
            print(f"READY pid={os.getpid()}", flush=True)
            deadline = time.monotonic() + 900  # the test opens the gate long before
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.result = "made by work|" + "w" * 4096
        self.next(self.end)

    @step
    def end(self):
        print("end read:", self.made[:13], "/", self.result[:12])


if __name__ == "__main__":
    RemoteGateFlow()
