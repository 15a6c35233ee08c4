"""A run that outgrows the first page of its task list while a page is open: a 105-task
foreach, a step held by the file ``$GATE_DIR/hold``, then three more tasks held by
``$GATE_DIR/more`` (so they appear while the run still runs)."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, step


def wait_for(name: str) -> None:
    gate = Path(os.environ["GATE_DIR"]) / name
    deadline = time.monotonic() + 180
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class GrowingFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(105))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.hold)

    @step
    def hold(self):
        wait_for("hold")
        self.more = ["a", "b", "c"]
        self.next(self.late, foreach="more")

    @step
    def late(self):
        wait_for("more")
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GrowingFlow()
