"""What the UI's foreach flows share, beside them (each flow imports it from its own folder):
the gate a step waits on, and the join and end that close a ``start -> work`` foreach."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, step


def wait_for(name: str) -> bool:
    """Wait until GATE_DIR/name exists (the test opens it), at most 180 s; whether it opened."""
    gate = Path(os.environ["GATE_DIR"]) / name
    deadline = time.monotonic() + 180
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return gate.exists()


class FanInFlow(FlowSpec):
    """A flow whose ``work`` foreach ends here: ``join``, then ``end``."""

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
