"""A flow for running out of things: a foreach ``WIDTH`` wide whose items each store ``CHUNK``
random bytes (so a small disk fills up part way), and whose item 0 can run out of memory.

``HOG=1``: item 0 allocates without end (a ``MemoryError`` under ``ulimit -v``).
``CGROUP=/sys/fs/cgroup/memory/X``: item 0 moves itself into that memory cgroup first, so the
kernel's out-of-memory killer stops it.
``GATE=FILE``: item 0 prints ``READY pid=N`` and waits until FILE exists. Without them (as under ``resume``) the flow runs through.
"""

import os
import time

from headwater import FlowSpec, step


class ExhaustFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ.get("WIDTH", "3"))))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        gate = os.environ.get("GATE")
        if gate and self.input == 0:  # a test acts while this waits, then opens the gate
            print(f"READY pid={os.getpid()}", flush=True)
            deadline = time.monotonic() + 900
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.input == 0 and os.environ.get("CGROUP"):
            with open(os.path.join(os.environ["CGROUP"], "cgroup.procs"), "w") as fh:
                fh.write(str(os.getpid()))
        if self.input == 0 and (os.environ.get("HOG") or os.environ.get("CGROUP")):
            hog = [bytearray(1 << 20) for _ in range(1 << 20)]  # a TiB, a MiB at a time
            print(len(hog))
        self.doubled = self.input * 2
        self.chunk = os.urandom(int(os.environ.get("CHUNK", "0")))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.doubled for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    ExhaustFlow()
