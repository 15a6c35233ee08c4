"""A run whose tasks end in the order the test chooses, while a sorted task list is open: a
four-task foreach, task ``i`` held until the file ``$GATE_DIR/done-i`` exists."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, step


def wait_for(name: str) -> None:
    gate = Path(os.environ["GATE_DIR"]) / name
    deadline = time.monotonic() + 240
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class SortedLiveFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        wait_for(f"done-{self.input}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SortedLiveFlow()
