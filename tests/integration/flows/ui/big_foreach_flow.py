"""A foreach of 2,000 tasks whose join waits for GATE_DIR/join: a page can open on the big run
while it is still running."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, step


class BigForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(2000))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        gate = Path(os.environ["GATE_DIR"]) / "join"
        deadline = time.monotonic() + 300
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigForeachFlow()
