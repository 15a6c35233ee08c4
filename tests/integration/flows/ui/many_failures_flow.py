"""Twelve foreach tasks that all wait for GATE_DIR/fail, then all fail: more failed tasks than a
run's page names (ten), so it links to the list of all of them."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, step


class ManyFailuresFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(12))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        gate = Path(os.environ["GATE_DIR"]) / "fail"
        deadline = time.monotonic() + 180
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if gate.exists():
            raise RuntimeError(f"item {self.input} failed on purpose")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ManyFailuresFlow()
