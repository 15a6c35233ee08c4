"""A run a page can watch step by step: ``start`` waits for GATE_DIR/one, the three ``work``
tasks for GATE_DIR/two, then item 1 fails."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, step


def wait_for(name: str) -> None:
    gate = Path(os.environ["GATE_DIR"]) / name
    deadline = time.monotonic() + 180
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class GatedFailFlow(FlowSpec):
    @step
    def start(self):
        wait_for("one")
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        wait_for("two")
        if self.input == 1:
            raise RuntimeError("item 1 gave up")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GatedFailFlow()
