"""A flow for the web UI's tests: a foreach, artifacts of several kinds, and a step that can wait
for a file the test creates (``--gate PATH``), so a page can watch it run."""

import time
from pathlib import Path

from headwater import FlowSpec, Parameter, step


class UIFlow(FlowSpec):
    gate = Parameter("gate", help="A file the wait step waits for (none: it does not wait)",
                     default="")

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.greeting = "hello from start"
        self.raw = b"\x00\x01 raw bytes"
        self.table = {"rows": [[1, "a"], [2, "b"]]}
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input ** 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.wait)

    @step
    def wait(self):
        print("waiting for the gate", flush=True)
        if self.gate:
            deadline = time.monotonic() + 180
            while not Path(self.gate).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        print("the gate opened", flush=True)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    UIFlow()
