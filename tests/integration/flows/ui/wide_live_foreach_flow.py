"""A foreach of 700 tasks (``WIDTH`` in the environment) held twice: every work task waits for
GATE_DIR/work, the join for GATE_DIR/join (writing GATE_DIR/join-started first), so a test can
open pages on the run while its tasks run, then let hundreds of them end at once."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, step


def _wait_for(name: str) -> None:
    gate = Path(os.environ["GATE_DIR"]) / name
    deadline = time.monotonic() + 600
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class WideForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ.get("WIDTH", "700"))))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        _wait_for("work")
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        (Path(os.environ["GATE_DIR"]) / "join-started").touch()
        _wait_for("join")
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideForeachFlow()
